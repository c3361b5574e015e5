"""The state benchmark's smoke run (``python -m bench.state``): a small part of the synthetic state is
loaded through the services' API on its historical clock, every read model is rebuilt from the streams,
and what the read models answer must be what they answered live. Figures are not asserted here."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.state import run, summary
from shared import projection
from tests.test_rebuild_equals_live import differences

SMOKE_SCALE = 0.001
SMOKE_DISTRICTS = 1
"""Shahjahanpur alone (23 Kendras): 21 complaints and their lives at 0.001 of a year. 0.01 would take
about ten minutes: the load goes through the API at about 2 requests a second on a shared 2-core machine."""


async def test_a_part_of_the_state_loads_and_its_read_models_equal_a_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One process keeps every read model here: no other reader to wait for at each switch-over.
    monkeypatch.setattr(projection, "OLD_GENERATION_GRACE_SECONDS", 0.1)
    said: list[str] = []
    result = await run(
        SMOKE_SCALE, tmp_path, district_count=SMOKE_DISTRICTS, measure=False, compare=True, say=said.append
    )
    figures = summary(result)
    assert figures["complaints"] >= 20
    # Every complaint registered, each with its events in intake's stream and the others' reactions.
    assert not {k: v for k, v in result["refused"].items() if k.startswith("register")}
    assert figures["events"] > 5 * figures["complaints"]
    assert all(t["events"] for t in result["rebuild"].values()), result["rebuild"]
    assert result["live"]["state /api/intake/counts []"]
    assert sum(key.startswith("sp /api/escalation/cases/") for key in result["live"]) >= 20
    found = differences(result["live"], result["rebuilt"])
    assert not found, f"{len(found)} differences after a rebuild:\n" + "\n".join(found[:40])
    # Figures a run does not measure are null in its JSON line, never made up.
    assert figures["register_p99_ms"] is None and figures["state_page_p99_ms"] is None
