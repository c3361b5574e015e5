"""How events change intake's read models: one small handler per event type, through the batch's ``Rows``
(a row is read once per batch and the batch's rows are written as a set).

The case register follows three streams independently, so a routing or escalation event may arrive
before the registration it is about: every event first makes sure the case's row exists, and what
routing decides about the place wins over what was reported at registration, in whichever order they
come.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.domain import next_status
from services.intake.kek import load_kek_ring
from services.intake.keystore import KeyStore
from services.intake.phone_index import PhoneIndexer, load_phone_index
from services.intake.read_model.queries import urgency_key
from services.intake.read_model.tables import CaseTables, case_tables
from services.intake.timeline import INTERNAL, describe
from shared.contracts.escalation import (
    CaseEscalated,
    ClockPaused,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    DeadlineApproaching,
    SlaBreached,
)
from shared.contracts.intake import (
    CaseClosed,
    CaseMarkedDuplicate,
    CaseRegistered,
    CaseReopened,
    CaseResolved,
    FirstContactMade,
    IdentityErased,
    MessagesConsentWithdrawn,
)
from shared.contracts.routing import (
    CaseAssigned,
    CaseReassigned,
    CaseRouted,
)
from shared.contracts.vocabulary import CaseStatus
from shared.dispatch import handles
from shared.events import Envelope
from shared.projection import Projection
from shared.rows import Row, Rows, utc
from shared.settings import Settings

# ---------------------------------------------------------------- case register


def _case_id(envelope: Envelope) -> str:
    found: str = getattr(envelope.event(), "case_id", None) or envelope.aggregate_id
    return found


CLOCK_CHANGES = frozenset(cls.__name__ for cls in (ClockStarted, ClockResumed, ClockPaused, ClockStopped))
"""The events that change a case's running clocks (its row of ``deadlines``)."""


