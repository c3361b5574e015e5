"""`shakti up` as a user runs it: a process with the embedded NATS server, stopped with Ctrl-C
(SIGINT) cleanly, started again on the same data folder, resuming where it was, and stopped with
SIGTERM (as systemd, Docker and Kubernetes stop it) just as cleanly, its NATS server with it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import sys
from pathlib import Path

import httpx
import nats
import pytest
from nats.errors import Error as NatsError

from shakti.basics import CONSOLE, CONSOLE_SESSION_VERSION
from shakti.demo import JURISDICTION_FILE
from shakti.launcher import nats_answers, without_credentials
from shared.bus import CREDENTIALS_FILE
from shared.natsserver import EmbeddedNatsServer, free_port
from tests.sessions import bearer, issuer_for_tests, keys_for_tests
from tests.waiting import eventually


async def start(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "shakti"), "up",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def stop(process: asyncio.subprocess.Process, how: signal.Signals = signal.SIGINT) -> str:
    process.send_signal(how)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    return out.decode()


async def test_up_runs_stops_on_ctrl_c_and_resumes_with_its_data(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    nats_port = free_port()
    env = {
        **os.environ, "SHAKTI_DATA_DIR": str(tmp_path), "SHAKTI_HTTP_PORT": str(port),
        "SHAKTI_NATS_PORT": str(nats_port), "SHAKTI_KEYS_DIR": str(keys_for_tests()),
    }  # fmt: skip
    env.pop("SHAKTI_NATS_URL", None)
    operator = bearer(issuer_for_tests().issue(CONSOLE, CONSOLE_SESSION_VERSION))

    first = await start(env)
    try:
        await eventually(lambda: answers(url), timeout=90, what="the platform answers")
        async with httpx.AsyncClient(base_url=url, headers=operator, timeout=30) as client:
            imported = await client.post(
                "/api/routing/jurisdiction/import",
                files={"file": (JURISDICTION_FILE.name, JURISDICTION_FILE.read_bytes(), "text/csv")},
            )
            assert imported.status_code == 200 and not imported.json()["unchanged"]
    finally:
        out = await stop(first)
    assert f"Open  {url}/" in out and "stopped" in out
    assert (tmp_path / "nats" / "jetstream").is_dir()
    # The embedded server's passwords: made on the first start, its owner's alone, kept for the next.
    credentials = tmp_path / CREDENTIALS_FILE
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    made = credentials.read_text()

    second = await start(env)
    try:
        await eventually(lambda: answers(url), timeout=90, what="the platform answers again")
        async with httpx.AsyncClient(base_url=url, headers=operator, timeout=30) as client:
            again = await client.post(
                "/api/routing/jurisdiction/import",
                files={"file": (JURISDICTION_FILE.name, JURISDICTION_FILE.read_bytes(), "text/csv")},
            )
            assert again.json()["unchanged"] is True  # the events survived the restart
            assert credentials.read_text() == made
            with pytest.raises(NatsError):  # the embedded server refuses a client without credentials
                await nats.connect(
                    f"nats://127.0.0.1:{nats_port}", allow_reconnect=False, max_reconnect_attempts=0
                )
            places = (await client.get("/api/intake/places", params={"district": "SJP"})).json()["places"]
            assert len([p for p in places if p["kind"] == "thana"]) == 23
            ready = (await client.get("/readyz")).json()
            assert all(
                lag == 0
                for s in ready["services"].values()
                for per in s["lag"].values()
                for lag in per.values()
            )
    finally:
        out = await stop(second, signal.SIGTERM)
    assert "stopped" in out
    with pytest.raises(OSError):  # the embedded NATS server went with it
        socket.create_connection(("127.0.0.1", nats_port), timeout=1).close()


async def serve_routing(
    tmp_path: Path, nats_port: int, **settings: str
) -> tuple[asyncio.subprocess.Process, str]:
    """``shakti serve routing`` against the NATS server of ``nats_port`` (there or not); its URL."""
    port = free_port()
    env = {
        **os.environ, "SHAKTI_DATA_DIR": str(tmp_path / "data"), "SHAKTI_HTTP_PORT": str(port),
        "SHAKTI_NATS_URL": f"nats://127.0.0.1:{nats_port}", "SHAKTI_KEYS_DIR": str(keys_for_tests()),
        **settings,
    }  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "shakti"), "serve", "routing",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    return process, f"http://127.0.0.1:{port}"


async def said_until(process: asyncio.subprocess.Process, words: str, timeout: float = 60) -> str:
    """What the process wrote, read until ``words`` appear in it."""
    assert process.stdout is not None
    said = ""
    async with asyncio.timeout(timeout):
        while words not in said:
            line = await process.stdout.readline()
            assert line, f"the process ended before saying {words!r}: {said}"
            said += line.decode()
    return said


async def stopped_with_sigterm(process: asyncio.subprocess.Process, *, once_it_says: str) -> str:
    """Everything the process said, stopped with SIGTERM once it has said ``once_it_says``: it must
    end with exit 1 and without a traceback."""
    try:
        said = await said_until(process, once_it_says)
        process.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
    said += out.decode()
    assert process.returncode == 1 and "Traceback" not in said, said
    return said


async def test_serve_says_it_waits_for_nats_and_stops_on_sigterm_while_waiting(tmp_path: Path) -> None:
    """Seen: with SHAKTI_NATS_URL at a server that is down, `shakti serve` and `shakti up` hung in their
    start-up without a word, and neither Ctrl-C nor SIGTERM stopped them (only SIGKILL)."""
    nats_port = free_port()
    process, _ = await serve_routing(tmp_path, nats_port)
    said = await stopped_with_sigterm(process, once_it_says="does not answer")
    assert f"nats://127.0.0.1:{nats_port}" in said and "उत्तर नहीं दे रहा" in said, said
    assert "Stopped before NATS answered" in said and "NATS के उत्तर देने से पहले" in said, said


async def test_serve_starts_once_its_nats_server_comes(tmp_path: Path) -> None:
    """Waiting is what a cluster's start needs (the services may come up before NATS): the service starts
    as soon as its server answers, and a SIGINT then stops it as usual."""
    nats_port = free_port()
    process, url = await serve_routing(tmp_path, nats_port)
    try:
        await said_until(process, "does not answer")
        assert process.stdout is not None
        rest = asyncio.create_task(process.stdout.read())  # a full pipe would stop the process
        with EmbeddedNatsServer(tmp_path / "nats", nats_port):
            await eventually(lambda: answers(url), timeout=90, what="the service answers")
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), 60)
            assert process.returncode == 0, (await rest).decode()
    finally:
        if process.returncode is None:
            process.kill()


async def test_serve_says_plainly_that_nats_refused_its_password(tmp_path: Path) -> None:
    """Seen: a wrong NATS password ended `shakti serve` with exit 3 and FastStream's traceback in the
    log. Now the login is tried before anything starts: exit 2, the refusal told in both languages, the
    password never shown."""
    nats_port = free_port()
    with EmbeddedNatsServer(tmp_path / "nats", nats_port, extra_args=["--user", "shakti", "--pass", "right"]):
        process, _ = await serve_routing(
            tmp_path, nats_port, SHAKTI_NATS_URL=f"nats://shakti:wrong-pw@127.0.0.1:{nats_port}"
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), 60)
        finally:
            if process.returncode is None:
                process.kill()
    said = " ".join(out.decode().split())  # as the terminal's width wrapped it
    assert process.returncode == 2 and "Traceback" not in said, said
    assert "refused the login of 'shakti' (Authorization Violation)" in said, said
    assert "लॉगिन अस्वीकार किया" in said and "wrong-pw" not in said, said
    # A token in the URL's place of a user name is never shown; a list nats-py cannot read stops too.
    with EmbeddedNatsServer(tmp_path / "nats-token", nats_port, extra_args=["--auth", "right-token"]):
        process, _ = await serve_routing(
            tmp_path, nats_port, SHAKTI_NATS_URL=f"nats://wrong-token@127.0.0.1:{nats_port}"
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        said = " ".join(out.decode().split())
        assert process.returncode == 2 and "the token of 'routing'" in said, said
        assert "wrong-token" not in said and "Traceback" not in said, said
        both = f"nats://127.0.0.1:{nats_port},nats://127.0.0.1:{nats_port}"
        process, _ = await serve_routing(tmp_path, nats_port, SHAKTI_NATS_URL=both)
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        said = " ".join(out.decode().split())
        assert process.returncode == 2 and "cannot be used as configured" in said, said
        assert "इस विन्यास से उपयोग नहीं हो सकता" in said and "Traceback" not in said, said
    # A credentials file without this part's password is told the same way (it was a traceback).
    (tmp_path / "nats.json").write_text('{"intake": "its-own"}')
    process, _ = await serve_routing(
        tmp_path, nats_port, SHAKTI_NATS_CREDENTIALS_FILE=str(tmp_path / "nats.json")
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    said = " ".join(out.decode().split())
    assert process.returncode == 2 and "Traceback" not in said, said
    assert "has no password for the NATS user 'routing'" in said and "का पासवर्ड नहीं है" in said, said


async def test_serve_waits_for_a_nats_that_answers_but_drops_every_connection(tmp_path: Path) -> None:
    """Seen: a server that said INFO and then dropped every connection kept `shakti serve` in its
    start-up for ever (nats-py reconnecting inside uvicorn's start-up, which looks at no signal), until
    SIGKILL. Now it is waited for like one that does not answer, said so, and SIGTERM stops it."""

    async def drops(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b'INFO {"server_id":"x","version":"2.12.0","max_payload":1048576}\r\n')
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(drops, "127.0.0.1", 0)
    async with server:
        process, _ = await serve_routing(tmp_path, server.sockets[0].getsockname()[1])
        said = await stopped_with_sigterm(process, once_it_says="drops the connection")
    assert "कनेक्शन तोड़ देता है" in said and "Stopped before NATS answered" in said, said


async def test_the_probe_wants_nats_to_say_info() -> None:
    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    async def nats_like(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"INFO {}\r\n")
        await writer.drain()
        writer.close()

    for greet, answers_ in ((silent, False), (nats_like, True)):
        server = await asyncio.start_server(greet, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            assert await nats_answers(f"nats://u:p,w@127.0.0.1:{port}", timeout=0.5) is answers_
            assert await nats_answers(f"127.0.0.1:{port}", timeout=0.5) is answers_
    assert await nats_answers("nats://127.0.0.1:notaport") is False
    assert without_credentials("nats://ops:p,w@127.0.0.1:4222") == "nats://127.0.0.1:4222"
