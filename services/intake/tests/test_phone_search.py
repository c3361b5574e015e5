"""A complainant's earlier cases, found by her phone through its blind index (issue 15): inside the
caller's jurisdiction only, never the phone in an answer, every search and every case shown recorded,
an erased case never found again, not even after a rebuild."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import event, select

from services.intake import commands as intake_commands
from services.intake.read_model.tables import CaseTables
from services.intake.tests.conftest import CO, INCHARGE, OFFICER, OTHER_THANA, STATE, Intake, complaint
from shakti.platform import definition
from shared.auth import Principal
from shared.consistency import check_service
from shared.contracts.intake import EarlierCasesSearched, IdentityViewed
from shared.eventstore import EventStore
from shared.settings import Settings
from tests.sessions import keys_for_tests
from tests.waiting import eventually

HERS = "9123400001"
HERS_AGAIN = "+919123400001"
ANOTHER_WOMANS = "9123400002"


async def search(intake: Intake, phone: str, principal: Principal = OFFICER) -> httpx.Response:
    return await intake.client.post(
        "/api/intake/cases/by-phone", json={"phone": phone}, headers=intake.as_(principal)
    )


async def found(intake: Intake, phone: str, numbers: set[str], principal: Principal = OFFICER) -> Any:
    """The search's answer, once it shows exactly these case numbers (the register follows the stream)."""
    answer: dict[str, Any] = {}

    async def shown() -> bool:
        response = await search(intake, phone, principal)
        assert response.status_code == 200, response.text
        answer.update(response.json(), text=response.text)
        return {c["case_number"] for c in answer["cases"]} == numbers

    await eventually(shown, what=f"the search to show {sorted(numbers)}")
    return answer


async def register_with(intake: Intake, phone: str) -> dict[str, Any]:
    case = await intake.register(
        identity=complaint()["identity"] | {"phone": phone}, description="Threatened again."
    )
    await intake.case(case["case_id"])
    return case


async def index_rows(intake: Intake) -> dict[str, str]:
    register = intake.runner.context.projector("intake_cases") if intake.runner.context else None
    assert register is not None
    tables: CaseTables = register.tables
    async with register.sessions() as session:
        return {r.case_id: r.phone_index for r in await session.execute(select(tables.phones))}


async def test_her_two_cases_are_found_by_her_number_and_not_another_womans(
    intake: Intake, nats_client: NatsClient
) -> None:
    first = await register_with(intake, HERS)
    second = await register_with(intake, HERS_AGAIN)
    other = await register_with(intake, ANOTHER_WOMANS)
    hers = {first["case_number"], second["case_number"]}

    answer = await found(intake, "091234-00001", hers)
    assert answer["capped"] is False and answer["max"] == intake_commands.MAX_EARLIER_CASES
    for case in answer["cases"]:
        assert case["registered_at_ist"].endswith(" IST")
        assert case["labels"]["thana"] == {"en": "Katra", "hi": "कटरा"}
        assert case["labels"]["status"]["en"] and case["labels"]["status"]["hi"]
    assert HERS not in answer["text"] and "phone" not in answer["text"]
    assert "phone_index" not in (await intake.get(f"/cases/{first['case_id']}")).text
    await found(intake, ANOTHER_WOMANS, {other["case_number"]})
    await found(intake, "9123400003", set())

    # Supervisors within their jurisdiction find them too; outside it nothing is found.
    await found(intake, HERS, hers, CO)
    await found(intake, HERS, set(), OTHER_THANA)
    assert (await search(intake, HERS, STATE)).status_code == 403

    # Every search is recorded (found or not); every case it showed records an identity reading.
    store = EventStore(nats_client, "intake")
    viewed = [
        e.event()
        for e in await store.load("case", first["case_id"])
        if e.event_type == IdentityViewed.event_type
    ]
    assert viewed and all(v.purpose == "earlier_cases" for v in viewed)  # type: ignore[attr-defined]
    searches = [
        e.event()
        async for e in store.scan(
            "INTAKE", "shakti.intake.phone-search.*", {EarlierCasesSearched.event_type}, after=0
        )
    ]
    assert len(searches) >= 5  # one per search answered above (the refused one is not a search)
    assert {s.found for s in searches} >= {0, 1, 2}  # type: ignore[attr-defined]


