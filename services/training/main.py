"""The training service instance: curriculum, programmes, attendance, certification, compliance."""

from __future__ import annotations

from fastapi import APIRouter

from services.training.api import build_router
from services.training.commands import TrainingCommands
from services.training.curriculum import TrainingPolicy, load_policy
from services.training.handlers import TrainingReactions, publish_curriculum, review_worker
from services.training.read_model.projection import TrainingRecords
from shared.contracts.training import SERVICE
from shared.places import Places
from shared.runtime import ServiceContext, ServiceDefinition, ServiceInstance, Worker
from shared.subscriber import ProcessManager


class Training(ServiceInstance):
    def __init__(self, ctx: ServiceContext, policy: TrainingPolicy) -> None:
        super().__init__(ctx)
        self.policy = policy
        self.commands = TrainingCommands(ctx, policy)

    async def start(self) -> None:
        await publish_curriculum(self.ctx, self.policy)

    def process_managers(self) -> list[ProcessManager]:
        return TrainingReactions(self.ctx, self.policy).process_managers()

    def workers(self) -> list[Worker]:
        return [review_worker(self.ctx, self.policy)]

    def routes(self) -> APIRouter:
        return build_router(self.ctx, self.policy, self.commands)


def definition(policy: TrainingPolicy | None = None) -> ServiceDefinition:
    """The service on a given curriculum and rules (by default the files in ``data/``, read at start)."""

    def instance(ctx: ServiceContext) -> ServiceInstance:
        return Training(ctx, policy or load_policy())

    return ServiceDefinition(
        name=SERVICE,
        projections=lambda: [TrainingRecords(), Places(SERVICE)],
        reads=["routing"],
        instance=instance,
    )


service = definition()
