"""The complaint desk: runs an officer's commands on cases.

Between the HTTP routes and the pure ``Case`` aggregate it does the I/O the aggregate must not: checks
the place against the imported jurisdiction, seals identity data under the case's key, takes a case
number, keeps the officer inside her jurisdiction, and records every reading of identity data.

Command ids and request fingerprints follow the one rule of ``shared.commands``: the same request
again (same key, officer, command, case and body) returns the first answer; the same key with another
body is refused. Fingerprints of bodies carrying a person's words are keyed under the case's key.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from services.intake.domain import Case, Complaint
from services.intake.keystore import KeyStore, seal, unseal
from services.intake.numbering import CaseNumbers
from services.intake.priority import PriorityTable
from services.intake.read_model import CaseTables, PlaceTables, find_case, find_places, jurisdiction_known
from shared.auth import Principal
from shared.commands import Caller, actor_of, fingerprint
from shared.contracts.intake import (
    AttachmentRecorded,
    AwaitingComplainant,
    CaseClosed,
    CaseRegistered,
    CaseReopened,
    CaseResolved,
    CaseWithdrawn,
    NoteAdded,
)
from shared.contracts.vocabulary import (
    ActionKind,
    AgencyKind,
    AttachmentKind,
    AwaitingReason,
    CloseReason,
    ContactMode,
    ErasureBasis,
    Outcome,
    ReopenReason,
    ViewPurpose,
    WithdrawReason,
)
from shared.errors import IdempotencyConflict, NotFound
from shared.events import Envelope, Event, derived_id
from shared.eventstore import CommandMeta
from shared.observability import COMMAND_SECONDS
from shared.projection import Projector
from shared.runtime import ServiceContext
from shared.text import Lines, OneLine

log = logging.getLogger(__name__)

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future an officer's 'when it happened' may be before it is refused."""

IDENTITY, NOTE, FILENAME, REMARK, FEEDBACK = "identity", "note", "filename", "remark", "feedback"
"""What a sealed value is; bound into its ciphertext so that it opens only as what it was sealed as."""


class Refused(Exception):
    """A request the desk will not take because of what was asked (HTTP 422), with the field at fault."""

    def __init__(self, code: str, field: str, en: str, hi: str) -> None:
        super().__init__(en)
        self.code, self.field, self.en, self.hi = code, field, en, hi


class Identity(BaseModel):
    """The complainant's identity. ``repr=False`` keeps values out of any repr that reaches a log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str | None, Field(default=None, min_length=1, max_length=100, repr=False), OneLine]
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{10,13}$", max_length=14, repr=False)
    address: Annotated[str | None, Field(default=None, min_length=1, max_length=500, repr=False), OneLine]
    statement: Annotated[str | None, Field(default=None, min_length=1, max_length=10_000, repr=False), Lines]
    # keys: the place in her own words (mohalla, landmark) is sealed here; routing gets a locality code.
    locality: Annotated[str | None, Field(default=None, min_length=1, max_length=100, repr=False), OneLine]


@dataclass(frozen=True)
class Registered:
    case_id: str
    case_number: str
    event: CaseRegistered


@dataclass(frozen=True)
class Recorded:
    case_id: str
    events: list[Envelope]


SEALED_FIELDS: dict[type[Event], tuple[str, str]] = {
    NoteAdded: ("sealed_text", NOTE),
    AttachmentRecorded: ("sealed_filename", FILENAME),
    AwaitingComplainant: ("sealed_remark", REMARK),
    CaseClosed: ("sealed_remark", REMARK),
    CaseReopened: ("sealed_remark", REMARK),
    CaseWithdrawn: ("sealed_remark", REMARK),
    CaseResolved: ("sealed_feedback", FEEDBACK),
}
"""Every sealed field besides the registration's, and what it was sealed as."""