async def test_an_erased_case_is_not_found_and_its_index_is_gone_even_after_a_rebuild(
    intake: Intake,
) -> None:
    kept = await register_with(intake, HERS)
    erased = await register_with(intake, HERS_AGAIN)
    await found(intake, HERS, {kept["case_number"], erased["case_number"]})
    assert set(await index_rows(intake)) >= {kept["case_id"], erased["case_id"]}

    response = await intake.command(
        erased["case_id"], "erase-identity", {"legal_basis": "dpdp_request"}, principal=INCHARGE
    )
    assert response.status_code == 200, response.text
    await found(intake, HERS, {kept["case_number"]})  # (the search skips a case erased meanwhile)

    async def unlinked() -> bool:
        return erased["case_id"] not in await index_rows(intake)

    await eventually(unlinked, what="the erased case's index gone from the register")

    register = intake.runner.context.projector("intake_cases") if intake.runner.context else None
    assert register is not None
    await register.rebuild()
    rebuilt = await index_rows(intake)
    assert kept["case_id"] in rebuilt and erased["case_id"] not in rebuilt
    await found(intake, HERS, {kept["case_number"]})


async def test_a_search_shows_a_few_cases_and_refuses_what_is_not_a_number(
    intake_sqlite: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = intake_sqlite
    monkeypatch.setattr(intake_commands, "MAX_EARLIER_CASES", 2)
    numbers = {(await register_with(intake, HERS))["case_number"] for _ in range(3)}
    answer = await found(intake, HERS, set(sorted(numbers)[1:]))  # the newest two
    assert answer["capped"] is True

    refused = await search(intake, "98765-CALL-ME")
    assert refused.status_code == 422 and "CALL-ME" not in refused.text
    detail = refused.json()["detail"]
    assert detail["fields"][0]["field"] == "phone" and detail["hi"]
    assert (await search(intake, "9" * 30)).status_code == 422


async def test_searching_number_after_number_is_stopped(intake_sqlite: Intake) -> None:
    answers = [(await search(intake_sqlite, f"91234{n:05d}")).status_code for n in range(31)]
    assert answers[:30] == [200] * 30 and answers[30] == 429
    # Another officer has her own allowance.
    assert (await search(intake_sqlite, HERS, INCHARGE)).status_code == 200


async def test_a_rebuild_reads_the_keys_of_a_batch_of_registrations_at_once(intake_sqlite: Intake) -> None:
    """A rebuild indexes every registration from its sealed identity: one read of the key store per
    batch of events, not one per case (100,000 cases would be 100,000 queries)."""
    intake = intake_sqlite
    for _ in range(6):
        await register_with(intake, HERS)
    register = intake.runner.context.projector("intake_cases") if intake.runner.context else None
    assert register is not None
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM intake_identity_key" in statement:
            reads.append(statement)

    event.listen(register.engine.sync_engine, "before_cursor_execute", count)
    try:
        await register.rebuild()
    finally:
        event.remove(register.engine.sync_engine, "before_cursor_execute", count)
    assert 1 <= len(reads) <= 2, reads  # the batch's registrations (a second batch at most)
    assert len(await index_rows(intake)) == 6


async def test_nobody_opens_an_identity_under_the_searchs_own_purpose(intake_sqlite: Intake) -> None:
    """``earlier_cases`` is what a search by phone records on the cases it shows; a viewing of the
    identity or a file says why it was opened, and it cannot borrow that purpose."""
    case = await register_with(intake_sqlite, HERS)
    for path in (f"/cases/{case['case_id']}/identity", f"/cases/{case['case_id']}/attachments/{'0' * 32}"):
        refused = await intake_sqlite.get(path, purpose="earlier_cases")
        assert refused.status_code == 422, (path, refused.text)
        assert refused.json()["detail"]["fields"][0]["field"] == "purpose"
    choices = (await intake_sqlite.get("/choices")).json()
    assert "earlier_cases" not in {c["code"] for c in choices["view_purposes"]}


async def test_shakti_check_rebuilds_the_register_and_its_phone_index_in_its_scratch_database(
    intake_sqlite: Intake, nats_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    """`shakti check intake` rebuilds the register into a scratch database, where the key store is not:
    the index read the keys from the batch's database and failed (no such table: CI's crash test)."""
    case_id = (await intake_sqlite.register())["case_id"]
    await intake_sqlite.case(case_id)
    settings = Settings(keys_dir=keys_for_tests(), data_dir=tmp_path)
    report = await check_service(definition("intake"), settings, nats_url=nats_url, database_url=sqlite_url)
    assert report.consistent, "\n".join(report.lines())
