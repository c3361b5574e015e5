"""The terminal as a person meets it: log lines, the start-up summary, a port in use, the CLI's output.

Where a process is involved it is the real one (``shakti up``) against real servers."""

from __future__ import annotations

import asyncio
import time

import nats.errors
from nats.aio.client import Client as NatsClient

import shared.subscriber  # noqa: F401  (loaded wherever process managers run, as in the platform)


async def test_an_idle_pull_fetch_times_out_as_nats_documents_even_on_a_busy_loop(
    nats_client: NatsClient,
) -> None:
    """FastStream's pull loop retries a fetch on nats' own TimeoutError only. nats-py 2.15+ raises the
    builtin one when the server's expiry answer beats the client's timer, which a busy event loop (the
    platform at start) makes likely: FastStream then logged an error and restarted the task."""
    js = nats_client.jetstream()
    await js.add_stream(name="IDLE", subjects=["idle.>"])
    subscription = await js.pull_subscribe("idle.>", durable="idle", stream="IDLE")
    busy = True

    async def hog() -> None:
        while busy:
            time.sleep(0.02)  # noqa: ASYNC251  (the loop blocked, as by a burst of work)
            await asyncio.sleep(0)

    hogging = asyncio.create_task(hog())
    other_timeouts = documented = 0
    try:
        for _ in range(20):
            try:
                await subscription.fetch(16, timeout=0.1)
            except nats.errors.TimeoutError:
                documented += 1
            except TimeoutError:
                other_timeouts += 1
    finally:
        busy = False
        await hogging
        await subscription.unsubscribe()
    assert other_timeouts == 0 and documented > 0
