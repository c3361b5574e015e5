"""The escalation service over HTTP: danger-now alerts and acknowledgement by the officer of the level,
and the read model's answers (escalated to me, close to breach, breach rates, step times), each
inside the caller's jurisdiction."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from services.escalation.read_model.queries import ist_week_of
from shared.contracts.escalation import (
    CaseEscalated,
    ClockStarted,
    ClockStopped,
    DeadlineApproaching,
    EscalationAcknowledged,
    SlaBreached,
)
from shared.contracts.intake import ActionRecorded, CaseResolved, FirstContactMade
from shared.contracts.vocabulary import Category, Priority
from shared.roles import Role
from shared.runtime import ServiceRunner

from .conftest import World

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
KATRA = {"district": "SJP", "circle": "SJP-TILHAR", "thana": "SJP-KATRA"}
SADAR = {"district": "SJP", "circle": "SJP-NAGAR", "thana": "SJP-SADAR-BAZAR"}
API = "/api/escalation"


async def danger_now_case_held(world: World, runner: ServiceRunner) -> str:
    """A danger-now case its two alerts name, registered just after the board applied a batch: with a
    gathering window, the board holds the case's events for it."""
    earlier = await world.register(priority=Priority.P3, category=Category.STALKING, assigned=True)
    await world.wait_for(earlier, ClockStarted)
    await world.projected(runner)  # a batch just applied: what follows is held for the window
    case_id = await world.register(
        priority=Priority.P1, category=Category.SEXUAL_ASSAULT, danger_now=True, assigned=True
    )
    await world.wait_for(case_id, CaseEscalated, count=2)
    return case_id


async def test_an_officer_acknowledges_a_case_the_board_has_read_and_not_yet_applied(world: World) -> None:
    """The alert reached the SHO, and the board holds the case's events for its gathering window (five
    seconds here, from the batch before it): her acknowledgement waits for the board to apply them. It
    was told the case did not exist (404), a moment after the alert named it."""
    world.settings = world.settings.model_copy(update={"projection_gather_ms": 5_000})
    await world.define_jurisdiction()
    async with world.http() as (client, runner):
        case_id = await danger_now_case_held(world, runner)
        sho = world.token(Role.SHO, **KATRA) | {"Idempotency-Key": "ack-held"}
        taken = await client.post(f"{API}/cases/{case_id}/acknowledge", headers=sho)
        assert taken.status_code == 200, taken.text
        assert taken.json()["acknowledged_levels"] == [2]


async def test_the_case_view_shows_a_case_the_board_has_read_and_not_yet_applied(world: World) -> None:
    """The alert named the case; the board holds its events for its gathering window. The SHO's look at
    the case's clocks answered 404, a moment after the alert; now it waits for the board."""
    world.settings = world.settings.model_copy(update={"projection_gather_ms": 10_000})
    await world.define_jurisdiction()
    async with world.http() as (client, runner):
        case_id = await danger_now_case_held(world, runner)
        seen = await client.get(f"{API}/cases/{case_id}", headers=world.token(Role.SHO, **KATRA))
        assert seen.status_code == 200, seen.text
        assert seen.json()["escalations"] and seen.json()["clocks"]


