"""While the bus cannot store an event (a NATS node stopped and its streams electing a leader, the
server restarting), a command answers 503 with Retry-After and a bilingual message, never a bare 500:
a client, or a phone's offline queue, sends the same request again with the same Idempotency-Key, and
that key gives the first answer if the event was stored after all. Seen in the compose test: a
registration answered 500 "Internal Server Error" just after nats-2 was stopped."""

from __future__ import annotations

import httpx
import nats.errors
import nats.js.errors
import pytest
from fastapi import FastAPI

from shared.runtime import install_error_handlers

UNAVAILABLE = [
    nats.js.errors.ServerError(code=500, description="JetStream cluster not available"),
    nats.js.errors.ServiceUnavailableError(code=503, description="JetStream system temporarily unavailable"),
    nats.errors.NoRespondersError(),
    nats.errors.TimeoutError(),
]


@pytest.mark.parametrize("error", UNAVAILABLE, ids=lambda e: type(e).__name__)
async def test_a_command_the_bus_cannot_store_answers_503_with_retry_after(error: Exception) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/cases")
    async def register() -> None:
        raise error

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.post("/cases")
    assert answer.status_code == 503 and int(answer.headers["retry-after"]) >= 1
    detail = answer.json()["detail"]
    assert detail["code"] == "bus_unavailable" and detail["en"] and detail["hi"]


async def test_a_client_mistake_from_the_bus_is_not_taken_for_an_outage() -> None:
    """A 4xx of JetStream's (a wrong expected sequence is a ConcurrencyError elsewhere) stays an error."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/cases")
    async def register() -> None:
        raise nats.js.errors.BadRequestError(code=400, description="bad request")

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    ) as client:
        answer = await client.post("/cases")
    assert answer.status_code == 500
