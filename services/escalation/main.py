"""Wiring of the escalation service (``services.escalation.main:service``): SOP clocks, breaches, ladder.

The policy file is read when the service starts (``SHAKTI_ESCALATION_POLICY``, else ``policy.yaml``
beside this module); a bad file stops the start with a message naming each wrong field.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts.escalation import SERVICE
from shared.runtime import ServiceContext, ServiceDefinition, Worker
from shared.subscriber import ProcessManager

from .api import build_router
from .handlers import CaseWatch
from .policy import DEFAULT_POLICY, Policy, load_policy
from .read_model import EscalationBoard
from .timers import DeadlineWorker

log = logging.getLogger(__name__)


class EscalationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAKTI_ESCALATION_", extra="ignore")

    policy: Path = DEFAULT_POLICY
    poll_seconds: float = 0.25
    """Longest the deadline worker sleeps before looking for checks added meanwhile."""


class Escalation:
    """The parts of a service definition that need the policy, which is read at start."""

    def __init__(self, policy_file: Path, poll_seconds: float) -> None:
        self.policy_file = policy_file
        self.poll_seconds = poll_seconds
        self._policy: Policy | None = None
        self.deadline_workers: list[DeadlineWorker] = []

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            raise RuntimeError("the escalation policy is read when the service starts")
        return self._policy

    async def start(self, ctx: ServiceContext) -> None:
        self._policy = load_policy(self.policy_file)
        log.info(
            "escalation policy %s (%s) from %s", self.policy.version, self.policy.status, self.policy_file
        )

    def process_managers(self, ctx: ServiceContext) -> list[ProcessManager]:
        return CaseWatch(ctx, self.policy).process_managers()

    def workers(self, ctx: ServiceContext) -> list[Worker]:
        worker = DeadlineWorker(ctx, self.policy, poll_seconds=self.poll_seconds)
        self.deadline_workers.append(worker)
        return [worker.run]

    def routes(self, ctx: ServiceContext) -> APIRouter:
        return build_router(ctx, self.policy)


def build_service(policy_file: Path | None = None, *, poll_seconds: float | None = None) -> ServiceDefinition:
    settings = EscalationSettings()
    return definition(Escalation(policy_file or settings.policy, poll_seconds or settings.poll_seconds))


def definition(escalation: Escalation) -> ServiceDefinition:
    return ServiceDefinition(
        name=SERVICE,
        projections=lambda: [EscalationBoard()],
        reads=["intake", "routing"],
        process_managers=escalation.process_managers,
        workers=escalation.workers,
        routes=escalation.routes,
        on_start=escalation.start,
    )


service = build_service()
