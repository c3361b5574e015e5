"""``shared.written``: an answer of the API names the stream sequences its request wrote, and only its own;
a page names none."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from shared.written import HEADER, WrittenHeader, note_written, parse


def app_that_writes() -> FastAPI:
    app = FastAPI()

    @app.post("/api/intake/write/{sequence}")
    async def write(sequence: int) -> dict[str, str]:
        note_written("INTAKE", sequence - 1)
        # An append made in a task the request started still belongs to the request.
        await asyncio.create_task(_append_in_a_task(sequence))
        note_written("ROUTING", 7)
        return {"done": "yes"}

    @app.post("/api/intake/nothing")
    async def nothing() -> dict[str, str]:
        return {"done": "no"}

    @app.get("/api/intake/identity")
    async def recorded_reading() -> dict[str, str]:
        note_written("INTAKE", 99)
        return {"read": "yes"}

    @app.post("/cases/identity")
    async def page() -> dict[str, str]:
        note_written("INTAKE", 100)  # a page of the web front: the browser is told nothing of streams
        return {"page": "yes"}

    app.add_middleware(WrittenHeader)
    return app


async def _append_in_a_task(sequence: int) -> None:
    note_written("INTAKE", sequence)


async def test_an_answer_names_the_last_sequence_its_request_wrote_in_each_stream() -> None:
    note_written("TRAINING", 3)  # outside any request (a reaction): nobody waits for it, nothing keeps it
    transport = httpx.ASGITransport(app=app_that_writes())
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        first, second = await asyncio.gather(
            client.post("/api/intake/write/12"), client.post("/api/intake/write/40")
        )
        assert parse(first.headers[HEADER]) == {"INTAKE": 12, "ROUTING": 7}
        assert parse(second.headers[HEADER]) == {"INTAKE": 40, "ROUTING": 7}
        assert HEADER not in (await client.post("/api/intake/nothing")).headers
        assert parse((await client.get("/api/intake/identity")).headers[HEADER]) == {"INTAKE": 99}
        assert HEADER not in (await client.post("/cases/identity")).headers


def test_a_malformed_header_names_nothing_it_cannot_read() -> None:
    assert parse("INTAKE:5,intake:6,ROUTING:x,TRAINING:12") == {"INTAKE": 5, "TRAINING": 12}
    assert parse(None) == {}
