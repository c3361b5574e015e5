"""The iGOT CSV import against real NATS: a bad file is refused whole with a report by line, a good
file is recorded and certifies, the same file again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.training.curriculum import load_policy
from services.training.domain import IST
from services.training.igot import read_igot_csv
from services.training.tests.conftest import Training, full_course, igot_csv
from shared.contracts.training import ModuleCompleted
from shared.roles import Role
from tests.waiting import eventually

NOW = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)


def test_dates_scores_and_columns_are_read_or_reported() -> None:
    text = (
        "Module_ID,completed_at,SERVICE_NUMBER,Name,score\n"
        "igot-01,09-01-2026,pno1,ignored name,\n"
        "IGOT-02,2026-01-09T15:30,PNO1,,\n"
        "IGOT-03,2026-01-09T15:30:00+00:00,PNO1,,\n"
        "MSK-ASSESS,2026-01-09,PNO1,,75.5\n"
    )
    rows, problems = read_igot_csv(text.encode("utf-8-sig"), load_policy(), NOW)
    assert problems == []
    assert [(r.line, r.service_number, r.completion.module_id) for r in rows] == [
        (2, "PNO1", "IGOT-01"),
        (3, "PNO1", "IGOT-02"),
        (4, "PNO1", "IGOT-03"),
        (5, "PNO1", "MSK-ASSESS"),
    ]
    assert rows[0].completion.completed_at == datetime(2026, 1, 9, tzinfo=IST)
    assert rows[1].completion.completed_at == datetime(2026, 1, 9, 15, 30, tzinfo=IST)
    assert rows[2].completion.completed_at == datetime(2026, 1, 9, 15, 30, tzinfo=UTC)
    assert rows[3].completion.score == 75.5 and rows[0].completion.score is None
    assert rows[0].completion.version == 1
    _, missing = read_igot_csv(b"service_number,module\nPNO1,IGOT-01\n", load_policy(), NOW)
    assert [(p.line, p.en) for p in missing] == [(1, "Missing columns: module_id, completed_at")]
    _, binary = read_igot_csv("service_number\n".encode("utf-16"), load_policy(), NOW)
    assert binary[0].en == "The file is not UTF-8 text"


async def test_a_bad_file_is_refused_whole_with_every_problem_by_line(training: Training) -> None:
    t = training
    await t.routing.jurisdiction()
    await t.routing.post("PNO201", "MSK-SJP-KATRA")
    await eventually(lambda: _assigned(t, "PNO201"))
    await t.settled()
    before = await t.ctx.store.last_sequence()
    bad = igot_csv(
        [
            ("PNO201", "IGOT-01", "2026-01-05", ""),  # line 2: fine on its own
            ("PNO999", "IGOT-02", "2026-01-05", ""),  # 3: nobody routing knows
            ("PNO201", "IGOT-99", "2026-01-05", ""),  # 4: no such module
            ("PNO201", "IGOT-03", "2026-02-30", ""),  # 5: no such day
            ("PNO201", "IGOT-04", "2026-03-01", ""),  # 6: in the future
            ("PNO201", "IGOT-05", "2019-12-31", ""),  # 7: before the portal
            ("PNO201", "MSK-ASSESS", "2026-01-05", "150"),  # 8: score out of range
            ("PNO201", "IGOT-01", "2026-01-06", ""),  # 9: same officer and module as line 2
        ]
    )
    response = await t.import_csv(bad)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "igot_import_invalid" and detail["hi"] and detail["en"]
    problems = [(p["line"], p["field"], p["en"]) for p in detail["report"]["problems"]]
    assert problems == [
        (3, "service_number", "Unknown officer"),
        (4, "module_id", "Unknown module 'IGOT-99'"),
        (5, "completed_at", "Not a date"),
        (6, "completed_at", "The date is in the future"),
        (7, "completed_at", "The date is before the iGOT portal existed"),
        (8, "score", "The score is not a number from 0 to 100"),
        (9, "", "Same officer and module as line 2"),
    ]
    assert all(p["hi"] for p in detail["report"]["problems"])
    assert await t.ctx.store.last_sequence() == before  # nothing half-imported
    assert "ModuleCompleted" not in await t.event_types("PNO201")
    sp = await t.client.post(
        "/api/training/imports/igot",
        files={"file": ("igot.csv", bad.encode(), "text/csv")},
        headers=t.headers(Role.SP, district="SJP"),
    )
    assert sp.status_code == 403  # an operator's task


async def test_a_good_file_certifies_and_the_same_file_again_changes_nothing(training: Training) -> None:
    t = training
    await t.routing.jurisdiction()
    for sn in ("PNO301", "PNO302"):
        await t.routing.post(sn, "MSK-SJP-KATRA")
    await eventually(lambda: _assigned(t, "PNO302"))
    await t.settled()
    day = NOW - timedelta(days=2)
    rows = full_course("PNO301", day) + full_course("PNO302", day, skip=["IGOT-07"])
    text = igot_csv(rows)
    first = await t.import_csv(text)
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["lines"], report["officers"], report["recorded"], report["certified"]) == (45, 2, 45, 1)
    after_first = await t.ctx.store.last_sequence()
    assert (await t.record("PNO301")).certified and not (await t.record("PNO302")).certified

    again = (await t.import_csv(text)).json()
    assert (again["recorded"], again["certified"]) == (0, 0)
    assert await t.ctx.store.last_sequence() == after_first

    # A later, cumulative export: the old lines are already on the records, only the new one counts.
    cumulative = (
        await t.import_csv(igot_csv([*rows, ("PNO302", "IGOT-07", NOW.date().isoformat(), "")]))
    ).json()
    assert (cumulative["recorded"], cumulative["certified"]) == (1, 1)
    completions = [e for e in await t.events("PNO302") if isinstance(e, ModuleCompleted)]
    assert len(completions) == 23 and len({c.module_id for c in completions}) == 23
    assert all(c.source.startswith("igot_import:") for c in completions)


async def _assigned(t: Training, service_number: str) -> bool:
    return "TrainingAssigned" in await t.event_types(service_number)
