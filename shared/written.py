"""What a request wrote, so that whoever shows its result can wait for the read model to hold it.

A service's read models trail its streams by a batch, and by the projection's gathering window when one
is set. The web front sends a command, then redirects to a page that reads the read model: without a
wait, the officer who just closed a case could see it open. So every answer to a request that appended
events names the last stream sequence it wrote in each stream (``Shakti-Written: INTAKE:812``), and each
service answers ``GET /api/<service>/applied?stream=INTAKE&sequence=812`` once its read models that read
that stream have applied that far (or after a bounded wait, saying they have not); the web front asks
every service, since the page after a command may read another service's read model of the stream
written. Sequences carry no identity. Only answers of the services' API (``/api/``) name them: a page the
web front serves, even one whose showing a service records (the identity), names nothing to the browser.
"""

from __future__ import annotations

import contextvars
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "Shakti-Written"
_ENTRY = re.compile(r"^([A-Z][A-Z0-9_-]{0,63}):([0-9]{1,18})$")
_written: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar("written", default=None)


def note_written(stream: str, sequence: int) -> None:
    """Remember that this request stored an event at ``sequence`` of ``stream``. Outside any request (a
    process manager's reaction, a timer) there is no record and nobody waits."""
    written = _written.get()
    if written is not None and sequence > written.get(stream, 0):
        written[stream] = sequence


def header_value(written: dict[str, int]) -> str:
    return ",".join(f"{stream}:{sequence}" for stream, sequence in sorted(written.items()))


def parse(value: str | None) -> dict[str, int]:
    """The streams and sequences a ``Shakti-Written`` header names; anything malformed is left out."""
    written: dict[str, int] = {}
    for entry in (value or "").split(","):
        match = _ENTRY.match(entry.strip())
        if match:
            written[match[1]] = int(match[2])
    return written


class WrittenHeader:
    """Pure ASGI middleware: each request gets its own record of what it wrote, and an answer of the API
    names it.

    Every request gets a record, so that a page whose handling calls the API in process (the web front
    and the services in one app) never sees the record of the API's request, nor the API the page's. The
    record is a dict the request's tasks share (a context variable copied into a child task still points
    at it), so an append made anywhere in the request's handling is named."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        written: dict[str, int] = {}
        token = _written.set(written)
        named = str(scope["path"]).startswith("/api/")

        async def send_naming_writes(message: Message) -> None:
            if message["type"] == "http.response.start" and named and written:
                headers = list(message.get("headers", []))
                headers.append((HEADER.lower().encode(), header_value(written).encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_naming_writes)
        finally:
            _written.reset(token)
