"""The embedded NATS server's store: never two servers on it, never a server outliving its launcher.

A launcher here is a small Python process that starts the server and then sleeps, killed with SIGKILL
as the kernel's OOM killer would kill ``shakti up``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shakti import launcher
from shakti.config import PlatformSettings
from shared import natsserver
from shared.natsserver import EmbeddedNatsServer, StoreInUse, free_port, platform_server

LAUNCHER = """
import sys, time
from pathlib import Path
from shared.natsserver import EmbeddedNatsServer, platform_server
if sys.argv[2] == "platform":
    server = platform_server(Path(sys.argv[1])).start()
else:
    server = EmbeddedNatsServer(Path(sys.argv[1]) / "nats").start()
print(server.pid, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def launched(data_dir: Path, kind: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A launcher process and the pid of the nats-server it started; both ended afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(data_dir), kind], stdout=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None
    server_pid = int(process.stdout.readline())
    try:
        yield process, server_pid
    finally:
        process.kill()
        process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.kill(server_pid, signal.SIGKILL)


def test_the_platform_server_dies_with_its_launcher(tmp_path: Path) -> None:
    with launched(tmp_path, "platform") as (process, server_pid):
        assert alive(server_pid)
        process.kill()  # only the Python process, as the OOM killer does
        process.wait()
        assert gone_within(server_pid, 10), "the nats-server outlived its launcher"


def test_a_server_left_by_a_dead_launcher_is_stopped_before_another_starts(tmp_path: Path) -> None:
    with launched(tmp_path, "plain") as (process, orphan):
        process.kill()
        process.wait()
        assert alive(orphan)  # no parent-death signal asked for: it lives on, holding the store
        server = EmbeddedNatsServer(tmp_path / "nats").start()
        try:
            assert not alive(orphan), "the leftover server still runs beside the new one"
            assert server.running
        finally:
            server.stop()


def test_a_second_server_on_a_store_in_use_is_refused(tmp_path: Path) -> None:
    with platform_server(tmp_path) as first:
        second = platform_server(tmp_path)
        with pytest.raises(StoreInUse) as refused:
            second.start()
        assert not second.running
        assert first.running and str(first.pid) in refused.value.en and refused.value.hi


def test_a_second_launcher_leaves_a_running_platform_alone(tmp_path: Path) -> None:
    with launched(tmp_path, "plain") as (process, server_pid):
        with pytest.raises(StoreInUse):
            EmbeddedNatsServer(tmp_path / "nats").start()
        assert alive(server_pid) and process.poll() is None


def test_a_stopped_server_frees_its_store(tmp_path: Path) -> None:
    platform_server(tmp_path).start().stop()
    server = platform_server(tmp_path).start()
    server.stop()


def closed_by_the_server(port: int) -> None:
    """A connection to ``port`` the listening side closes first: its socket stays in TIME_WAIT on
    ``port`` after the listener is gone, as after a server killed under load."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()
        client.recv(1)
        client.close()


def test_a_configured_nats_port_left_in_time_wait_is_kept(tmp_path: Path) -> None:
    port = free_port()
    closed_by_the_server(port)
    settings = PlatformSettings(data_dir=tmp_path, nats_port=port)
    assert launcher.nats_port(settings) == port


def test_a_configured_nats_port_held_by_another_program_stops_the_start(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(launcher.NatsPortTaken) as refused:
            launcher.nats_port(PlatformSettings(data_dir=tmp_path, nats_port=port))
        assert "SHAKTI_NATS_PORT" in refused.value.en and "SHAKTI_NATS_PORT" in refused.value.hi
        assert refused.value.holder is not None and refused.value.holder.pid == os.getpid()


def test_the_default_nats_port_moves_when_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHAKTI_NATS_PORT", raising=False)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        settings = PlatformSettings(data_dir=tmp_path)
        settings.__dict__["nats_port"] = port  # as if it were the default value
        assert "nats_port" not in settings.model_fields_set
        assert launcher.nats_port(settings) != port


def test_a_free_port_is_never_one_an_outgoing_connection_may_take(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port the kernel picked for a bind to 0 lay in its range for outgoing connections: CI saw a
    compose stack's part refused such a port ("already in use"), taken meanwhile by a connection. Nor is
    a port handed out twice (a stack draws some twenty before anything listens), nor one in use."""
    lowest_ephemeral = int(natsserver.EPHEMERAL_RANGE.read_text().split()[0])
    if lowest_ephemeral <= natsserver.FIRST_FREE_PORT:
        pytest.skip("this machine's whole port range is for outgoing connections")
    ports = [free_port() for _ in range(50)]
    assert all(natsserver.FIRST_FREE_PORT <= port < lowest_ephemeral for port in ports), sorted(ports)
    assert len(set(ports)) == len(ports)

    class Offers:
        """The random choice, made to offer the given ports in turn."""

        def __init__(self, *ports: int) -> None:
            self.ports = list(ports)

        def randrange(self, start: int, stop: int) -> int:
            return self.ports.pop(0)

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        in_use = listening.getsockname()[1]
        monkeypatch.setattr(natsserver, "_handed_out", {ports[0]})
        monkeypatch.setattr(natsserver, "_chooser", Offers(in_use, ports[0], 10_007))
        assert free_port() == 10_007
