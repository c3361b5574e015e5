"""Against real NATS, with the manual clock: overdue training, lapse at expiry and renewal, retraining
when a module's new version requires it, and the compliance roll-up (thana -> circle -> district ->
state) whose figures add up at every level, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NatsClient

from services.training.domain import LAPSED_EXPIRED, LAPSED_RETRAINING_OVERDUE, Module
from services.training.tests.conftest import Training, curriculum_with, full_course, igot_csv, running
from shared.clock import ManualClock
from shared.contracts.routing import CircleDefined, DistrictDefined, ThanaDefined
from shared.contracts.training import (
    CertificationLapsed,
    OfficerCertified,
    RetrainingRequired,
    TrainingAssigned,
    TrainingOverdue,
)
from shared.events import Event
from shared.roles import Role
from tests.waiting import eventually

COUNTS = ("staff", "certified", "overdue", "lapsing")


async def post_and_wait(t: Training, postings: dict[str, str]) -> None:
    for sn, kendra in postings.items():
        await t.routing.post(sn, kendra)

    async def assigned() -> bool:
        for sn in postings:
            if "TrainingAssigned" not in await t.event_types(sn):
                return False
        return True

    await eventually(assigned, what="assignments on posting")
    await t.settled()


async def certify(t: Training, *service_numbers: str) -> None:
    day = t.clock.now() - timedelta(days=1)
    rows = [row for sn in service_numbers for row in full_course(sn, day)]
    response = await t.import_csv(igot_csv(rows))
    assert response.status_code == 200 and response.json()["certified"] == len(service_numbers), response.text


def of_type(events: list[Event], cls: type[Event]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


async def wait_for(t: Training, service_number: str, cls: type[Event], count: int = 1) -> list[Any]:
    async def arrived() -> bool:
        return len(of_type(await t.events(service_number), cls)) >= count

    await eventually(arrived, what=f"{cls.event_type} x{count} for {service_number}")
    return of_type(await t.events(service_number), cls)


def adds_up(node: dict[str, Any]) -> int:
    """Check every parent equals the sum of its children; returns how many parents were checked."""
    checked = 0
    if node["children"]:
        for count in COUNTS:
            assert node[count] == sum(c[count] for c in node["children"]), (node["code"], count)
        checked += 1
    for child in node["children"]:
        checked += adds_up(child)
        assert child["staff"] == 0 or child["certified_share"] == round(
            child["certified"] / child["staff"], 4
        )
    return checked


def figures(node: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """``level:code`` -> counts (a circle and a thana may share a code, as Tilhar's do)."""
    out = {f"{node['level']}:{node['code']}": tuple(node[c] for c in COUNTS)}
    for child in node["children"]:
        out |= figures(child)
    return out


async def test_compliance_roll_up_adds_up_at_every_level(training_on_both: Training) -> None:
    t = training_on_both
    await t.routing.jurisdiction()
    await post_and_wait(
        t,
        {
            "PNO401": "MSK-SJP-SADAR-BAZAR",
            "PNO402": "MSK-SJP-SADAR-BAZAR",
            "PNO405": "MSK-SJP-KATRA",
            "PNO406": "MSK-BLY-KOTWALI",
        },
    )
    await certify(t, "PNO401", "PNO405")  # valid until 10 Jan 2027
    t.clock.advance(timedelta(days=340))  # 16 Dec 2026: those two lapse within 30 days
    await post_and_wait(t, {"PNO403": "MSK-SJP-KOTWALI", "PNO404": "MSK-SJP-KATRA"})
    await certify(t, "PNO403")
    for late in ("PNO402", "PNO406"):  # posted 340 days ago with 60 days to train
        [overdue] = await wait_for(t, late, TrainingOverdue)
        assert len(overdue.modules) == 23
    await t.settled()

    state = (await t.client.get("/api/training/compliance", headers=t.headers(Role.STATE_CELL))).json()
    assert adds_up(state) == 6  # the state, two districts, three circles
    got = figures(state)
    assert got == {
        "state:UP": (6, 3, 2, 2),
        "district:BLY": (1, 0, 1, 0),
        "circle:BLY-NAGAR": (1, 0, 1, 0),
        "thana:BLY-KOTWALI": (1, 0, 1, 0),
        "district:SJP": (5, 3, 1, 2),
        "circle:SJP-NAGAR": (3, 2, 1, 1),
        "thana:SJP-KOTWALI": (1, 1, 0, 0),
        "thana:SJP-SADAR-BAZAR": (2, 1, 1, 1),
        "circle:SJP-TILHAR": (2, 1, 0, 1),
        "thana:SJP-KATRA": (2, 1, 0, 1),
        "thana:SJP-TILHAR": (0, 0, 0, 0),
    }
    [tilhar_thana] = [
        th for c in state["children"][1]["children"] for th in c["children"] if th["code"] == "SJP-TILHAR"
    ]
    assert tilhar_thana["staff"] == 0 and tilhar_thana["certified_share"] is None
    assert state["certified_share"] == 0.5 and state["name_hi"] == "उत्तर प्रदेश"

    district = (
        await t.client.get("/api/training/compliance", headers=t.headers(Role.SP, district="SJP"))
    ).json()
    assert district["code"] == "SJP" and figures(district) == {k: v for k, v in got.items() if ":SJP" in k}
    co = t.headers(Role.CO, district="SJP", circle="SJP-TILHAR")
    circle = (await t.client.get("/api/training/compliance", headers=co)).json()
    assert circle["level"] == "circle" and (circle["staff"], len(circle["children"])) == (2, 2)
    sho = t.headers(Role.SHO, district="SJP", circle="SJP-NAGAR", thana="SJP-SADAR-BAZAR")
    thana = (await t.client.get("/api/training/compliance", headers=sho)).json()
    assert (thana["level"], thana["staff"], thana["overdue"]) == ("thana", 2, 1)
    officer = t.headers(Role.KENDRA_OFFICER, district="SJP", thana="SJP-KATRA")
    assert (await t.client.get("/api/training/compliance", headers=officer)).status_code == 403

    listed = (await t.client.get("/api/training/officers", headers=sho)).json()
    assert [(o["service_number"], o["certified"], o["overdue"]) for o in listed] == [
        ("PNO401", True, False),
        ("PNO402", False, True),
    ]


async def test_overdue_once_lapse_at_expiry_and_renewal(training: Training) -> None:
    t = training
    await t.routing.jurisdiction()
    await post_and_wait(t, {"PNO501": "MSK-SJP-KATRA"})
    await certify(t, "PNO501")
    [certificate] = of_type(await t.events("PNO501"), OfficerCertified)

    t.clock.set(certificate.valid_until + timedelta(minutes=1))
    [lapsed] = await wait_for(t, "PNO501", CertificationLapsed)
    assert lapsed.why == LAPSED_EXPIRED and lapsed.certificate_id == certificate.certificate_id
    renewal = [a for a in of_type(await t.events("PNO501"), TrainingAssigned) if a.reason == "renewal"]
    assert [a.modules for a in renewal] == [["MSK-SOP", "MSK-ASSESS"]]
    await t.settled()
    verified = (
        await t.client.get(
            f"/api/training/verify/{certificate.certificate_id}", headers={"Accept": "application/json"}
        )
    ).json()
    assert verified["status"] == "lapsed" and verified["status_hi"]

    t.clock.set(renewal[0].due_at + timedelta(hours=1))
    [overdue] = await wait_for(t, "PNO501", TrainingOverdue)
    assert overdue.modules == ["MSK-ASSESS", "MSK-SOP"] and overdue.due_at == renewal[0].due_at
    # Another officer falls overdue later: once the timer has reported that, it has looked at PNO501
    # again at a later time, and reported nothing twice.
    await post_and_wait(t, {"PNO502": "MSK-SJP-KATRA"})
    t.clock.advance(timedelta(days=61))
    await wait_for(t, "PNO502", TrainingOverdue)
    assert len(of_type(await t.events("PNO501"), TrainingOverdue)) == 1

    today = t.clock.now().date().isoformat()
    refresher = igot_csv([("PNO501", "MSK-SOP", today, ""), ("PNO501", "MSK-ASSESS", today, "81")])
    assert (await t.import_csv(refresher)).json()["certified"] == 1
    renewed = of_type(await t.events("PNO501"), OfficerCertified)[-1]
    assert renewed.valid_until > certificate.valid_until + timedelta(days=365)
    await t.settled()
    record = (await t.client.get("/api/training/officers/PNO501", headers=t.headers(Role.OPERATOR))).json()
    assert [c["status"] for c in record["certificates"]] == ["lapsed", "valid"]
    assert record["outstanding"] == []


async def test_a_new_module_version_requires_retraining_and_lapses_those_who_do_not(
    nats_url: str, nats_client: NatsClient, sqlite_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    async with running(nats_url, nats_client, sqlite_url, clock) as t:
        await t.routing.jurisdiction()
        await post_and_wait(t, {"PNO601": "MSK-SJP-KATRA", "PNO602": "MSK-SJP-KATRA"})
        await certify(t, "PNO601")
        [certificate] = of_type(await t.events("PNO601"), OfficerCertified)

    clock.advance(timedelta(days=30))
    version_two = curriculum_with(tmp_path, **{"IGOT-05": (2, 2)})
    async with running(nats_url, nats_client, sqlite_url, clock, curriculum=version_two) as t:
        modules = t.ctx.repository(Module)
        assert [len(await modules.history(m)) for m in ("IGOT-04", "IGOT-05")] == [1, 2]  # only the change
        [retrain] = await wait_for(t, "PNO601", RetrainingRequired)
        assert (retrain.module_id, retrain.version) == ("IGOT-05", 2)
        assert retrain.due_at == clock.now() + timedelta(days=90)
        assert "RetrainingRequired" not in await t.event_types("PNO602")  # never took the old version
        assert (await t.record("PNO601")).certified  # until the retraining falls due
        await t.settled()
        curriculum = (await t.client.get("/api/training/curriculum", headers=t.headers(Role.OPERATOR))).json()
        assert {m["module_id"]: m["version"] for m in curriculum["modules"]}["IGOT-05"] == 2

        clock.set(retrain.due_at + timedelta(minutes=5))
        [lapsed] = await wait_for(t, "PNO601", CertificationLapsed)
        assert lapsed.why == LAPSED_RETRAINING_OVERDUE
        [overdue] = of_type(await t.events("PNO601"), TrainingOverdue)
        assert overdue.modules == ["IGOT-05"]

        today = clock.now().date().isoformat()
        assert (await t.import_csv(igot_csv([("PNO601", "IGOT-05", today, "")]))).json()["certified"] == 1
        again = of_type(await t.events("PNO601"), OfficerCertified)[-1]
        assert again.valid_until == certificate.valid_until  # retrained: the same term, not a new one
        assert again.certificate_id != certificate.certificate_id


async def test_two_replicas_report_overdue_training_once(
    nats_url: str, nats_client: NatsClient, postgres_url: str, clock: ManualClock
) -> None:
    async with (
        running(nats_url, nats_client, postgres_url, clock) as one,
        running(nats_url, nats_client, postgres_url, clock) as other,
    ):
        await one.routing.jurisdiction()
        for round_ in range(3):  # each round both replicas' timers see a new officer fall overdue
            officer = f"PNO70{round_}"
            await post_and_wait(one, {officer: "MSK-SJP-KATRA"})
            clock.advance(timedelta(days=61))
            await wait_for(other, officer, TrainingOverdue)
        await one.settled()
        for round_ in range(3):
            assert len(of_type(await one.events(f"PNO70{round_}"), TrainingOverdue)) == 1


async def test_a_circle_and_a_thana_sharing_a_code_keep_their_own_names(training: Training) -> None:
    # Tilhar is both a circle and one of its thanas (as in Shahjahanpur): each keeps its names in the
    # roll-up, whichever routing defined last.
    t = training
    await t.routing.append(
        "district",
        "KHR",
        DistrictDefined(code="KHR", name_hi="खीरी", name_en="Kheri"),
        CircleDefined(code="KHR-GOLA", district="KHR", name_hi="गोला सर्किल", name_en="Gola circle"),
        ThanaDefined(
            code="KHR-GOLA", district="KHR", circle="KHR-GOLA", name_hi="गोला थाना", name_en="Gola thana"
        ),
    )
    await t.settled()

    state = (await t.client.get("/api/training/compliance", headers=t.headers(Role.STATE_CELL))).json()
    [district] = [d for d in state["children"] if d["code"] == "KHR"]
    [circle] = district["children"]
    [thana] = circle["children"]
    assert (circle["level"], circle["name_hi"], circle["name_en"]) == ("circle", "गोला सर्किल", "Gola circle")
    assert (thana["level"], thana["name_hi"], thana["name_en"]) == ("thana", "गोला थाना", "Gola thana")
