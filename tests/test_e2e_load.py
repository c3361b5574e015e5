"""The load of `bench.e2e` (also the compose test's) against a platform that is still warming up.

A gateway in front of an intake that has not finished starting answers 502 or 503 with an error body, not
the places; the load waits that out instead of failing on the body's shape (CI saw `KeyError: 'places'`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from bench.e2e import Load
from bench.read_your_writes import seen_after
from shakti.config import PlatformSettings
from shared.keys import init_keys

KENDRA = {"kind": "kendra", "thana": "SJP-KATRA", "circle": "SJP-C1", "name": "Katra"}


class WarmingGateway:
    """Where the load's requests go: the first places answers are a gateway's refusal, then an empty list
    (the import not yet projected), then the district's Kendra."""

    def __init__(self, refusals: int, empty: int) -> None:
        self.answers = [httpx.Response(502, json={"error": "bad gateway"})] * refusals
        self.answers += [httpx.Response(200, json={"places": []})] * empty
        self.asked = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/intake/places"
        self.asked += 1
        if self.answers:
            return self.answers.pop(0)
        return httpx.Response(200, json={"places": [KENDRA, {"kind": "thana", "thana": "SJP-KATRA"}]})


class Target:
    def __init__(self, keys: Path) -> None:
        self.url = "http://gateway.test"
        self.keys = keys
        self.alive = True


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    init_keys(PlatformSettings(keys_dir=tmp_path, kek_file=tmp_path / "kek.key"))
    return tmp_path


async def test_the_load_waits_out_a_gateway_that_refuses_before_intake_lists_the_places(keys: Path) -> None:
    gateway = WarmingGateway(refusals=3, empty=2)
    load = Load(Target(keys))  # type: ignore[arg-type]
    load.client = httpx.AsyncClient(base_url="http://gateway.test", transport=httpx.MockTransport(gateway))
    assert await load.imported_kendras(pause=0) == [KENDRA]
    assert gateway.asked == 6


async def test_a_gateway_that_never_lists_the_places_is_named_with_its_last_answer(keys: Path) -> None:
    load = Load(Target(keys))  # type: ignore[arg-type]
    load.client = httpx.AsyncClient(
        base_url="http://gateway.test",
        transport=httpx.MockTransport(lambda _: httpx.Response(503, json={"error": "starting"})),
    )
    with pytest.raises(RuntimeError, match="last answered 503"):
        await load.imported_kendras(tries=5, pause=0)


def test_each_part_of_a_cases_time_has_its_own_p99_beside_the_slowest_case(keys: Path) -> None:
    """The slowest case alone may be an outlier of any part; the p99 of each part over a stage's cases
    says which part holds the tail (here the clocks, though the slowest case waited on its assignment),
    and a case that never finished counts in neither."""
    load = Load(Target(keys))  # type: ignore[arg-type]
    for n in range(200):
        case = f"c{n}"
        load.sent_at[case] = 10.0 + n
        load.answered_at[case] = load.sent_at[case] + 0.020
        load.assigned_at[case] = load.sent_at[case] + (0.500 if n == 7 else 0.030)
        load.armed_at[case] = load.sent_at[case] + (0.200 if n % 10 == 0 else 0.040)
    load.sent_at["lost"] = 5.0
    load.answered_at["lost"] = 5.02
    load.assigned_at["lost"] = 9.0
    assert load.parts_of_the_slowest() == {"answered_ms": 20.0, "assigned_ms": 500.0, "clock_ms": 40.0}
    assert load.parts_p99() == {"answered_ms": 20.0, "assigned_ms": 30.0, "clock_ms": 200.0}


class Part(Target):
    """The platform or its read models' process: started when asked; the platform is ready only once the
    other process keeps its read models (as a platform run with ``SHAKTI_PROJECTIONS=false`` is), and
    names its NATS server only once it serves (the URL is in its log from then on)."""

    def __init__(self, keys: Path, name: str, happened: list[str]) -> None:
        super().__init__(keys)
        self.name = name
        self.happened = happened
        self.env: dict[str, str] = {}
        self.started = name == "platform"
        self.serving = False
        self.credentials_file = keys / "no-credentials"

    @property
    def nats_url(self) -> str:
        if not self.serving:
            raise RuntimeError(f"the {self.name} has not started its NATS server yet")
        return "nats://127.0.0.1:4999"

    def start(self) -> Part:
        self.started = True
        self.happened.append(f"{self.name} started")
        return self


async def test_the_read_models_process_starts_once_the_platform_serves_not_once_it_is_ready(
    keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bench.e2e --read-models process` waited for the platform's readiness before starting the process
    that keeps its read models, and so never started (issue 13, 2 December)."""
    happened: list[str] = []
    keeper = Part(keys, "keeper", happened)
    platform = Part(keys, "platform", happened)

    async def answers(load: Load, path: str, state: str, timeout: float) -> None:
        part = load.target
        assert isinstance(part, Part)
        waiting_on_the_keeper = part is platform and path == "/readyz" and not keeper.started
        if waiting_on_the_keeper or not part.started:
            raise RuntimeError(f"the {part.name} did not become {state}")
        part.serving = True
        happened.append(f"{part.name} {state}")

    monkeypatch.setattr(Load, "answers", answers)
    await Load(platform, keeper).started()  # type: ignore[arg-type]
    assert happened == ["platform serving", "keeper started", "keeper ready", "platform ready"]
    assert keeper.env == {"SHAKTI_NATS_URL": "nats://127.0.0.1:4999"}


async def test_the_wait_for_a_registration_to_show_counts_the_read_that_waited_for_it(keys: Path) -> None:
    """`bench.read_your_writes` timed each look from before it was asked, so a look that waited inside
    intake (its case view waits for the register to hold what is stored) counted as 0 ms."""
    load = Load(Target(keys))  # type: ignore[arg-type]
    load.kendras, load.desks = [KENDRA], {KENDRA["thana"]: {}}

    async def intake(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"case_id": "c1"})
        await asyncio.sleep(0.2)  # the case view waiting for the register
        return httpx.Response(200, json={"case_id": "c1", "assigned_officer": "katra.constable1"})

    load.client = httpx.AsyncClient(base_url="http://intake.test", transport=httpx.MockTransport(intake))
    seen = await seen_after(load, 0)
    assert seen is not None
    registered_ms, assigned_ms = seen
    assert registered_ms >= 200 and assigned_ms >= 200