async def test_danger_now_reaches_the_incharge_and_sho_at_once_and_the_sho_acknowledges(world: World) -> None:
    await world.define_jurisdiction()
    async with world.http() as (client, runner):
        case_id = await world.register(
            priority=Priority.P1, category=Category.SEXUAL_ASSAULT, danger_now=True, assigned=True
        )
        alerted = await world.wait_for(case_id, CaseEscalated, count=2)
        assert [(e.level, e.office_code, e.reason) for e in alerted] == [
            (1, "MSK-SJP-KATRA", "danger_now:first_contact"),
            (2, "SJP-KATRA", "danger_now:first_contact"),
        ]
        await world.projected(runner)
        sho = world.token(Role.SHO, **KATRA)
        mine = (await client.get(f"{API}/escalated-to-me", headers=sho)).json()
        assert mine["office_code"] == "SJP-KATRA"
        [row] = mine["cases"]
        assert (row["case_id"], row["level"], row["role"]["en"], row["role"]["hi"]) == (
            case_id,
            2,
            "SHO",
            "थाना प्रभारी",
        )
        assert row["priority"]["en"] == "Critical" and row["acknowledged_at"] is None
        incharge = (
            await client.get(f"{API}/escalated-to-me", headers=world.token(Role.KENDRA_INCHARGE, **KATRA))
        ).json()
        assert incharge["office_code"] == "MSK-SJP-KATRA" and [r["level"] for r in incharge["cases"]] == [1]
        other_sho = world.token(Role.SHO, **SADAR)
        assert (await client.get(f"{API}/escalated-to-me", headers=other_sho)).json()["cases"] == []

        # Only an officer the case was escalated to may take it up; the refusal speaks Hindi and English.
        co = world.token(Role.CO, district="SJP", circle="SJP-TILHAR")
        refused = await client.post(f"{API}/cases/{case_id}/acknowledge", headers=co)
        assert refused.status_code == 409
        assert refused.json()["detail"]["code"] == "not_escalated_to_you" and refused.json()["detail"]["hi"]
        # The SHO of another thana is told what every service tells a stranger to a case: not found (a 403
        # or a 409 would say that it exists).
        stranger = await client.post(f"{API}/cases/{case_id}/acknowledge", headers=other_sho)
        assert stranger.status_code == 404
        assert stranger.json()["detail"] == {
            "code": "not_found",
            "en": f"Case {case_id} not found",
            "hi": f"मामला {case_id} नहीं मिला",
        }
        assert (
            await client.post(
                f"{API}/cases/{case_id}/acknowledge", headers=world.token(Role.KENDRA_OFFICER, **KATRA)
            )
        ).status_code == 403
        key = {"Idempotency-Key": "ack-1"}
        taken = await client.post(f"{API}/cases/{case_id}/acknowledge", headers=sho | key)
        assert taken.status_code == 200 and taken.json()["acknowledged_levels"] == [2]
        again = await client.post(f"{API}/cases/{case_id}/acknowledge", headers=sho | key)
        assert again.json()["acknowledged_levels"] == [2]
        [ack] = await world.wait_for(case_id, EscalationAcknowledged)
        assert (ack.level, ack.by) == (2, "PNO152301")

        # First contact (1 hour for sexual assault) is missed while the ladder is held: it goes one
        # level higher at once, to the CO, rather than back to the SHO who answered.
        world.clock.advance(HOUR)
        await world.wait_for(case_id, SlaBreached)
        climbed = await world.wait_for(case_id, CaseEscalated, count=3)
        assert (climbed[-1].level, climbed[-1].office_code, climbed[-1].reason) == (
            3,
            "SJP-TILHAR",
            "breach:first_contact",
        )
        await world.projected(runner)
        view = (await client.get(f"{API}/cases/{case_id}", headers=sho)).json()
        assert [(e["level"], e["acknowledged_by"]) for e in view["escalations"]] == [
            (1, None),
            (2, "PNO152301"),
            (3, None),
        ]
        assert {c["clock"]["code"]: c["state"] for c in view["clocks"]}["first_contact"] == "breached"
        assert (await client.get(f"{API}/cases/{case_id}", headers=other_sho)).status_code == 404
        assert len(await world.facts(case_id, EscalationAcknowledged)) == 1


