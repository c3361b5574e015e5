"""Against real NATS and both databases: postings assign the curriculum, a programme like the article's
counts modules for those present, certification comes on the last required module, and the
certificate can be printed and verified (publicly, revealing only name, rank and validity)."""

from __future__ import annotations

from nats.aio.client import Client as NatsClient

from services.training.domain import Programme
from services.training.tests.conftest import Training, igot_csv, running
from shared.clock import ManualClock
from shared.contracts.training import AttendanceMarked, OfficerCertified, TrainingAssigned
from shared.roles import Role
from tests.waiting import eventually

ARTICLE = {
    "programme_id": "SJP-2026-01-10-RPL",
    "title_hi": "मिशन शक्ति केन्द्रों में नियुक्त अधिकारी/कर्मचारियों का विशेष प्रशिक्षण कार्यक्रम",
    "title_en": "Special training programme for the officers and staff of the Mission Shakti Kendras",
    "ordered_by": "Superintendent of Police, Shahjahanpur",
    "directed_by": "Additional SP (Rural), Shahjahanpur",
    "organised_by": "Circle Officer's office, Shahjahanpur",
    "venue": "Reserve Police Lines auditorium, Shahjahanpur",
    "date": "2026-01-10",
    "district": "SJP",
    "invited_kendras": ["MSK-SJP-KATRA", "MSK-SJP-SADAR-BAZAR"],
}


