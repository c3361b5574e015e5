"""Wiring of the training service: curriculum, programmes, attendance, certification, compliance."""

from __future__ import annotations

from services.training.api import build_router
from services.training.curriculum import TrainingPolicy, load_policy
from services.training.handlers import process_managers, publish_curriculum, review_worker
from services.training.read_model import TrainingPlaces, TrainingRecords
from shared.contracts.training import SERVICE
from shared.runtime import ServiceContext, ServiceDefinition


def definition(policy: TrainingPolicy) -> ServiceDefinition:
    """The service on a given curriculum and rules (the files in ``data/`` for ``service``)."""

    async def on_start(ctx: ServiceContext) -> None:
        await publish_curriculum(ctx, policy)

    return ServiceDefinition(
        name=SERVICE,
        projections=lambda: [TrainingRecords(), TrainingPlaces()],
        reads=["routing"],
        process_managers=lambda ctx: process_managers(ctx, policy),
        workers=lambda ctx: [review_worker(ctx, policy)],
        routes=lambda ctx: build_router(ctx, policy),
        on_start=on_start,
    )


service = definition(load_policy())
