"""An operator's bad day, small: ``shakti up`` on fixed ports takes complaints from a client that
retries a failed request with the same Idempotency-Key; once the whole platform is SIGKILLed (its NATS
server too, as a power cut), once only the Python process (as the kernel's OOM killer would), each
time started again on the same data folder and ports.

Every complaint is acknowledged once and exactly once in the events (``each_case_once``); no answer is
a 4xx (a client drops a request answered so: a complaint lost to the complainant); after each restart
one NATS server runs on the store, on the configured port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections import Counter
from pathlib import Path

import httpx

from bench.e2e import Load, Platform
from bench.stop import server_pid
from tests.test_cluster_crash import each_case_once

CASES = 36
GROUP_KILL_AT = 12
LAUNCHER_KILL_AT = 24


def servers_on(store: Path) -> list[int]:
    """The nats-server processes running with ``store`` as their JetStream folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if Path(args[0]).name == "nats-server" and str(store) in args and state != "Z":
                found.append(int(entry.name))
    return found


def kill_all(target: Platform) -> None:
    """SIGKILL to the platform's process group and to its NATS server (in a group of its own)."""
    server = server_pid(target)
    target.kill()
    with contextlib.suppress(ProcessLookupError):
        os.kill(server, signal.SIGKILL)


def kill_launcher(target: Platform) -> None:
    """SIGKILL to the Python process alone: its NATS server is not signalled."""
    assert target.process is not None
    target.process.kill()
    target.process.wait()
    target.process = None


async def send(load: Load, n: int, answers: Counter[int]) -> str | None:
    """One try of the n-th complaint under its fixed key; None when it is to be sent again."""
    try:
        response = await load.post_complaint(n, f"restart-case-{n}", timeout=10.0)
    except httpx.HTTPError:
        return None
    answers[response.status_code] += 1
    if response.status_code == 503:
        assert response.headers.get("Retry-After"), response.text
    if response.status_code != 201:
        return None
    case_id: str = response.json()["case_id"]
    return case_id


async def test_a_platform_killed_twice_loses_nothing_refuses_nothing_and_keeps_one_server(
    tmp_path: Path,
) -> None:
    target = Platform(tmp_path).start()
    store = (tmp_path / "var" / "nats").resolve()
    nats_port = target.env["SHAKTI_NATS_PORT"]
    load = Load(target)
    acknowledged: dict[int, str] = {}
    answers: Counter[int] = Counter()
    crashes = {GROUP_KILL_AT: kill_all, LAUNCHER_KILL_AT: kill_launcher}
    try:
        await load.ready()
        await load.prepare()
        n = 0
        while n < CASES:
            sending = asyncio.create_task(send(load, n, answers))
            crash = crashes.pop(n, None)
            if crash is not None:
                await asyncio.sleep(0.02)  # while this complaint is in flight
                crash(target)
                target.start()
                await load.ready()
                assert servers_on(store) == [server_pid(target)], "not exactly one NATS server on the store"
            case_id = await sending
            if case_id is None:
                await asyncio.sleep(0.2)
                continue  # the same complaint again, with the same Idempotency-Key
            acknowledged[n] = case_id
            n += 1
            await asyncio.sleep(1 / 12)
        refused = {status: count for status, count in answers.items() if 400 <= status < 500}
        assert not refused, f"answers a client would take as final: {refused}"
        urls = set(re.findall(r"embedded NATS server at (nats://[0-9.:]+)", target.log.read_text()))
        assert urls == {f"nats://127.0.0.1:{nats_port}"}, "the NATS port moved"
        await each_case_once(target, load, acknowledged, tmp_path / "var")
        assert len(servers_on(store)) == 1
    finally:
        await load.client.aclose()
        target.stop()
