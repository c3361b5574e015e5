"""The AsyncAPI document of the events: every event type of every service, on its stream's subjects.

FastStream generates it from a broker that is only ever described, never connected: one publisher per
event type, whose payload schema is the event's pydantic model (the contract in
``services/<name>/events.py``). Served at ``/asyncapi.json`` to signed-in users and checked in as
``docs/asyncapi.json``.
"""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI

from shared.auth import PLATFORM_STAFF, Principal, require
from shared.events import Event

SERVICES = ("intake", "routing", "escalation", "training", "notifications", "users")
# Which aggregate's subject an event goes on, told by the key it carries (the modules' docstrings
# name the same subjects); intake and escalation have only cases, the user directory users and
# service numbers; a notification (which names its case) is its own aggregate.
AGGREGATE_BY_KEY = (
    ("notification_id", "notification"),
    ("programme_id", "programme"),
    ("case_id", "case"),
    ("service_number", "officer"),
    ("module_id", "module"),
)


def _event_classes(service: str) -> list[type[Event]]:
    module = importlib.import_module(f"shared.contracts.{service}")
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Event) and cls is not Event and cls.__module__ == module.__name__
    ]


def _subject(service: str, cls: type[Event]) -> str:
    if service in ("intake", "escalation"):
        return f"shakti.{service}.case.{{case_id}}"
    if service == "users":
        held = "service_number" in cls.model_fields and "username" in cls.model_fields
        return f"shakti.users.{'service-number.{service_number}' if held else 'user.{account_id}'}"
    for key, aggregate in AGGREGATE_BY_KEY:
        if key in cls.model_fields:
            return f"shakti.{service}.{aggregate}.{{{key}}}"
    return f"shakti.{service}.district.{{district}}"


def asyncapi_document() -> dict[str, Any]:
    broker = NatsBroker(description="Mission Shakti event streams (JetStream), one per service")
    for service in SERVICES:
        for cls in sorted(_event_classes(service), key=lambda c: c.event_type):
            broker.publisher(
                _subject(service, cls),
                title=f"{service.upper()}/{cls.event_type}",
                description=(
                    f"{cls.event_type} v{cls.schema_version} in stream {service.upper()}; the envelope "
                    "carries ids, versions, times and actor; headers Shakti-Event-Type, "
                    "Shakti-Schema-Version and Shakti-Aggregate-Version."
                ),
                schema=cls,
            )
    spec = AsyncAPI(
        broker,
        title="Mission Shakti events",
        version="0.1.0",
        description="The facts the four services own: the public contract between them.",
        schema_version="3.0.0",
    )
    document: dict[str, Any] = json.loads(spec.to_specification().to_json())
    return document


def asyncapi_text() -> str:
    """The document as checked in: keys sorted, so that it changes only when the contract does."""
    return json.dumps(asyncapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def mount_asyncapi(app: FastAPI) -> None:
    document = asyncapi_document()

    @app.get("/asyncapi.json", tags=["documentation"], include_in_schema=False)
    async def asyncapi(_: Annotated[Principal, Depends(require(PLATFORM_STAFF))]) -> JSONResponse:
        """For the platform's staff (not an agency desk), like ``/openapi.json``; checked in as
        ``docs/asyncapi.json``."""
        return JSONResponse(document)
