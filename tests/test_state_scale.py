"""The state benchmark's smoke run (``python -m bench.state``): a small part of the synthetic state is
loaded (its places and people through the services' API, its year lived by the services on memory and
appended to the streams, see ``shakti.fastload``) on its historical clock, every read model is rebuilt
from the streams, and what the read models answer must be what they answered live. The year holds the
roster's and training's year too (leave, postings, programmes, iGOT imports, certificates), each at its
moment, as the services record it. Figures are not asserted here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bench.state import chosen_districts, run, summary
from bench.state_data import year_happenings
from shakti.history import Happening
from shared import projection
from tests.test_rebuild_equals_live import differences

SMOKE_SCALE = 0.01
SMOKE_DISTRICTS = 1
"""Shahjahanpur alone (23 Kendras) at issue 19's smoke scale, 0.01 of a year: 209 complaints and their
lives, with the district's whole year of training and duty changes (about 20,000 events, a minute here)."""


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
    assert figures["complaints"] >= 200
    # Every complaint registered, each with its events in intake's stream and the others' reactions.
    assert not {k: v for k, v in result["refused"].items() if k.startswith("register")}
    assert figures["events"] > 5 * figures["complaints"]
    assert all(t["events"] for t in result["rebuild"].values()), result["rebuild"]
    clocks = result["open_clocks"]
    assert clocks["clocks"] >= figures["complaints"]
    assert 1 <= clocks["open_at_once_mean"] <= clocks["open_at_once_max"] < clocks["clocks"]
    assert result["live"]["state /api/intake/counts []"]
    assert sum(key.startswith("sp /api/escalation/cases/") for key in result["live"]) == 60  # the sample
    found = differences(result["live"], result["rebuilt"])
    assert not found, f"{len(found)} differences after a rebuild:\n" + "\n".join(found[:40])
    happenings = year_happenings(chosen_districts(SMOKE_DISTRICTS), seed=19)
    whats = {h.what for h in happenings}
    assert not {k: v for k, v in result["refused"].items() if k.rsplit(" ", 1)[0] in whats}
    lacking = what_the_year_lacks(result["officer_events"], happenings)
    assert not lacking, f"{len(lacking)} happenings missing from the streams:\n" + "\n".join(lacking[:40])
    # Figures a run does not measure are null in its JSON line, never made up.
    assert figures["register_p99_ms"] is None and figures["state_page_p99_ms"] is None


def what_the_year_lacks(events: Sequence[dict[str, Any]], happenings: Sequence[Happening]) -> list[str]:
    """Each happening of the roster's and training's year whose events the streams lack, at its own moment
    with the services' own event types: a programme scheduled, its attendance marked, its completion and
    the modules counted for those present; an iGOT export's completions; leave and the return; a posting.
    Certificates must follow (at least one), each at the moment of training that completed it."""
    at: dict[tuple[str, str, datetime], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        at[e["event_type"], e["aggregate_id"], datetime.fromisoformat(e["occurred_at"])].append(e["payload"])
    out: list[str] = []

    def lacks(what: str, h: Happening) -> None:
        out.append(f"{h.at:%Y-%m-%d %H:%M} UTC {h.what} {h.path}: {what}")

    trained: set[datetime] = set()
    for h in happenings:
        body = h.body or {}
        programme = h.path.split("/")[4] if h.path.startswith("/api/training/programmes/") else ""
        if h.what == "programme" and not at["ProgrammeScheduled", body["programme_id"], h.at]:
            lacks("no ProgrammeScheduled", h)
        elif h.what == "attendance":
            marked = {p["service_number"] for p in at["AttendanceMarked", programme, h.at]}
            if marked != {m["service_number"] for m in body["marks"]}:
                lacks(f"AttendanceMarked for {len(marked)} of {len(body['marks'])}", h)
        elif h.what == "programme complete":
            trained.add(h.at)
            if not at["ProgrammeCompleted", programme, h.at]:
                lacks("no ProgrammeCompleted", h)
            marks = next(x.body for x in happenings if x.key == h.key.replace("-complete", "-attendance"))
            present = {m["service_number"] for m in (marks or {})["marks"] if m["present"]}
            credited = {
                sn for (kind, sn, when), found in at.items() if kind == "ModuleCompleted" and when == h.at
                for p in found if p["source"] == f"programme:{programme}"
            }  # fmt: skip
            if not present or credited != present:
                lacks(f"modules counted for {len(credited)} of the {len(present)} present", h)
        elif h.what == "igot import":
            trained.add(h.at)
            rows = len((h.upload or ("", ""))[1].splitlines()) - 1
            recorded = sum(
                p["source"].startswith("igot_import:")
                for (kind, _, when), found in at.items() if kind == "ModuleCompleted" and when == h.at
                for p in found
            )  # fmt: skip
            if recorded != rows:
                lacks(f"{recorded} ModuleCompleted of its {rows} completions", h)
        elif h.what in ("leave", "back on duty"):
            officer = h.path.split("/")[4]
            if [p["status"] for p in at["OfficerDutyChanged", officer, h.at]] != [body["status"]]:
                lacks(f"no OfficerDutyChanged to {body['status']}", h)
        elif h.what == "posting":
            officer = h.path.split("/")[4]
            if [p["kendra"] for p in at["OfficerPosted", officer, h.at]] != [body["kendra"]]:
                lacks(f"no OfficerPosted to {body['kendra']}", h)
    certified = [when for (kind, _, when) in at if kind == "OfficerCertified"]
    if not certified:
        out.append("no officer certified in the year")
    out += [f"a certificate at {when}, no training then" for when in certified if when not in trained]
    return out
