"""Bad input gets a bilingual 422 naming the field (never a 500); places are checked against the
jurisdiction routing imported; repeating a request with its idempotency key returns the first answer."""

from __future__ import annotations

import asyncio
from typing import Any

from nats.aio.client import Client as NatsClient

from services.intake.tests.conftest import (
    JURISDICTION,
    OFFICER,
    SP,
    Intake,
    complaint,
    import_jurisdiction,
    running_intake,
)
from shared.contracts.routing import CircleDefined, ThanaDefined, UnitRetired
from shared.eventstore import CommandMeta, EventStore
from tests.waiting import eventually


def refusal(response: Any, code: str = "invalid") -> dict[str, dict[str, Any]]:
    """The refused fields of a bilingual 422, by field name."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail["code"] == code and detail["en"] and detail["hi"]
    for problem in detail["fields"]:
        assert problem["en"] and problem["hi"] and problem["en"] != problem["hi"]
    return {p["field"]: p for p in detail["fields"]}


async def register(intake: Intake, body: dict[str, Any], key: str = "k1") -> Any:
    return await intake.client.post("/api/intake/cases", json=body, headers=intake.as_(OFFICER, key))


async def test_missing_and_wrong_fields_are_named(intake_sqlite: Intake) -> None:
    body = complaint(channel="pigeon", minor="perhaps", colour="red")
    del body["category"]
    fields = refusal(await register(intake_sqlite, body))
    assert set(fields) == {"channel", "category", "minor", "colour"}
    assert "walk_in" in fields["channel"]["en"] and "walk_in" in fields["channel"]["hi"]
    assert fields["category"]["en"] == "This field is required."
    bad_phone = refusal(
        await register(intake_sqlite, complaint(identity={"name": "Asha", "phone": "call me"}))
    )
    assert set(bad_phone) == {"identity.phone"}
    assert "call me" not in str(bad_phone)  # a refusal never repeats what was sent: it may be identity
    codes = refusal(await register(intake_sqlite, complaint(district="sjp; drop", pincode="12345")))
    assert set(codes) == {"district", "pincode"}
    not_json = await intake_sqlite.client.post(
        "/api/intake/cases",
        content=b"{not json",
        headers=intake_sqlite.as_(OFFICER, "k") | {"content-type": "application/json"},
    )
    assert not_json.status_code == 422
    bad_id = await intake_sqlite.command("not-a-case-id", "notes", {"text": "x"})
    assert "case_id" in refusal(bad_id)


async def test_oversized_text_is_refused_with_its_limit(intake_sqlite: Intake) -> None:
    long = complaint(description="x" * 5001, identity={"name": "n" * 101, "statement": "s" * 10_001})
    fields = refusal(await register(intake_sqlite, long))
    assert {f: p["limit"] for f, p in fields.items()} == {
        "description": 5000,
        "identity.name": 100,
        "identity.statement": 10_000,
    }
    assert "5000" in fields["description"]["en"] and "5000" in fields["description"]["hi"]
    case = await intake_sqlite.register()
    note = refusal(await intake_sqlite.command(case["case_id"], "notes", {"text": "y" * 5001}))
    assert note["text"]["limit"] == 5000


async def test_unknown_district_or_thana_says_where_valid_codes_are(intake_sqlite: Intake) -> None:
    district = refusal(await register(intake_sqlite, complaint(district="XYZ")), "unknown_district")
    assert "XYZ" in district["district"]["en"] and "/api/intake/places" in district["district"]["en"]
    assert "/api/intake/places" in district["district"]["hi"]
    thana = refusal(await register(intake_sqlite, complaint(thana="SJP-NOWHERE")), "unknown_thana")
    assert "SJP-NOWHERE" in thana["thana"]["en"] and "district=SJP" in thana["thana"]["en"]
    # A Kendra's code is not a thana's.
    refusal(await register(intake_sqlite, complaint(thana="MSK-SJP-KATRA")), "unknown_thana")
    places = (await intake_sqlite.get("/places", district="SJP")).json()["places"]
    assert {"SJP-KATRA", "SJP-SADAR-BAZAR"} <= {p["code"] for p in places if p["kind"] == "thana"}
    # A locality is one of the jurisdiction's, named by its code; typed words go sealed, not here.
    assert "SJP-KATRA-01" in {p["code"] for p in places if p["kind"] == "locality"}
    unknown = refusal(
        await register(intake_sqlite, complaint(locality_code="SJP-NOWHERE-01")), "unknown_locality"
    )
    assert "SJP-NOWHERE-01" in unknown["locality_code"]["en"] and unknown["locality_code"]["hi"]
    refusal(await register(intake_sqlite, complaint(locality_code="SJP-KATRA")), "unknown_locality")
    typed = await register(intake_sqlite, complaint(locality="Katra bazaar"), key="typed")
    assert typed.status_code == 422  # no free text in clear: the field is gone from the request
    # Without a thana, a pincode or locality is enough: routing resolves it. With none of them, refused.
    by_pincode = await register(intake_sqlite, complaint(thana=None, pincode="242301"), key="pin")
    assert by_pincode.status_code == 201
    assert by_pincode.json()["case_number"] == "SJP-2026-000001"  # the refusals above spent no number
    by_locality = await register(
        intake_sqlite, complaint(thana=None, locality_code="SJP-KATRA-01"), key="loc"
    )
    assert by_locality.status_code == 201
    nothing = await register(intake_sqlite, complaint(thana=None), key="none")
    assert nothing.status_code == 409 and nothing.json()["detail"]["code"] == "place_missing"
    assert (await intake_sqlite.register())["case_number"] == "SJP-2026-000003"


async def test_a_retired_thana_or_locality_takes_no_new_complaint(
    intake_sqlite: Intake, nats_client: NatsClient
) -> None:
    """A re-imported jurisdiction that no longer lists a unit retires it: it takes no new cases. Intake
    accepted them and routing was left with a case at a place that is gone."""
    routing = EventStore(nats_client, "routing")
    await routing.append(
        "district", "SJP",
        [UnitRetired(level="thana", code="SJP-KATRA", district="SJP"),
         UnitRetired(level="locality", code="SJP-KATRA-01", district="SJP")],
        expected_sequence=await routing.last_sequence(), expected_version=len(JURISDICTION),
        meta=CommandMeta(command_id="reimport-sjp", actor="routing"),
    )  # fmt: skip

    async def gone() -> bool:
        places = (await intake_sqlite.get("/places", district="SJP")).json()["places"]
        return "SJP-KATRA" not in {p["code"] for p in places}

    await eventually(gone, what="intake reads the retirement")
    thana = refusal(await register(intake_sqlite, complaint(thana="SJP-KATRA"), key="r1"), "retired_place")
    assert "SJP-KATRA" in thana["thana"]["en"] and "SJP-KATRA" in thana["thana"]["hi"]
    locality = refusal(
        await register(intake_sqlite, complaint(thana=None, locality_code="SJP-KATRA-01"), key="r2"),
        "retired_place",
    )
    assert "SJP-KATRA-01" in locality["locality_code"]["en"]
    assert (await register(intake_sqlite, complaint(thana="SJP-SADAR-BAZAR"), key="r3")).status_code == 201


async def test_before_any_jurisdiction_is_imported_intake_says_so(
    nats_client: NatsClient, nats_url: str, sqlite_url: str
) -> None:
    async with running_intake(nats_client, nats_url, sqlite_url) as intake:
        fields = refusal(await register(intake, complaint()), "no_jurisdiction")
        assert (
            "shakti routing import" in fields["district"]["en"]
            and "shakti routing import" in fields["district"]["hi"]
        )
        assert await EventStore(nats_client, "intake").last_sequence() == 0  # no number was spent


async def test_a_registration_right_after_the_import_waits_for_the_places_not_deferred(
    nats_client: NatsClient, nats_url: str, sqlite_url: str
) -> None:
    """A jurisdiction imported a moment ago, which intake's read model has read and holds for its
    gathering window (a minute here): the registration waits for the read model to apply it, then
    goes through, where it was told to try again (503)."""
    await EventStore(nats_client, "routing").ensure_stream()
    async with running_intake(nats_client, nats_url, sqlite_url, gather_ms=60_000) as intake:
        await asyncio.sleep(0.5)  # the read model's readers at the end of their streams
        await import_jurisdiction(nats_client)
        registered = await register(intake, complaint())
        assert registered.status_code == 201, registered.text


async def test_places_not_yet_read_after_a_restart_defer_a_registration_not_refuse_it(
    nats_client: NatsClient, nats_url: str, sqlite_url: str
) -> None:
    """The jurisdiction is imported but intake's read model has not applied it yet (a restart, a
    rebuild): 'no jurisdiction' would be false and final to a client; 'not yet, retry' is true."""
    await import_jurisdiction(nats_client)
    async with running_intake(nats_client, nats_url, sqlite_url, projections=False) as intake:
        deferred = await register(intake, complaint())
        assert deferred.status_code == 503, deferred.text
        assert int(deferred.headers["Retry-After"]) >= 1
        detail = deferred.json()["detail"]
        assert detail["code"] == "read_model_behind" and detail["en"] and detail["hi"]
        assert (await intake.client.get("/readyz")).status_code == 503
        assert await EventStore(nats_client, "intake").last_sequence() == 0

        assert intake.runner.context is not None
        await intake.runner.context.projector("intake_jurisdiction").catch_up()
        assert (await register(intake, complaint())).status_code == 201
        assert (await intake.client.get("/readyz")).status_code == 200


async def test_repeating_a_registration_returns_the_first_answer(
    intake_sqlite: Intake, nats_client: NatsClient
) -> None:
    first = await register(intake_sqlite, complaint(), key="walk-in-0931")
    again = await register(intake_sqlite, complaint(), key="walk-in-0931")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    # The same key for another complaint is a client's mistake, not a retry (issue 12).
    reused = await register(intake_sqlite, complaint(category="stalking"), key="walk-in-0931")
    assert reused.status_code == 409
    other = await register(intake_sqlite, complaint(), key="walk-in-0932")
    assert other.json()["case_number"] == "SJP-2026-000002"  # the repeat took no number
    intake_stream = EventStore(nats_client, "intake")
    assert [e.event_type for e in await intake_stream.load("case", first.json()["case_id"])] == [
        "CaseRegistered"
    ]
    assert len(await intake_stream.load("series", "SJP-2026")) == 2
    missing_key = await intake_sqlite.client.post(
        "/api/intake/cases", json=complaint(), headers=intake_sqlite.as_(OFFICER)
    )
    assert "Idempotency-Key" in refusal(missing_key)


async def test_repeating_a_command_with_its_key_records_it_once(
    intake_sqlite: Intake, nats_client: NatsClient
) -> None:
    case_id = (await intake_sqlite.register())["case_id"]
    first = await intake_sqlite.command(case_id, "actions", {"kind": "counselling"}, key="act-1")
    again = await intake_sqlite.command(case_id, "actions", {"kind": "counselling"}, key="act-1")
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    # The same key on another command is another request.
    note = await intake_sqlite.command(case_id, "notes", {"text": "seen"}, key="act-1")
    assert note.json()["version"] == 3
    # Without a key, each request is a new command.
    await intake_sqlite.command(case_id, "actions", {"kind": "counselling"})
    history = await EventStore(nats_client, "intake").load("case", case_id)
    assert [e.event_type for e in history] == [
        "CaseRegistered",
        "ActionRecorded",
        "NoteAdded",
        "ActionRecorded",
    ]
    assert all("act-1" not in e.command_id for e in history)  # the client's key is kept only hashed


async def test_times_in_the_future_or_without_a_zone_are_refused(intake_sqlite: Intake) -> None:
    case_id = (await intake_sqlite.register())["case_id"]
    future = (intake_sqlite.clock.now().replace(year=2027)).isoformat()
    assert "at" in refusal(
        await intake_sqlite.command(case_id, "first-contact", {"mode": "phone", "at": future}), "in_future"
    )
    assert "at" in refusal(
        await intake_sqlite.command(case_id, "actions", {"kind": "notice", "at": "2026-01-10T09:00:00"}),
        "time_zone_missing",
    )
    rule = await intake_sqlite.command(case_id, "actions", {"kind": "fir_registered"})
    assert (
        rule.status_code == 409
        and rule.json()["detail"]["code"] == "fir_number_missing"
        and rule.json()["detail"]["hi"]
    )


async def test_a_thana_named_like_its_circle_is_known_after_the_circle_is_defined_again(
    nats_client: NatsClient, nats_url: str, sqlite_url: str
) -> None:
    """Tilhar is a circle and a thana of one code; a re-import renaming the circle defines it after the
    thana. Intake still knows both, and takes a complaint at the thana."""
    await import_jurisdiction(nats_client)
    tilhar = ThanaDefined(
        code="SJP-TILHAR", district="SJP", circle="SJP-TILHAR", name_hi="तिलहर", name_en="Tilhar"
    )
    renamed = CircleDefined(code="SJP-TILHAR", district="SJP", name_hi="तिलहर", name_en="Tilhar circle")
    await EventStore(nats_client, "routing").append(
        "district", "SJP", [tilhar, renamed], expected_sequence=len(JURISDICTION), expected_version=len(JURISDICTION),
        meta=CommandMeta(command_id="reimport-sjp", actor="routing"),
    )  # fmt: skip
    async with running_intake(nats_client, nats_url, sqlite_url) as intake:

        async def loaded() -> bool:
            places = (await intake.get("/places", SP, district="SJP")).json()["places"]
            return ("circle", "SJP-TILHAR", "Tilhar circle") in [
                (p["kind"], p["code"], p["name_en"]) for p in places
            ]

        await eventually(loaded, what="the re-import in intake's read model")
        places = (await intake.get("/places", SP, district="SJP")).json()["places"]
        assert ("thana", "SJP-TILHAR") in [(p["kind"], p["code"]) for p in places]
        registered = await register(intake, complaint(thana="SJP-TILHAR"))
        assert registered.status_code == 201, registered.text