async def test_figures_answer_inside_the_callers_jurisdiction(world_on_each_database: World) -> None:
    world = world_on_each_database
    await world.define_jurisdiction()
    async with world.http() as (client, runner):
        t0 = world.clock.now()
        prompt = await world.register(assigned=True)  # Katra: first contact after 2 hours
        idle = await world.register(assigned=True)  # Katra: nothing happens
        late = await world.register(assigned=True, thana="SJP-SADAR-BAZAR")  # first contact after 30 hours
        for case_id in (prompt, idle, late):
            await world.wait_for(case_id, ClockStopped)
        world.clock.advance(2 * HOUR)
        await world.on_intake(prompt, FirstContactMade(by="PNO1", at=world.clock.now(), mode="visit"))
        await world.wait_for(prompt, ClockStopped, count=2)

        world.clock.advance(18 * HOUR)  # 20 hours: past 80% of first contact's 24
        await world.wait_for(idle, DeadlineApproaching)
        await world.wait_for(late, DeadlineApproaching)
        await world.projected(runner)
        near = await client.get(f"{API}/close-to-breach", headers=world.token(Role.SHO, **KATRA))
        assert [(c["case_id"], c["clock"]["code"], c["warned_pct"]) for c in near.json()["clocks"]] == [
            (idle, "first_contact", 80)
        ]
        district_wide = await client.get(
            f"{API}/close-to-breach", headers=world.token(Role.SP, district="SJP")
        )
        assert {c["case_id"] for c in district_wide.json()["clocks"]} == {idle, late}

        world.clock.advance(10 * HOUR)  # 30 hours
        await world.wait_for(late, SlaBreached)
        await world.on_intake(late, FirstContactMade(by="PNO2", at=world.clock.now(), mode="phone"))
        world.clock.advance(42 * HOUR)  # 72 hours: both Katra rungs (in-charge after 24 h, SHO a day later)
        for case_id in (prompt, late):
            await world.on_intake(
                case_id, ActionRecorded(kind="counselling", by="PNO1", at=world.clock.now())
            )
            await world.on_intake(case_id, CaseResolved(outcome="counselled", feedback_rating=5, by="PNO1"))
        await world.wait_for(idle, CaseEscalated, count=2)
        for case_id in (prompt, late):
            await world.wait_for(case_id, ClockStopped, count=4)
        await world.projected(runner)

        sp = world.token(Role.SP, district="SJP")
        rates = (await client.get(f"{API}/breach-rates", params={"by": "thana"}, headers=sp)).json()["rates"]
        first_contact = {
            r["place"]: (r["decided"], r["breached"], r["rate"])
            for r in rates
            if r["clock"]["code"] == "first_contact"
        }
        assert first_contact == {"SJP-KATRA": (2, 1, 0.5), "SJP-SADAR-BAZAR": (1, 1, 1.0)}
        co = world.token(Role.CO, district="SJP", circle="SJP-TILHAR")
        assert {
            r["place"]
            for r in (await client.get(f"{API}/breach-rates", params={"by": "circle"}, headers=co)).json()[
                "rates"
            ]
        } == {"SJP-TILHAR"}

        times = (await client.get(f"{API}/step-times", params={"by": "thana"}, headers=sp)).json()["places"]
        assert hours(times["SJP-KATRA"]["time_to_first_contact"]) == (1, 2.0)
        assert hours(times["SJP-SADAR-BAZAR"]["time_to_first_contact"]) == (1, 30.0)
        assert hours(times["SJP-KATRA"]["time_to_disposal"]) == (1, 72.0)
        overall = (await client.get(f"{API}/step-times", headers=sp)).json()["places"]["all"]
        assert (
            overall["time_to_first_contact"]["count"] == 2
            and overall["time_to_first_contact"]["p99_hours"] == 30.0
        )

        summary = (await client.get(f"{API}/escalations/summary", headers=sp)).json()["levels"]
        assert [(s["level"], s["office_code"], s["open"]) for s in summary] == [
            (1, "MSK-SJP-KATRA", 1),
            (2, "SJP-KATRA", 1),
        ]
        assert (
            await client.get(f"{API}/breach-rates", headers=world.token(Role.KENDRA_OFFICER, **KATRA))
        ).status_code == 403
        policy = (await client.get(f"{API}/policy", headers=world.token(Role.KENDRA_OFFICER, **KATRA))).json()
        assert policy["status"].startswith("default") and policy["clocks"][0]["hi"]
        assert t0 == world.clock.now() - 72 * HOUR


def hours(figure: dict[str, Any]) -> tuple[int, float]:
    return figure["count"], figure["p50_hours"]


async def test_an_idempotency_key_is_bound_to_whoever_sends_it(world: World) -> None:
    """Issue 12: the key alone made the command id, so a second officer sending the same key got the
    first officer's answer and her own acknowledgement was never recorded."""
    await world.define_jurisdiction()
    async with world.http() as (client, runner):
        case_id = await world.register(
            priority=Priority.P1, category=Category.SEXUAL_ASSAULT, danger_now=True, assigned=True
        )
        await world.wait_for(case_id, CaseEscalated, count=2)
        await world.projected(runner)
        key = {"Idempotency-Key": "morning-round"}
        sho = world.token(Role.SHO, **KATRA)
        incharge = world.token(Role.KENDRA_INCHARGE, service_number="PNO152377", **KATRA)
        taken = await client.post(f"{API}/cases/{case_id}/acknowledge", headers=sho | key)
        assert taken.json()["acknowledged_levels"] == [2]
        hers = await client.post(f"{API}/cases/{case_id}/acknowledge", headers=incharge | key)
        assert hers.status_code == 200 and hers.json()["acknowledged_levels"] == [1]
        acks = await world.wait_for(case_id, EscalationAcknowledged, count=2)
        assert sorted((a.level, a.by) for a in acks) == [(1, "PNO152377"), (2, "PNO152301")]


