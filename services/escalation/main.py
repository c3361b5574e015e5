"""The escalation service instance (``services.escalation.main:service``): SOP clocks, breaches, ladder.

The policy file is read when the service starts (``SHAKTI_ESCALATION_POLICY``, else ``policy.yaml``
beside this module); a bad file stops the start with a message naming each wrong field.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.escalation.api import build_router
from services.escalation.commands import EscalationCommands
from services.escalation.handlers import CaseWatch
from services.escalation.policy import DEFAULT_POLICY, Policy, load_policy
from services.escalation.read_model.projection import EscalationBoard
from services.escalation.timers import DeadlineWorker
from shared.contracts.escalation import SERVICE
from shared.places import Places
from shared.runtime import ServiceContext, ServiceDefinition, ServiceInstance, Worker
from shared.subscriber import ProcessManager

log = logging.getLogger(__name__)


class EscalationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAKTI_ESCALATION_", extra="ignore")

    policy: Path = DEFAULT_POLICY
    poll_seconds: float = 0.25
    """Longest the deadline worker sleeps before looking for checks added meanwhile."""


class Escalation(ServiceInstance):
    def __init__(self, ctx: ServiceContext, policy: Policy, poll_seconds: float) -> None:
        super().__init__(ctx)
        self.policy = policy
        self.deadline_worker = DeadlineWorker(ctx, policy, poll_seconds=poll_seconds)
        self.commands = EscalationCommands(ctx, policy)

    def process_managers(self) -> list[ProcessManager]:
        return CaseWatch(self.ctx, self.policy).process_managers()

    def workers(self) -> list[Worker]:
        return [self.deadline_worker.run]

    def routes(self) -> APIRouter:
        return build_router(self.ctx, self.policy, self.commands)


def build_service(policy_file: Path | None = None, *, poll_seconds: float | None = None) -> ServiceDefinition:
    def instance(ctx: ServiceContext) -> ServiceInstance:
        # Read when the service starts, not when it is imported: `shakti up --demo` chooses the demo
        # policy after the command line is read.
        settings = EscalationSettings()
        source = policy_file or settings.policy
        poll = poll_seconds or settings.poll_seconds
        policy = load_policy(source)
        log.info("escalation policy %s (%s) from %s", policy.version, policy.status, source)
        return Escalation(ctx, policy, poll)

    return ServiceDefinition(
        name=SERVICE,
        projections=lambda: [EscalationBoard(), Places(SERVICE)],
        reads=["intake", "routing"],
        instance=instance,
    )


service = build_service()
