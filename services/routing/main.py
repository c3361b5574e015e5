"""The routing service instance: its read model, the duty board's feed, its process managers, its
commands and routes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from services.routing.api import build_router
from services.routing.commands import RoutingCommands
from services.routing.decisions import Decisions
from services.routing.handlers import Dispatch
from services.routing.policy import RoutingPolicy
from services.routing.read_model.projection import RoutingRegister
from services.routing.read_model.queries import RoutingQueries
from shared.contracts.routing import SERVICE
from shared.runtime import ServiceContext, ServiceDefinition, ServiceInstance, Worker
from shared.subscriber import ProcessManager


class Routing(ServiceInstance):
    def __init__(self, ctx: ServiceContext, policy: RoutingPolicy) -> None:
        super().__init__(ctx)
        self.decisions = Decisions(ctx, policy)
        self.dispatch = Dispatch(self.decisions, policy)
        self.commands = RoutingCommands(ctx, self.decisions)

    def process_managers(self) -> list[ProcessManager]:
        return self.dispatch.process_managers()

    def workers(self) -> list[Worker]:
        return [self.decisions.feed.run]

    def routes(self) -> APIRouter:
        queries = RoutingQueries(self.ctx.projector(RoutingRegister.name))
        return build_router(self.ctx, self.commands, self.decisions.board, queries)


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
