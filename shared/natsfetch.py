"""A pull fetch that times out the way nats-py documents: with ``nats.errors.TimeoutError``.

Since nats-py 2.15 (nats-io/nats.py#934), ``PullSubscription.fetch`` raises the builtin
``TimeoutError`` instead when the server's answer to the fetch's expiry arrives just before the
client's own timer, which a busy event loop (the platform starting, a burst of cases) makes likely.
FastStream's pull loop retries a fetch on nats' timeout only: on the builtin one its supervisor logged
``Task-… raised an exception, retrying… please consider opening issue…`` at error level and restarted
the loop. Nothing was lost, but every start showed an alarming error line.

The fix upstream (nats-io/nats.py#1008) raises nats' own timeout in those places; until a release
carries it, the fetch is wrapped once per process. A fetch that raises nats' timeout is untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
from nats.js.client import JetStreamContext

Fetch = Callable[..., Awaitable[Any]]


def _documented_timeout(fetch: Fetch) -> Fetch:
    @functools.wraps(fetch)
    async def fetch_with_nats_timeout(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fetch(*args, **kwargs)
        except nats.errors.TimeoutError:
            raise
        except TimeoutError as error:
            raise nats.errors.TimeoutError from error

    fetch_with_nats_timeout.documented_timeout = True  # type: ignore[attr-defined]
    return fetch_with_nats_timeout


def fetch_times_out_as_documented() -> None:
    """Wrap ``PullSubscription.fetch`` (idempotent)."""
    subscription = JetStreamContext.PullSubscription
    if not getattr(subscription.fetch, "documented_timeout", False):
        subscription.fetch = _documented_timeout(subscription.fetch)  # type: ignore[method-assign,assignment]