class CaseRegister(Projection[CaseTables]):
    name = "intake_cases"
    sources: ClassVar[dict[str, str]] = {
        "INTAKE": "shakti.intake.case.*",
        "ROUTING": "shakti.routing.case.*",
        "ESCALATION": "shakti.escalation.case.*",
    }

    def __init__(self, phones: PhoneIndexer | None = None, *, index_phones: bool = True) -> None:
        self.phones = phones
        self.index_phones = index_phones
        """False for a case folded as of a past moment: that answer has no use for her number's index,
        and opening her sealed identity to compute it would be a reading for nothing."""
        self._own_keys: KeyStore | None = None

    def define(self, metadata: MetaData, prefix: str) -> CaseTables:
        return case_tables(metadata, prefix)

    async def open(self, settings: Settings, engine: AsyncEngine) -> None:
        """The key store (read only: the case keys that open a registration's sealed phone), the KEK
        that unwraps them and the phone-index key; each missing key stops the start (bilingual)."""
        if self.phones is not None:
            return
        kek, index = load_kek_ring(settings), load_phone_index(settings)
        if engine.dialect.name == "sqlite":
            # An erased case's index row is deleted: its bytes must not stay in the file's free space.
            # (Debian's SQLite overwrites by default; another build may not.)
            event.listen(engine.sync_engine, "connect", _overwrite_what_is_deleted)
        if settings.key_store_url:
            self._own_keys = keys = KeyStore.open(settings.key_store_url, kek)
        else:
            keys = KeyStore(engine, kek)  # intake's own database: the read model's engine
        self.phones = PhoneIndexer(keys, index, shares_database=self._own_keys is None)

    async def close(self) -> None:
        if self._own_keys is not None:
            await self._own_keys.close()
            self._own_keys = None

    async def prefetch(self, rows: Rows, tables: CaseTables, envelopes: list[Envelope]) -> None:
        """Every event touches its case's row: the batch's cases are read in one query."""
        await rows.prefetch(tables.cases, [(_case_id(envelope),) for envelope in envelopes])
        clocks = [(_case_id(envelope),) for envelope in envelopes if envelope.event_type in CLOCK_CHANGES]
        if clocks:
            await rows.prefetch(tables.deadlines, clocks)
        if self.phones is not None:
            registered = [e.aggregate_id for e in envelopes if e.event_type == CaseRegistered.event_type]
            await self.phones.prefetch(registered, rows.session)

    async def apply(self, rows: Rows, tables: CaseTables, envelope: Envelope) -> None:
        """What every event of the case's streams does, handled or not (a timeline line, the case's status
        and updated_at), then its own handler's changes."""
        event = envelope.event()
        case_id = _case_id(envelope)
        at = utc(envelope.occurred_at)
        if envelope.event_type not in INTERNAL:
            text_en, text_hi = describe(envelope, event)
            rows.add(
                tables.timeline,
                {
                    "case_id": case_id,
                    "stream": envelope.stream,
                    "sequence": envelope.sequence,
                    "occurred_at": at,
                    "event_type": envelope.event_type,
                    "actor": envelope.actor,
                    "text_en": text_en,
                    "text_hi": text_hi,
                },
            )
        row = await self._case(rows, tables, case_id)
        status = next_status(CaseStatus(row["status"]) if row["status"] else None, event)
        row["status"] = status.value if status else None
        # The latest moment any of the three streams says something happened to the case: which event
        # is applied last depends on how the streams' events arrive, and a rebuild reads them in turn.
        before = utc(row["updated_at"])
        row["updated_at"] = at if before is None else max(before, at)
        await super().apply(rows, tables, envelope)
        row = await self._case(rows, tables, case_id)
        row["urgency"] = urgency_key(row)

    @staticmethod
    async def _case(rows: Rows, t: CaseTables, case_id: str) -> Row:
        """The case's row as this batch sees it, made when this is the first word of the case."""
        row = await rows.get(t.cases, case_id=case_id)
        return rows.put(t.cases, row if row is not None else rows.blank(t.cases, case_id=case_id))

    async def _change(self, rows: Rows, t: CaseTables, envelope: Envelope, **values: Any) -> Row:
        row = await self._case(rows, t, _case_id(envelope))
        row.update(values)
        return row

    @handles(CaseRegistered)
    async def registered(self, rows: Rows, t: CaseTables, event: CaseRegistered, envelope: Envelope) -> None:
        row = await self._change(
            rows,
            t,
            envelope,
            case_number=event.case_number,
            channel=event.channel.value,
            category=event.category.value,
            priority=event.priority.value,
            danger_now=event.danger_now,
            minor=event.minor,
            flags=",".join(event.flags),
            pincode=event.pincode,
            locality=event.locality_code,  # the code (v1 events' clear text is dropped on read)
            language=event.language,
            consent_to_share=event.consent_to_share,
            consent_to_messages=event.consent_to_messages,
            registered_by=event.registered_by,
            registered_at_thana=event.registered_at_thana,
            registered_at=utc(envelope.occurred_at),
        )
        if not row["routed"]:
            row.update(district=event.district, circle=event.circle, thana=event.thana)
        await self._index_phone(rows, t, row["case_id"], event.sealed_identity)

    async def _index_phone(self, rows: Rows, t: CaseTables, case_id: str, sealed_identity: str) -> None:
        """Computed here from the sealed identity, never carried by an event: a case whose key is gone
        (erased) gets no index, live or in any rebuild."""
        if not self.index_phones:
            return
        if self.phones is None:
            raise RuntimeError("the case register was not opened (CaseRegister.open): it cannot index phones")
        found = await self.phones.of_registration(case_id, sealed_identity, rows.session)
        if found is not None:
            rows.put(t.phones, {"case_id": case_id, "phone_index": found})

    @handles(FirstContactMade)
    async def first_contact(
        self, rows: Rows, t: CaseTables, event: FirstContactMade, envelope: Envelope
    ) -> None:
        await self._change(rows, t, envelope, first_contact_at=utc(event.at))

    @handles(CaseResolved)
    async def resolved(self, rows: Rows, t: CaseTables, event: CaseResolved, envelope: Envelope) -> None:
        await self._change(
            rows,
            t,
            envelope,
            outcome=event.outcome,
            feedback_rating=event.feedback_rating,
            resolved_at=utc(envelope.occurred_at),
        )

    @handles(CaseClosed)
    async def closed(self, rows: Rows, t: CaseTables, event: CaseClosed, envelope: Envelope) -> None:
        await self._change(rows, t, envelope, closed_at=utc(envelope.occurred_at))

    @handles(CaseReopened)
    async def reopened(self, rows: Rows, t: CaseTables, event: CaseReopened, envelope: Envelope) -> None:
        await self._change(rows, t, envelope, closed_at=None)

    @handles(CaseMarkedDuplicate)
    async def duplicate(
        self, rows: Rows, t: CaseTables, event: CaseMarkedDuplicate, envelope: Envelope
    ) -> None:
        await self._change(
            rows, t, envelope, duplicate_of=event.duplicate_of, duplicate_of_number=event.duplicate_of_number
        )

    @handles(MessagesConsentWithdrawn)
    async def messages_consent_withdrawn(
        self, rows: Rows, t: CaseTables, event: MessagesConsentWithdrawn, envelope: Envelope
    ) -> None:
        await self._change(rows, t, envelope, consent_to_messages=False)

    @handles(IdentityErased)
    async def erased(self, rows: Rows, t: CaseTables, event: IdentityErased, envelope: Envelope) -> None:
        row = await self._change(rows, t, envelope, identity_erased=True)
        # Her number's index links the case to her: it goes with her identity.
        rows.remove(t.phones, case_id=row["case_id"])

    @handles(CaseRouted)
    async def routed(self, rows: Rows, t: CaseTables, event: CaseRouted, envelope: Envelope) -> None:
        await self._change(
            rows,
            t,
            envelope,
            district=event.district,
            circle=event.circle,
            thana=event.thana,
            kendra=event.kendra,
            routed=True,
        )

    @handles(CaseAssigned, CaseReassigned)
    async def assigned(
        self, rows: Rows, t: CaseTables, event: CaseAssigned | CaseReassigned, envelope: Envelope
    ) -> None:
        await self._change(rows, t, envelope, assigned_officer=event.officer, kendra=event.kendra)

    @handles(CaseEscalated)
    async def escalated(self, rows: Rows, t: CaseTables, event: CaseEscalated, envelope: Envelope) -> None:
        await self._change(
            rows,
            t,
            envelope,
            escalation_level=event.level,
            escalation_role=event.role.value,
            escalation_office=event.office_code,
        )

    @handles(SlaBreached)
    async def breached(self, rows: Rows, t: CaseTables, event: SlaBreached, envelope: Envelope) -> None:
        row = await self._case(rows, t, _case_id(envelope))
        row.update(_clocks(row, breached=event.clock))

    @handles(DeadlineApproaching)
    async def approaching(
        self, rows: Rows, t: CaseTables, event: DeadlineApproaching, envelope: Envelope
    ) -> None:
        row = await self._case(rows, t, _case_id(envelope))
        row.update(_clocks(row, approaching=event.clock))

    @handles(ClockStopped)
    async def stopped(self, rows: Rows, t: CaseTables, event: ClockStopped, envelope: Envelope) -> None:
        row = await self._case(rows, t, _case_id(envelope))
        row.update(_clocks(row, stopped=event.clock))
        await self._deadline(rows, t, event, None)

    @handles(ClockStarted, ClockResumed)
    async def running(
        self, rows: Rows, t: CaseTables, event: ClockStarted | ClockResumed, envelope: Envelope
    ) -> None:
        await self._deadline(rows, t, event, event.due_at)

    @handles(ClockPaused)
    async def paused(self, rows: Rows, t: CaseTables, event: ClockPaused, envelope: Envelope) -> None:
        await self._deadline(rows, t, event, None)

    @staticmethod
    async def _deadline(
        rows: Rows,
        t: CaseTables,
        event: ClockStarted | ClockResumed | ClockPaused | ClockStopped,
        due_at: datetime | None,
    ) -> None:
        """The clock runs to ``due_at``, or (None) no longer runs; the case's next deadline follows."""
        key = {"case_id": event.case_id}
        row = rows.put(t.deadlines, await rows.get(t.deadlines, **key) or rows.blank(t.deadlines, **key))
        running: dict[str, list[str]] = json.loads(row["running"] or "{}")
        clock = f"{event.clock}|{event.referral_id or ''}|{event.round}"
        if due_at is None:
            running.pop(clock, None)
        else:
            running[clock] = [event.clock, utc(due_at).isoformat()]
        # Due at the same moment: the clock's name decides, so that the answer does not follow the
        # order the clocks were started in.
        soonest = min(running.values(), key=lambda clock: (clock[1], clock[0]), default=None)
        row["running"] = json.dumps(running, sort_keys=True)
        case_row = await CaseRegister._case(rows, t, event.case_id)
        case_row["next_clock"] = soonest[0] if soonest else None
        case_row["next_due_at"] = datetime.fromisoformat(soonest[1]) if soonest else None


def _overwrite_what_is_deleted(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _clocks(row: Row, *, breached: str = "", approaching: str = "", stopped: str = "") -> Row:
    """A case is overdue while a step whose deadline passed is still not done."""
    late = set(filter(None, row["overdue_clocks"].split(",")))
    soon = set(filter(None, row["due_soon_clocks"].split(",")))
    if breached:
        late.add(breached)
        soon.discard(breached)
    if approaching:
        soon.add(approaching)
    if stopped:
        late.discard(stopped)
        soon.discard(stopped)
    return {
        "overdue_clocks": ",".join(sorted(late)),
        "due_soon_clocks": ",".join(sorted(soon)),
        "overdue": bool(late),
    }