async def test_programme_attendance_counts_modules_for_those_present_and_certifies(
    training_on_both: Training,
) -> None:
    t = training_on_both
    await t.routing.jurisdiction()
    for sn, kendra in [
        ("PNO101", "MSK-SJP-KATRA"),
        ("PNO102", "MSK-SJP-KATRA"),
        ("PNO103", "MSK-SJP-SADAR-BAZAR"),
        ("PNO104", "MSK-SJP-SADAR-BAZAR"),
    ]:
        await t.routing.post(sn, kendra)

    async def all_assigned() -> bool:
        types = [await t.event_types(sn) for sn in ("PNO101", "PNO102", "PNO103", "PNO104")]
        return all("TrainingAssigned" in of_one for of_one in types)

    await eventually(all_assigned, what="the curriculum assigned on posting")
    [event] = await t.events("PNO101")
    assert (
        isinstance(event, TrainingAssigned) and len(event.modules) == 23 and event.kendra == "MSK-SJP-KATRA"
    )

    body = {**ARTICLE, "modules": list(t.policy.required)}
    created = await t.client.post(
        "/api/training/programmes", json=body, headers=t.headers(Role.SP, district="SJP")
    )
    assert created.status_code == 201, created.text
    other_sp = t.headers(Role.SP, district="BLY", username="sp-bareilly")
    assert (await t.client.post("/api/training/programmes", json=body, headers=other_sp)).status_code == 404
    # Issue 12: re-posting another district's programme id for one's own district answered with that
    # district's plan. Now the id is taken, and nothing of the plan is shown.
    theirs = await t.client.post(
        "/api/training/programmes", json={**body, "district": "BLY"}, headers=other_sp
    )
    assert theirs.status_code == 409 and theirs.json()["detail"]["code"] == "programme_exists"
    assert str(ARTICLE["venue"]) not in theirs.text and str(ARTICLE["title_en"]) not in theirs.text
    again = await t.client.post(
        "/api/training/programmes", json=body, headers=t.headers(Role.SP, district="SJP")
    )
    assert again.status_code == 201 and again.json() == created.json()
    await t.settled()
    marks = {
        "marks": [
            {"service_number": "PNO101", "present": True, "score": 72},
            {"service_number": "PNO102", "present": True, "score": 45},
            {"service_number": "PNO103", "present": False},
        ]
    }
    pid = ARTICLE["programme_id"]
    marked = await t.client.post(
        f"/api/training/programmes/{pid}/attendance", json=marks, headers=t.headers(Role.SP, district="SJP")
    )
    assert marked.status_code == 200 and marked.json()["marked"] == 3
    unknown = {"marks": [{"service_number": "PNO999", "present": True}]}
    refused = await t.client.post(
        f"/api/training/programmes/{pid}/attendance", json=unknown, headers=t.headers(Role.SP, district="SJP")
    )
    assert refused.status_code == 409 and refused.json()["detail"]["hi"]
    done = await t.client.post(
        f"/api/training/programmes/{pid}/complete", headers=t.headers(Role.SP, district="SJP")
    )
    assert done.status_code == 200

    async def credited() -> bool:
        return "OfficerCertified" in await t.event_types(
            "PNO101"
        ) and "ModuleCompleted" in await t.event_types("PNO102")

    await eventually(credited, what="modules credited after the programme")
    assert (await t.record("PNO101")).certified
    pno102 = await t.record("PNO102")
    assert not pno102.certified and pno102.missing(t.policy) == ["MSK-ASSESS"]  # 45 is below the pass mark
    assert "ModuleCompleted" not in await t.event_types("PNO103")  # absent

    await t.settled()
    report = (
        await t.client.get(f"/api/training/programmes/{pid}", headers=t.headers(Role.SP, district="SJP"))
    ).json()
    assert [(a["service_number"], a["score"]) for a in report["attended"]] == [
        ("PNO101", 72.0),
        ("PNO102", 45.0),
    ]
    assert [(m["service_number"], m["marked_absent"]) for m in report["missed"]] == [
        ("PNO103", True),
        ("PNO104", False),
    ]
    assert report["invited"] == 4 and report["venue"] == ARTICLE["venue"] and report["completed"] is True
    again = await t.client.post(
        f"/api/training/programmes/{pid}/attendance", json=marks, headers=t.headers(Role.SP, district="SJP")
    )
    assert again.status_code == 409 and again.json()["detail"]["code"] == "programme_completed"

    # The iGOT export supplies PNO102's passed assessment: the last module, so the certificate comes now.
    imported = await t.import_csv(igot_csv([("PNO102", "MSK-ASSESS", "2026-01-09", "64")]))
    assert imported.status_code == 200 and imported.json()["certified"] == 1
    certified = (await t.events("PNO102"))[-1]
    assert isinstance(certified, OfficerCertified)

    await t.settled()
    record = (
        await t.client.get("/api/training/officers/PNO102", headers=t.headers(Role.SP, district="SJP"))
    ).json()
    assert [c["certificate_id"] for c in record["certificates"]] == [certified.certificate_id]
    assert record["outstanding"] == []
    co_elsewhere = t.headers(Role.CO, district="SJP", circle="SJP-NAGAR")
    assert (await t.client.get("/api/training/officers/PNO102", headers=co_elsewhere)).status_code == 404
    own = t.headers(Role.KENDRA_OFFICER, service_number="PNO102", thana="SJP-KATRA")
    assert (await t.client.get("/api/training/officers/PNO102", headers=own)).status_code == 200
    # A colleague at the same Kendra reads her own record only, and lists only herself.
    colleague = t.headers(Role.KENDRA_OFFICER, service_number="PNO103", district="SJP", thana="SJP-KATRA")
    assert (await t.client.get("/api/training/officers/PNO102", headers=colleague)).status_code == 404
    listed = (await t.client.get("/api/training/officers", headers=colleague)).json()
    assert {o["service_number"] for o in listed} <= {"PNO103"}

    page = await t.client.get(f"/api/training/certificates/{certified.certificate_id}", headers=own)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for text in (
        "मिशन शक्ति केन्द्र प्रमाणित",
        "Mission Shakti Kendra certified",
        "Officer PNO102",
        "IGOT-21",
        "वैध",
    ):
        assert text in page.text
    ask_json = {"Accept": "application/json"}
    verified = await t.client.get(  # no sign-in
        f"/api/training/verify/{certified.certificate_id}", headers={"Accept": "application/json"}
    )
    assert verified.status_code == 200
    answer = verified.json()
    assert set(answer) == {
        "certificate_id",
        "name",
        "rank",
        "rank_hi",
        "rank_en",
        "status",
        "status_hi",
        "status_en",
        "issued_on",
        "valid_until",
    }
    assert (
        answer["name"] == "Officer PNO102"
        and answer["status"] == "valid"
        and answer["valid_until"] == "2027-01-10"
    )
    assert (
        await t.client.get("/api/training/verify/MSKC-0000-0000-0000-0000", headers=ask_json)
    ).status_code == 404
    assert (await t.client.get("/api/training/officers/PNO102")).status_code == 401