def test_a_week_starts_on_monday_at_midnight_in_india() -> None:
    sunday_night = datetime.fromisoformat("2026-01-18T18:29:59+00:00")  # Sunday 23:59:59 IST
    assert ist_week_of(sunday_night) == date(2026, 1, 12)
    assert ist_week_of(sunday_night + timedelta(seconds=1)) == date(2026, 1, 19)  # Monday 00:00 IST
    assert ist_week_of(datetime.fromisoformat("2026-01-12T00:00:00+05:30")) == date(2026, 1, 12)


async def test_the_breach_trend_counts_each_ist_week_of_the_place_asked_for(
    world_on_each_database: World,
) -> None:
    """Issue 15: clocks decided and breached per week, by the week their outcome became known."""
    world = world_on_each_database
    await world.define_jurisdiction()
    async with world.http() as (client, runner):
        # Monday 12 January, 10:00 IST: both cases are assigned at once (acknowledgement met).
        katra = await world.register(assigned=True)
        sadar = await world.register(assigned=True, thana="SJP-SADAR-BAZAR")
        for case_id in (katra, sadar):
            await world.wait_for(case_id, ClockStopped)
        world.clock.advance(2 * HOUR)
        await world.on_intake(katra, FirstContactMade(by="PNO1", at=world.clock.now(), mode="visit"))
        await world.wait_for(katra, ClockStopped, count=2)
        world.clock.advance(28 * HOUR)  # Tuesday 16:00 IST: Sadar Bazar's first contact (24 h) is late
        await world.wait_for(sadar, SlaBreached)
        # Monday 19 January, 12:00 IST: both action-taken clocks (7 days) are breached, in the next week.
        world.clock.advance(6 * DAY + 20 * HOUR)
        for case_id, breaches in ((katra, 1), (sadar, 2)):
            await eventually_breached(world, case_id, "action_taken", breaches)
        await world.projected(runner)

        def weeks(answer: Any) -> list[tuple[str, int, int]]:
            assert answer.status_code == 200, answer.text
            return [(w["week"], w["decided"], w["breached"]) for w in answer.json()["weeks"]]

        sp = world.token(Role.SP, district="SJP")
        trend = f"{API}/breach-trend"
        assert weeks(await client.get(trend, params={"weeks": 3}, headers=sp)) == [
            ("2026-01-05", 0, 0),
            ("2026-01-12", 4, 1),
            ("2026-01-19", 2, 2),
        ]
        assert (await client.get(trend, headers=sp)).json()["weeks"][0]["week"] == "2025-11-03"  # 12 weeks
        assert weeks(await client.get(trend, params={"weeks": 2, "thana": "SJP-KATRA"}, headers=sp)) == [
            ("2026-01-12", 2, 0),
            ("2026-01-19", 1, 1),
        ]
        assert weeks(await client.get(trend, params={"weeks": 2, "circle": "SJP-NAGAR"}, headers=sp)) == [
            ("2026-01-12", 2, 1),
            ("2026-01-19", 1, 1),
        ]
        co = world.token(Role.CO, district="SJP", circle="SJP-TILHAR")
        assert weeks(await client.get(trend, params={"weeks": 2}, headers=co)) == [
            ("2026-01-12", 2, 0),
            ("2026-01-19", 1, 1),
        ]
        # A place outside her circle, or a thana of another circle, is not found; a Kendra officer
        # reads no figures.
        for params in ({"thana": "SJP-SADAR-BAZAR"}, {"circle": "SJP-NAGAR"}, {"thana": "SJP-ROZA"}):
            assert (await client.get(trend, params=params, headers=co)).status_code == 404
        mixed = {"circle": "SJP-TILHAR", "thana": "SJP-SADAR-BAZAR"}
        assert (await client.get(trend, params=mixed, headers=sp)).status_code == 404
        officer = world.token(Role.KENDRA_OFFICER, **KATRA)
        assert (await client.get(trend, headers=officer)).status_code == 403


async def eventually_breached(world: World, case_id: str, clock: str, count: int) -> None:
    breaches = await world.wait_for(case_id, SlaBreached, count=count)
    assert clock in {b.clock for b in breaches}
