"""Wiring of the routing service: its read model, the duty board's feed, its process managers and routes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from services.routing.api import build_router
from services.routing.handlers import Dispatch
from services.routing.policy import RoutingPolicy
from services.routing.read_model import RoutingQueries, RoutingRegister
from shared.contracts.routing import SERVICE
from shared.runtime import ServiceContext, ServiceDefinition, Worker
from shared.subscriber import ProcessManager


def routing_service(policy: RoutingPolicy | None = None) -> ServiceDefinition:
    """The service definition; ``policy`` defaults to the environment's (``SHAKTI_ROUTING_*``)."""
    # One Dispatch (duty board and its feed) per running instance: replicas may share a process.
    dispatches: dict[int, Dispatch] = {}

    async def start(ctx: ServiceContext) -> None:
        dispatches[id(ctx)] = Dispatch(ctx, policy or RoutingPolicy())

    def process_managers(ctx: ServiceContext) -> list[ProcessManager]:
        return dispatches[id(ctx)].process_managers()

    def workers(ctx: ServiceContext) -> list[Worker]:
        dispatch = dispatches[id(ctx)]

        async def follow() -> None:
            try:
                await dispatch.feed.run()
            except asyncio.CancelledError:
                dispatches.pop(id(ctx), None)  # the instance is stopping
                raise

        return [follow]

    def routes(ctx: ServiceContext) -> APIRouter:
        return build_router(ctx, dispatches[id(ctx)], RoutingQueries(ctx.projector(RoutingRegister.name)))

    return ServiceDefinition(
        name=SERVICE,
        projections=lambda: [RoutingRegister()],
        reads=["intake", "training", "escalation"],
        process_managers=process_managers,
        workers=workers,
        routes=routes,
        on_start=start,
    )


service = routing_service()
