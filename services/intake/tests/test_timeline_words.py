"""The timeline's sentences for routing's decisions: the Hindi line gives routing's Hindi reason (an old
event without one keeps the English), without I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.intake.timeline import describe
from shared.contracts.routing import CaseAssigned, CaseReassigned, CaseRouted
from shared.events import Envelope, Event

EN, HI = "certified for stalking (1 certified)", "पीछा करना हेतु प्रमाणित (1 प्रमाणित)"


def envelope(event: Event) -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(),
        event_type=event.event_type,
        schema_version=event.schema_version,
        aggregate_type="case",
        aggregate_id="c1",
        aggregate_version=1,
        occurred_at=datetime(2026, 1, 10, 10, 0, tzinfo=UTC),
        correlation_id=uuid.uuid4(),
        actor="routing",
        command_id="x",
        payload=event.model_dump(mode="json"),
    )


@pytest.mark.parametrize(
    "event",
    [
        CaseRouted(
            case_id="c1", district="SJP", circle="C", thana="T", kendra="MSK-T", reason=EN, reason_hi=HI
        ),
        CaseAssigned(case_id="c1", officer="PNO1", kendra="MSK-T", reason=EN, reason_hi=HI),
        CaseReassigned(
            case_id="c1", from_officer="PNO2", officer="PNO1", kendra="MSK-T", reason=EN, reason_hi=HI
        ),
    ],
    ids=["routed", "assigned", "reassigned"],
)
def test_routing_reasons_read_in_hindi_on_the_hindi_line(event: Event) -> None:
    en, hi = describe(envelope(event), event)
    assert EN in en and HI not in en
    assert HI in hi and EN not in hi


def test_an_old_decision_without_a_hindi_reason_keeps_the_english_one() -> None:
    event = CaseAssigned(case_id="c1", officer="PNO1", kendra="MSK-T", reason=EN)
    assert EN in describe(envelope(event), event)[1]
