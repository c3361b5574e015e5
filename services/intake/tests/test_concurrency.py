"""Many officers at once: concurrent commands on one case, and case numbers taken at once by two
intake instances (two replicas sharing NATS and the read-model database)."""

from __future__ import annotations

import asyncio
import re

from nats.aio.client import Client as NatsClient

from services.intake.tests.conftest import (
    INCHARGE,
    OFFICER,
    Intake,
    complaint,
    import_jurisdiction,
    places_known,
    running_intake,
)
from shared.eventstore import EventStore


async def test_concurrent_commands_on_one_case_all_land_in_order(
    intake: Intake, nats_client: NatsClient
) -> None:
    case_id = (await intake.register())["case_id"]
    commands = [("notes", {"text": f"note {n}"}) for n in range(6)] + [
        ("actions", {"kind": "counselling"}) for _ in range(6)
    ]
    answers = await asyncio.gather(
        *(
            intake.command(case_id, c, b, principal=OFFICER if n % 2 else INCHARGE)
            for n, (c, b) in enumerate(commands)
        )
    )
    assert [a.status_code for a in answers] == [200] * 12
    assert sorted(a.json()["version"] for a in answers) == list(range(2, 14))
    history = await EventStore(nats_client, "intake").load("case", case_id)
    assert [e.aggregate_version for e in history] == list(range(1, 14))
    await intake.settled(case_id, lambda r: r["status"] == "in_progress")


async def test_conflicting_commands_one_wins_the_other_is_told_why(intake: Intake) -> None:
    """Disposal and withdrawal at the same moment: whichever lands first, the other breaks a rule."""
    for _ in range(3):
        case_id = (await intake.register())["case_id"]
        resolve, withdraw = await asyncio.gather(
            intake.command(case_id, "resolve", {"outcome": "counselled_reconciled"}),
            intake.command(case_id, "withdraw", {"reason": "does_not_wish_to_proceed"}, principal=INCHARGE),
        )
        assert sorted([resolve.status_code, withdraw.status_code]) == [200, 409]
        loser = resolve if resolve.status_code == 409 else withdraw
        assert (
            loser.json()["detail"]["code"] in {"case_resolved", "case_closed"}
            and loser.json()["detail"]["hi"]
        )


async def test_case_numbers_unique_across_two_intake_instances(
    nats_client: NatsClient, nats_url: str, database_url: str
) -> None:
    await import_jurisdiction(nats_client)
    async with (
        running_intake(nats_client, nats_url, database_url) as one,
        running_intake(nats_client, nats_url, database_url) as two,
    ):
        await places_known(one)
        await places_known(two)
        each = 12

        async def register(instance: Intake, n: int) -> str:
            response = await instance.client.post(
                "/api/intake/cases", json=complaint(), headers=instance.as_(OFFICER, f"{id(instance)}-{n}")
            )
            assert response.status_code == 201, response.text
            number: str = response.json()["case_number"]
            return number

        numbers = await asyncio.gather(
            *(register(instance, n) for n in range(each) for instance in (one, two))
        )
    assert len(set(numbers)) == 2 * each
    assert all(re.fullmatch(r"SJP-2026-\d{6}", n) for n in numbers)
    assert sorted(int(n[-6:]) for n in numbers) == list(range(1, 2 * each + 1))  # no gaps either
