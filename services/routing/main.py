"""The routing service instance: its read model, the duty board's feed, its process managers and routes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from services.routing.api import build_router
from services.routing.handlers import Dispatch
from services.routing.policy import RoutingPolicy
from services.routing.read_model import RoutingQueries, RoutingRegister
from shared.contracts.routing import SERVICE
from shared.runtime import ServiceContext, ServiceDefinition, ServiceInstance, Worker
from shared.subscriber import ProcessManager


class Routing(ServiceInstance):
    def __init__(self, ctx: ServiceContext, policy: RoutingPolicy) -> None:
        super().__init__(ctx)
        self.dispatch = Dispatch(ctx, policy)

    def process_managers(self) -> list[ProcessManager]:
        return self.dispatch.process_managers()

    def workers(self) -> list[Worker]:
        return [self.dispatch.feed.run]

    def routes(self) -> APIRouter:
        return build_router(self.ctx, self.dispatch, RoutingQueries(self.ctx.projector(RoutingRegister.name)))


def routing_service(policy: RoutingPolicy | None = None) -> ServiceDefinition:
    """The service definition; ``policy`` defaults to the environment's (``SHAKTI_ROUTING_*``)."""

    def instance(ctx: ServiceContext) -> Routing:
        return Routing(ctx, policy or RoutingPolicy())

    make: Callable[[ServiceContext], ServiceInstance] = instance
    return ServiceDefinition(
        name=SERVICE,
        projections=lambda: [RoutingRegister()],
        reads=["intake", "training", "escalation"],
        instance=make,
    )


service = routing_service()