async def test_an_attendance_sheet_sent_again_under_its_key_is_the_first_answer_and_another_is_refused(
    training: Training,
) -> None:
    t = training
    await t.routing.jurisdiction()
    for sn in ("PNO201", "PNO202"):
        await t.routing.post(sn, "MSK-SJP-KATRA")
    sp = t.headers(Role.SP, district="SJP")
    body = {**ARTICLE, "programme_id": "SJP-KEYED", "modules": list(t.policy.required)}
    assert (await t.client.post("/api/training/programmes", json=body, headers=sp)).status_code == 201
    await t.settled()
    keyed = {**sp, "Idempotency-Key": "sheet-1"}
    sheet = {"marks": [{"service_number": "PNO201", "present": True, "score": 80}]}
    first = await t.client.post("/api/training/programmes/SJP-KEYED/attendance", json=sheet, headers=keyed)
    assert first.status_code == 200 and first.json()["marked"] == 1
    again = await t.client.post("/api/training/programmes/SJP-KEYED/attendance", json=sheet, headers=keyed)
    assert again.status_code == 200 and again.json() == first.json()
    other = {"marks": [{"service_number": "PNO202", "present": True, "score": 80}]}
    refused = await t.client.post("/api/training/programmes/SJP-KEYED/attendance", json=other, headers=keyed)
    assert refused.status_code == 409 and refused.json()["detail"]["code"] == "idempotency_key_reused"
    history = await t.ctx.repository(Programme).history("SJP-KEYED")
    marked = [e.event() for e in history]
    assert [m.service_number for m in marked if isinstance(m, AttendanceMarked)] == ["PNO201"]


async def test_a_programme_or_officer_just_written_is_found_though_the_read_model_holds_its_event(
    nats_url: str, nats_client: NatsClient, sqlite_url: str, clock: ManualClock
) -> None:
    """The organiser's client opens the programme it has just scheduled; the read model still holds the
    event for its gathering window (longer than a look waits). It answered 404 (CI saw the demo's
    programme missing so); now the look that finds nothing has the read model apply what it holds."""
    async with running(nats_url, nats_client, sqlite_url, clock, gather_ms=60_000) as t:
        await t.routing.jurisdiction()
        await t.routing.post("PNO101", "MSK-SJP-KATRA")
        sp = t.headers(Role.SP, district="SJP")
        # Routing posted her a moment ago: her record is found too (the roster's burst applied by it).
        officer = await t.client.get("/api/training/officers/PNO101", headers=sp)
        assert officer.status_code == 200, officer.text
        body = {**ARTICLE, "modules": list(t.policy.required)}
        assert (await t.client.post("/api/training/programmes", json=body, headers=sp)).status_code == 201
        report = await t.client.get(f"/api/training/programmes/{ARTICLE['programme_id']}", headers=sp)
        assert report.status_code == 200, report.text
        assert report.json()["programme_id"] == ARTICLE["programme_id"]
        unknown = await t.client.get("/api/training/programmes/NO-SUCH-PROGRAMME", headers=sp)
        assert unknown.status_code == 404
        # Another district's SP is told what a programme that does not exist is told; it said "District
        # SJP not found", which named where the programme was.
        elsewhere = t.headers(Role.SP, district="BLY", username="sp-bareilly")
        pid = ARTICLE["programme_id"]
        theirs = await t.client.get(f"/api/training/programmes/{pid}", headers=elsewhere)
        assert theirs.status_code == 404
        assert theirs.json()["detail"]["en"] == f"Training programme {pid} not found", theirs.text
        # And so is an attendance sheet sent for it (it too said "District SJP not found").
        sheet = {"marks": [{"service_number": "PNO101", "present": True, "score": 80}]}
        sent = await t.client.post(
            f"/api/training/programmes/{pid}/attendance", json=sheet, headers=elsewhere
        )
        assert sent.status_code == 404 and sent.json()["detail"] == theirs.json()["detail"], sent.text
        # An officer posted a moment ago is marked present, not refused as unknown.
        await t.routing.post("PNO102", "MSK-SJP-KATRA")
        marks = {"marks": [{"service_number": "PNO102", "present": True, "score": 80}]}
        path = f"/api/training/programmes/{ARTICLE['programme_id']}/attendance"
        marked = await t.client.post(path, json=marks, headers=sp)
        assert marked.status_code == 200 and marked.json()["marked"] == 1, marked.text
        stranger = {"marks": [{"service_number": "PNO999", "present": True, "score": 80}]}
        refused = await t.client.post(path, json=stranger, headers=sp)
        assert refused.status_code == 409 and refused.json()["detail"]["code"] == "unknown_officer"
