"""Running the platform: the embedded NATS server (unless one is configured), the services and the web
front in one process, served by uvicorn until Ctrl-C.

Data stays in ``Settings.data_dir`` (JetStream files under ``nats/``, one SQLite file per read model),
so starting again resumes: projections continue from their checkpoints, nothing is replayed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from types import FrameType

import uvicorn
from fastapi import FastAPI

from shakti.config import PlatformSettings
from shakti.platform import SERVICES, build_platform, runners
from shared.natsserver import EmbeddedNatsServer, free_port
from shared.observability import configure_logging

log = logging.getLogger(__name__)

AfterStart = Callable[[FastAPI, str], Awaitable[None]]


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def nats_for(settings: PlatformSettings) -> Iterator[str]:
    """The configured NATS URL, or an embedded server kept running for the block."""
    if settings.nats_url:
        yield settings.nats_url
        return
    port = settings.nats_port
    if not _port_free("127.0.0.1", port):
        # Another NATS (often a system one) holds the usual port; ours keeps its data all the same.
        port = free_port()
        log.warning("port %d is taken; the embedded NATS server uses %d", settings.nats_port, port)
    with EmbeddedNatsServer(settings.data_dir.resolve() / "nats", port) as server:
        log.info("embedded NATS server at %s, data in %s", server.url, server.data_dir)
        yield server.url


def http_server(settings: PlatformSettings, app: FastAPI) -> uvicorn.Server:
    # proxy_headers off: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 by default;
    # sign-in reads it only from SHAKTI_TRUSTED_PROXIES (shakti.signin.client_address).
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
    return uvicorn.Server(config)


async def serve(
    settings: PlatformSettings,
    app: FastAPI,
    *,
    after_start: AfterStart | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn's shutdown stops the services in reverse order."""
    server = http_server(settings, app)
    url = f"http://{settings.http_host}:{settings.http_port}"

    async def announce_when_started() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.1)
        announce(f"Mission Shakti is running: open {url}/  (Ctrl-C stops it)")
        if after_start is not None:
            await after_start(app, url)

    watcher = asyncio.create_task(announce_when_started())
    try:
        await server.serve()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher


def run(
    settings: PlatformSettings,
    names: Sequence[str] = SERVICES,
    *,
    web: bool = True,
    after_start: AfterStart | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    configure_logging()
    # uvicorn re-raises the signal it handled once it has shut down. SIGTERM (what systemd, Docker and
    # Kubernetes send) would then kill the process before the embedded NATS server is stopped, leaving
    # it running: make it end like Ctrl-C.
    previous = signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    try:
        with nats_for(settings) as nats_url:
            app = build_platform(settings, runners(settings, nats_url, names), web=web, nats_url=nats_url)
            # The re-raised Ctrl-C arrives after uvicorn's clean shutdown.
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(serve(settings, app, after_start=after_start, announce=announce))
    finally:
        signal.signal(signal.SIGTERM, previous)
    announce("Mission Shakti stopped.")


def _stop_like_ctrl_c(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.asynccontextmanager
async def running(settings: PlatformSettings, app: FastAPI, timeout: float = 60.0) -> AsyncIterator[str]:
    """Serve ``app`` in the background of the current event loop for the block; yields its URL."""
    server = http_server(settings, app)
    # The embedding program owns the signals (Ctrl-C stops it, not only this server).
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(timeout):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("the HTTP server stopped while starting")
                await asyncio.sleep(0.05)
        yield f"http://{settings.http_host}:{settings.http_port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
