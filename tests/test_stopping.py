"""Stopping takes the same short time however the signal arrives: to the launcher alone, or to the
launcher and its NATS server at once (systemd's default, Ctrl-C at a terminal), when the services
find their server already gone."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import anyio
import pytest

from bench.e2e import Platform
from bench.stop import stop_time
from shared.natsserver import EmbeddedNatsServer
from shared.runtime import ServiceDefinition, ServiceRunner, expect_closed_streams
from shared.settings import Settings

STOPPED_WITHIN = 8.0
"""Seconds; an idle platform stops in about 1 s here. Waiting on a server that is gone took 10 s or more."""


async def test_a_service_whose_server_is_gone_stops_at_once(tmp_path: Path) -> None:
    server = EmbeddedNatsServer(tmp_path / "nats").start()
    runner = ServiceRunner(
        ServiceDefinition("tests", projections=lambda: ()), Settings(data_dir=tmp_path), nats_url=server.url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'tests.db'}",
    )  # fmt: skip
    await runner.start()
    server.stop()  # as when the signal reaches the server first
    began = time.monotonic()
    await runner.stop()
    assert time.monotonic() - began < 2.0


async def test_a_drain_that_ends_slowly_is_not_taken_for_a_lost_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The broker's drain closes the connection and then still has work to finish; on a loaded
    machine that tail is longer than a watch interval. CI saw the closed connection read as "server
    gone" and a warning at a clean Ctrl-C."""
    server = EmbeddedNatsServer(tmp_path / "nats").start()
    try:
        runner = ServiceRunner(
            ServiceDefinition("tests", projections=lambda: ()), Settings(data_dir=tmp_path),
            nats_url=server.url, database_url=f"sqlite+aiosqlite:///{tmp_path / 'tests.db'}",
        )  # fmt: skip
        ctx = await runner.start()
        drain = ctx.broker.stop

        async def drain_then_linger() -> None:
            await drain()
            assert ctx.store.nc.is_closed
            await asyncio.sleep(0.3)  # a loaded machine between the close and the broker's return

        ctx.broker.stop = drain_then_linger  # type: ignore[method-assign,assignment]
        with caplog.at_level(logging.INFO, logger="shared.runtime"):
            await runner.stop()
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    finally:
        server.stop()


async def test_up_stops_as_fast_when_its_nats_server_is_signalled_too(tmp_path: Path) -> None:
    target = Platform(tmp_path)
    try:
        alone = await stop_time(target, "launcher")
        group = await stop_time(target, "group")
    finally:
        target.kill()
    assert alone < STOPPED_WITHIN and group < STOPPED_WITHIN, (alone, group)


async def test_a_consume_task_failing_on_its_closed_stream_as_a_service_stops_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """FastStream's pull subscriber fetched messages as the service stopped; its task group fails on the
    closed stream and the task's error is never retrieved. That is said at info (the messages go again);
    any other unretrieved error is still an error."""
    loop = asyncio.get_running_loop()
    before = loop.get_exception_handler()
    seen: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: seen.append(context))
    try:
        expect_closed_streams(loop)
        expect_closed_streams(loop)  # once is enough, twice changes nothing
        closed = BaseExceptionGroup("unhandled errors in a TaskGroup", [anyio.ClosedResourceError()])
        with caplog.at_level(logging.INFO, logger="shared.runtime"):
            loop.call_exception_handler(
                {"message": "Task exception was never retrieved", "exception": closed}
            )
        assert seen == [] and "left unacknowledged" in caplog.text
        other = BaseExceptionGroup(
            "unhandled errors in a TaskGroup", [anyio.ClosedResourceError(), KeyError("x")]
        )
        loop.call_exception_handler({"message": "Task exception was never retrieved", "exception": other})
        assert [c["exception"] for c in seen] == [other]
    finally:
        loop.set_exception_handler(before)