@dataclass(frozen=True)
class Ask:
    """Who asks for a command on which case, with the request's idempotency key (if it had one)."""

    principal: Principal
    case_id: str
    key: str | None = None

    @property
    def by(self) -> str:
        return actor_of(self.principal)


class IntakeDesk:
    def __init__(self, ctx: ServiceContext, keys: KeyStore, table: PriorityTable) -> None:
        self.ctx = ctx
        self.keys = keys
        self.table = table
        self.cases = ctx.repository(Case)
        self.numbers = CaseNumbers(ctx.store)

    @property
    def places(self) -> Projector[PlaceTables]:
        return self.ctx.projector("intake_places")

    @property
    def register(self) -> Projector[CaseTables]:
        return self.ctx.projector("intake_cases")

    # ---------------------------------------------------------------- registration

    async def register_complaint(
        self,
        principal: Principal,
        complaint: Complaint,
        description: str,
        identity: Identity,
        idempotency_key: str,
    ) -> Registered:
        caller = Caller.person(principal, idempotency_key)
        case_id = derived_id("case", derived_id("register", caller.actor, idempotency_key)).hex
        particulars = identity.model_dump() | {"description": description}
        # Keyed under the case's key: the stored fingerprint must not let anyone guess a name or phone.
        request = {"complaint": asdict(complaint), "particulars": particulars}
        with COMMAND_SECONDS.labels("intake", "register").time():
            earlier = await self.cases.history(case_id)
            if earlier:
                return await self._registered_before(case_id, earlier, request)
            Case(case_id).admit(complaint, self.table)
            placed = replace(complaint, circle=await self._check_place(complaint))
            case_key = await self.keys.key_for(case_id)
            sealed = seal(case_key, case_id, IDENTITY, json.dumps(particulars, ensure_ascii=False))
            meta = caller.meta(
                "register", case_id, request=fingerprint(request, secret=case_key), at=self.ctx.clock.now()
            )
            number = await self.numbers.issue(
                complaint.district,
                self.ctx.clock.now(),
                case_id,
                CommandMeta(command_id=f"{meta.command_id}:number", actor=caller.actor),
            )
            stored = await self.cases.execute(
                case_id,
                lambda case: case.register(
                    placed,
                    case_number=number,
                    sealed_identity=sealed,
                    table=self.table,
                    by=caller.actor,
                    registered_from=principal.thana,
                ),
                meta,
            )
        log.info("case %s registered", case_id)
        return _registered(stored[0])

    async def _registered_before(
        self, case_id: str, earlier: list[Envelope], request: dict[str, Any]
    ) -> Registered:
        """The first answer to a repeated registration; a different complaint under the same key is
        refused, and so is a repeat whose case has had its identity erased (nothing to compare with)."""
        case_key = await self.keys.find(case_id)
        if case_key is None:
            Case.replay(case_id, earlier).check_identity_kept()
            raise IdempotencyConflict
        first = earlier[0].request_hash
        if first is not None and first != fingerprint(request, secret=case_key):
            raise IdempotencyConflict
        return _registered(earlier[0])

    async def _check_place(self, complaint: Complaint) -> str | None:
        """The circle of the complaint's thana; refuses a place the imported jurisdiction does not know,
        unless the read model has yet to apply some of it (``ReadModelBehind``: retry, not refused)."""
        try:
            return await self._place_known(complaint)
        except Refused:
            await self.places.require_current()
            raise

    async def _place_known(self, complaint: Complaint) -> str | None:
        tables: PlaceTables = self.places.tables
        codes = [complaint.district, *(c for c in (complaint.thana, complaint.locality_code) if c)]
        async with self.places.sessions() as session:
            found = await find_places(session, tables, codes)
            known = bool(found) or await jurisdiction_known(session, tables)
        if not known:
            raise Refused(
                "no_jurisdiction",
                "district",
                "No jurisdiction has been imported yet, so no place can be checked. An operator must "
                "first import the district's circles and thanas (`shakti routing import`).",
                "अभी तक कोई क्षेत्राधिकार आयात नहीं हुआ है, इसलिए स्थान की जाँच नहीं हो सकती। पहले संचालक "
                "जिले के सर्किल और थाने आयात करें (`shakti routing import`)।",
            )
        district = found.get(complaint.district)
        if district is None or district["kind"] != "district":
            raise Refused(
                "unknown_district",
                "district",
                f"Unknown district code '{complaint.district}'. Valid codes are listed at "
                "GET /api/intake/places (as imported by routing with `shakti routing import`).",
                f"जिला कोड '{complaint.district}' मान्य नहीं है। मान्य कोड GET /api/intake/places पर "
                "देखें (रूटिंग द्वारा `shakti routing import` से आयातित)।",
            )
        # keys: a locality is one of the jurisdiction's, named by its code (never free text in clear).
        locality = found.get(complaint.locality_code) if complaint.locality_code else None
        if complaint.locality_code and (
            locality is None or locality["kind"] != "locality" or locality["district"] != complaint.district
        ):
            raise Refused(
                "unknown_locality",
                "locality_code",
                f"Unknown locality code '{complaint.locality_code}' in district {complaint.district}. Valid "
                f"codes are listed at GET /api/intake/places?district={complaint.district} (kind "
                "'locality'); write the place in her own words in identity.locality (it is sealed).",
                f"जिला {complaint.district} में मोहल्ला/गाँव कोड '{complaint.locality_code}' मान्य नहीं है। "
                f"मान्य कोड GET /api/intake/places?district={complaint.district} पर देखें (प्रकार "
                "'locality'); स्थान उनके अपने शब्दों में identity.locality में लिखें (वह सील रहता है)।",
            )
        if complaint.thana is None:
            return None
        thana = found.get(complaint.thana)
        if thana is None or thana["kind"] != "thana" or thana["district"] != complaint.district:
            raise Refused(
                "unknown_thana",
                "thana",
                f"Unknown thana code '{complaint.thana}' in district {complaint.district}. Valid "
                f"codes are listed at GET /api/intake/places?district={complaint.district}; or leave "
                "the thana out and give a pincode or locality code.",
                f"जिला {complaint.district} में थाना कोड '{complaint.thana}' मान्य नहीं है। मान्य कोड "
                f"GET /api/intake/places?district={complaint.district} पर देखें; या थाना छोड़कर "
                "पिनकोड अथवा मोहल्ला दें।",
            )
        circle: str | None = thana["circle"]
        return circle

    # ---------------------------------------------------------------- the lifecycle

    async def make_first_contact(self, ask: Ask, mode: ContactMode, at: datetime | None) -> Recorded:
        moment = self._when(at)
        request = fingerprint({"mode": mode, "at": at})
        return await self._act(
            ask, "first-contact", lambda c: c.make_first_contact(mode, moment, ask.by), request
        )

    async def record_action(
        self, ask: Ask, kind: ActionKind, at: datetime | None, fir_number: str | None
    ) -> Recorded:
        moment = self._when(at)
        request = fingerprint({"kind": kind, "at": at, "fir_number": fir_number})
        return await self._act(
            ask, "action", lambda c: c.record_action(kind, moment, ask.by, fir_number), request
        )

    async def refer(self, ask: Ask, agency_kind: AgencyKind, agency_code: str | None) -> Recorded:
        request = fingerprint({"agency_kind": agency_kind, "agency_code": agency_code})
        return await self._act(ask, "referral", lambda c: c.refer(agency_kind, agency_code, ask.by), request)

    async def add_note(self, ask: Ask, text: str) -> Recorded:
        sealed, request = await self._seal(ask, NOTE, text, {})
        return await self._act(ask, "note", lambda c: c.add_note(sealed or "", ask.by), request)

    async def record_attachment(
        self, ask: Ask, kind: AttachmentKind, size_bytes: int, sha256: str, filename: str
    ) -> Recorded:
        sealed, request = await self._seal(
            ask, FILENAME, filename, {"kind": kind, "size_bytes": size_bytes, "sha256": sha256}
        )
        attachment = uuid.uuid4().hex
        return await self._act(
            ask,
            "attachment",
            lambda c: c.record_attachment(attachment, kind, size_bytes, sha256, sealed or "", ask.by),
            request,
        )

    async def await_complainant(self, ask: Ask, reason: AwaitingReason, remark: str | None) -> Recorded:
        sealed, request = await self._seal(ask, REMARK, remark, {"reason": reason})
        return await self._act(
            ask, "awaiting", lambda c: c.await_complainant(reason, sealed, ask.by), request
        )

    async def complainant_responded(self, ask: Ask) -> Recorded:
        return await self._act(ask, "responded", lambda c: c.complainant_responded(ask.by), fingerprint({}))

    async def resolve(
        self, ask: Ask, outcome: Outcome | None, rating: int | None, feedback: str | None
    ) -> Recorded:
        sealed, request = await self._seal(ask, FEEDBACK, feedback, {"outcome": outcome, "rating": rating})
        return await self._act(ask, "resolve", lambda c: c.resolve(outcome, rating, sealed, ask.by), request)

    async def close(self, ask: Ask, reason: CloseReason, remark: str | None) -> Recorded:
        sealed, request = await self._seal(ask, REMARK, remark, {"reason": reason})
        return await self._act(ask, "close", lambda c: c.close(reason, sealed, ask.by), request)

    async def reopen(self, ask: Ask, reason: ReopenReason, remark: str | None) -> Recorded:
        sealed, request = await self._seal(ask, REMARK, remark, {"reason": reason})
        return await self._act(ask, "reopen", lambda c: c.reopen(reason, sealed, ask.by), request)

    async def withdraw(self, ask: Ask, reason: WithdrawReason, remark: str | None) -> Recorded:
        sealed, request = await self._seal(ask, REMARK, remark, {"reason": reason})
        return await self._act(ask, "withdraw", lambda c: c.withdraw(reason, sealed, ask.by), request)

    async def mark_duplicate(self, ask: Ask, original_id: str) -> Recorded:
        original = await self.cases.get(original_id)
        (await self._reach(ask.principal, original_id))(original)
        request = fingerprint({"duplicate_of": original_id})
        return await self._act(ask, "duplicate", lambda c: c.mark_duplicate(original, ask.by), request)

    # ---------------------------------------------------------------- identity

    async def read_identity(self, ask: Ask, purpose: ViewPurpose) -> dict[str, Any]:
        """Record the reading first, then open the sealed fields: no reading goes unrecorded."""
        role = ask.principal.role.value
        request = fingerprint({"purpose": purpose})
        await self._act(ask, "view-identity", lambda c: c.view_identity(purpose, role, ask.by), request)
        history = await self.cases.history(ask.case_id)
        case = Case.replay(ask.case_id, history)
        return _opened(await self._key(case), case, history)

    async def erase_identity(self, ask: Ask, basis: ErasureBasis) -> Recorded:
        """Record the erasure, then destroy the key. Repeating the command (same key) destroys it again,
        so an erasure whose key destruction failed half-way is finished by a retry."""
        request = fingerprint({"legal_basis": basis})
        recorded = await self._act(ask, "erase", lambda c: c.erase_identity(basis, ask.by), request)
        await self.keys.destroy(ask.case_id)
        log.info("case %s: identity key destroyed", ask.case_id)
        return recorded

    # ---------------------------------------------------------------- shared steps

    async def _act(
        self, ask: Ask, command: str, decide: Callable[[Case], Sequence[Event]], request: str
    ) -> Recorded:
        meta = Caller.person(ask.principal, ask.key).meta(
            command, ask.case_id, request=request, at=self.ctx.clock.now()
        )
        reach = await self._reach(ask.principal, ask.case_id)

        def checked(case: Case) -> Sequence[Event]:
            reach(case)
            return decide(case)

        with COMMAND_SECONDS.labels("intake", command).time():
            stored = await self.cases.execute(ask.case_id, checked, meta)
        log.info("case %s: %s", ask.case_id, ",".join(e.event_type for e in stored))
        return Recorded(ask.case_id, stored)

    async def _reach(self, principal: Principal, case_id: str) -> Callable[[Case], None]:
        """A check that the case is inside the officer's jurisdiction where it is now: where routing
        sent it (a transfer takes it out of the old thana's reach), else, until routing has placed it,
        where it was registered. Outside, the case does not exist for her (no hint that it does)."""
        tables: CaseTables = self.register.tables
        async with self.register.sessions() as session:
            row = await find_case(session, tables, case_id=case_id)

        def check(case: Case) -> None:
            if row is not None:
                inside = principal.covers(row["district"], row["circle"], row["thana"])
            else:
                inside = principal.covers(case.district, case.circle, case.thana)
            if not inside:
                raise NotFound("Case", case_id)

        return check

    async def _seal(
        self, ask: Ask, purpose: str, text: str | None, rest: dict[str, Any]
    ) -> tuple[str | None, str]:
        """Seal under the case's key, with the request's fingerprint keyed under it too (the text is a
        person's words). Where the case is out of reach, the command refuses it later (before anything
        is stored); a missing key is explained only to whoever may reach the case."""
        if text is None:
            return None, fingerprint(rest)
        key = await self.keys.find(ask.case_id)
        if key is None:
            case = await self.cases.get(ask.case_id)
            (await self._reach(ask.principal, ask.case_id))(case)
            key = await self._key(case)
        return seal(key, ask.case_id, purpose, text), fingerprint(rest | {purpose: text}, secret=key)

    async def _key(self, case: Case) -> bytes:
        case.check_identity_kept()
        key = await self.keys.find(case.id)
        if key is None:
            # Erasure records its event before destroying the key, so this is a lost key store.
            raise RuntimeError(f"the identity key of case {case.id} is missing from the key store")
        return key

    def _when(self, at: datetime | None) -> datetime:
        now = self.ctx.clock.now()
        if at is None:
            return now
        if at.tzinfo is None:
            raise Refused(
                "time_zone_missing",
                "at",
                "Give the time with its zone, e.g. 2026-01-10T15:30:00+05:30.",
                "समय क्षेत्र सहित दें, जैसे 2026-01-10T15:30:00+05:30।",
            )
        if at > now + CLOCK_SKEW:
            raise Refused(
                "in_future",
                "at",
                "The time is in the future.",
                "यह समय भविष्य का है।",
            )
        return at


def _registered(envelope: Envelope) -> Registered:
    event = envelope.event()
    if not isinstance(event, CaseRegistered):
        raise TypeError(f"case {envelope.aggregate_id} starts with {envelope.event_type}")
    return Registered(envelope.aggregate_id, event.case_number, event)


def _opened(key: bytes, case: Case, history: list[Envelope]) -> dict[str, Any]:
    opened: dict[str, Any] = {"case_id": case.id, "case_number": case.case_number, "records": []}
    for envelope in history:
        event = envelope.event()
        if isinstance(event, CaseRegistered):
            opened["identity"] = json.loads(unseal(key, case.id, IDENTITY, event.sealed_identity))
            continue
        field = SEALED_FIELDS.get(type(event))
        if field is None or not getattr(event, field[0]):
            continue
        opened["records"].append(
            {
                "event_type": envelope.event_type,
                "at": envelope.occurred_at,
                "by": envelope.actor,
                "kind": field[1],
                "text": unseal(key, case.id, field[1], getattr(event, field[0])),
            }
        )
    return opened
