"""The jurisdiction file: the sample is valid and honest about its sources; a bad file is refused whole
with every problem and its line; an import is recorded atomically, and only what changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient

from services.routing.jurisdiction import import_jurisdiction, read_jurisdiction
from services.routing.sheets import SheetProblems
from services.routing.tests.conftest import SAMPLE
from shared.contracts.routing import (
    CircleDefined,
    JurisdictionImported,
    KendraDefined,
    LocalityDefined,
    ThanaDefined,
)
from shared.eventstore import EventStore

HEADER = "kind,code,parent,name_hi,name_en,pincodes,localities,agency_kind,control,basis\n"


def test_the_sample_district_is_valid_and_keeps_how_sure_each_link_is() -> None:
    parsed = read_jurisdiction(SAMPLE.read_text(encoding="utf-8"))
    assert parsed.district == "SJP" and parsed.version == "2026-01-10.2"
    thanas = {d.code: d for d in parsed.definitions if isinstance(d, ThanaDefined)}
    assert len(thanas) == 23
    assert thanas["SJP-KATRA"].basis.startswith("inferred") and thanas["SJP-KATRA"].circle == "SJP-TILHAR"
    assert thanas["SJP-SADAR-BAZAR"].basis.startswith("confirmed")
    assert sum(t.basis.startswith("confirmed") for t in thanas.values()) == 5
    assert sum(t.basis.startswith("illustrative") for t in thanas.values()) == 17
    circles = {d.code: d for d in parsed.definitions if isinstance(d, CircleDefined)}
    assert "RC Mission illustrative" in circles["SJP-NAGAR"].basis
    [control] = [d.code for d in parsed.definitions if isinstance(d, KendraDefined) and d.control]
    assert control == "MSK-SJP-MAHILA-THANA"
    # Several thanas share a PIN code: the file lists a locality (with a code) for each that has one.
    shared = [t for t in thanas.values() if "242001" in t.pincodes]
    localities = {d.thana: d for d in parsed.definitions if isinstance(d, LocalityDefined)}
    assert len(shared) == 4 and all(t.code in localities for t in shared if t.code != "SJP-MAHILA-THANA")
    assert localities["SJP-KATRA"].code == "SJP-KATRA-01" and localities["SJP-KATRA"].circle == "SJP-TILHAR"


def test_a_bad_file_is_refused_with_every_problem_on_its_line() -> None:
    text = (
        "# a comment line counts as a line\n"
        + HEADER  # line 2
        + "district,SJP,UP,शाहजहाँपुर,Shahjahanpur,,,,,\n"  # 3
        + "circle,SJP-TILHAR,SJP,तिलहर,Tilhar,,,,,\n"  # 4
        + "thana,SJP-KATRA,SJP-TILHAR,कटरा,Katra,24230,,,,\n"  # 5: bad PIN code
        + "thana,SJP-KATRA,SJP-TILHAR,कटरा,Katra,242301,,,,\n"  # 6: duplicate
        + "thana,SJP-KALAN,SJP-NOWHERE,कलान,Kalan,242127,,,,\n"  # 7: unknown parent, no Kendra
        + "kendra,MSK-SJP-KATRA,SJP-KATRA,केन्द्र,Kendra Katra,,,,yes,\n"  # 8
        + "agency,SJP-OSC,SJP,सखी,Sakhi,,,one_stop,,\n"  # 9: unknown agency kind
    )
    with pytest.raises(SheetProblems) as refused:
        read_jurisdiction(text)
    problems = {(p.line, p.en.split(" ")[0] + " " + p.en.split(" ")[1]) for p in refused.value.problems}
    assert problems == {
        (5, "bad PIN"),
        (6, "duplicate thana"),
        (7, "unknown parent"),
        (7, "thana SJP-KALAN"),
        (9, "agency_kind must"),
    }
    assert all(p.hi for p in refused.value.problems)
    by_line = {p.line: p.en for p in refused.value.problems}
    assert (
        "first on line 5" in by_line[6]
        and "has no Kendra" in [p.en for p in refused.value.problems if p.line == 7][1]
    )


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ("", "exactly one district"),
        ("kendra,MSK-SJP-X,SJP-KATRA,क,K,,,,yes,\n", "thana SJP-KATRA already has a Kendra"),
        ("kendra,MSK-SJP-KATRA-2,SJP-KATRA,क,K,,,,,\n", "MSK- and its thana's code"),
        # Localities are units with codes under a thana, never a list of typed names.
        ("thana,SJP-KATRA-2,SJP-TILHAR,क,K,242301,Katra bazaar,,,\n", "localities are rows of their own"),
        ("locality,SJP-KATRA-01,SJP-NOWHERE,क,K,,,,,\n", "unknown parent 'SJP-NOWHERE'"),
        ("locality,LKO-KATRA-01,SJP-KATRA,क,K,,,,,\n", "must start with the district's code"),
        ("locality,SJP-Katra bazaar,SJP-KATRA,क,K,,,,,\n", "may hold only capital letters"),
    ],
)
def test_conventions_are_checked(rows: str, problem: str) -> None:
    base = (
        HEADER
        + "district,SJP,UP,शाहजहाँपुर,Shahjahanpur,,,,,\n"
        + "circle,SJP-TILHAR,SJP,तिलहर,Tilhar,,,,,\n"
        + "thana,SJP-KATRA,SJP-TILHAR,कटरा,Katra,242301,,,,\n"
        + "kendra,MSK-SJP-KATRA,SJP-KATRA,केन्द्र,Kendra Katra,,,,yes,\n"
    )
    text = base.replace("district,SJP,UP,शाहजहाँपुर,Shahjahanpur,,,,,\n", "") if not rows else base + rows
    with pytest.raises(SheetProblems) as refused:
        read_jurisdiction(text)
    assert any(problem in p.en for p in refused.value.problems), refused.value.problems


async def test_import_is_atomic_recorded_once_and_then_only_the_differences(
    nats_client: NatsClient, nats_url: str, tmp_path: Path
) -> None:
    store = EventStore(nats_client, "routing")
    await store.ensure_stream()
    bad = tmp_path / "bad.csv"
    bad.write_text(SAMPLE.read_text(encoding="utf-8").replace("242307", "2423O7"), encoding="utf-8")
    with pytest.raises(SheetProblems):
        await import_jurisdiction(bad, store)
    assert await store.last_sequence() == 0  # nothing half-imported

    first = await import_jurisdiction(SAMPLE, nats_url)  # as the CLI does: by the server's URL
    assert first.recorded == {
        "DistrictDefined": 1,
        "CircleDefined": 5,
        "ThanaDefined": 23,
        "LocalityDefined": 22,
        "KendraDefined": 23,
        "AgencyDefined": 5,
        "JurisdictionImported": 1,
    }
    recorded = await store.load("district", "SJP")
    assert len(recorded) == 80 and [e.aggregate_version for e in recorded] == list(range(1, 81))
    assert len({e.command_id for e in recorded}) == 1  # one command, one atomic batch

    again = await import_jurisdiction(SAMPLE, store)
    assert again.unchanged and await store.last_sequence() == 80

    changed = tmp_path / "shahjahanpur-v2.csv"
    changed.write_text(
        SAMPLE.read_text(encoding="utf-8")
        .replace("# version: 2026-01-10.2", "# version: 2026-02-01.1")
        .replace(
            "thana,SJP-KHUTAR,SJP-POWAYAN,थाना खुटार,Khutar,242405",
            "thana,SJP-KHUTAR,SJP-POWAYAN,थाना खुटार,Khutar,242405|242406",
        )
        .replace("agency,SJP-SHELTER", "# agency,SJP-SHELTER"),
        encoding="utf-8",
    )
    second = await import_jurisdiction(changed, store, actor="PNO999001")
    assert second.recorded == {"ThanaDefined": 1, "UnitRetired": 1, "JurisdictionImported": 1}
    tail = (await store.load("district", "SJP"))[58:]
    imported = tail[-1].event()
    assert isinstance(imported, JurisdictionImported) and imported.version == "2026-02-01.1"
    assert imported.source == "shahjahanpur-v2.csv" and tail[-1].actor == "PNO999001"
    assert imported.counts["agency"] == 4
