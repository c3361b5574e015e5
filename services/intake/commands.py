"""Intake's commands: what an officer asks intake to do with a complaint, one handler per command.

A route parses the request into a typed command, hands it with its ``Caller`` to the handler here and
shapes the answer from what the handler returns (the events it stored; the registration; the opened
identity). Between the routes and the pure ``Case`` aggregate the handlers do the I/O the aggregate
must not: check the place against the imported jurisdiction, seal identity data under the case's key,
take a case number, keep the officer inside her jurisdiction, and record every reading of identity data.

Command ids and request fingerprints follow the one rule of ``shared.commands``: the same request
again (same key, officer, command, case and body) returns the first answer; the same key with another
body is refused. Fingerprints of bodies carrying a person's words are keyed under the case's key.
Fields that carry a person's words are kept out of every repr (``repr=False``): a command may reach a
log or a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar

import nats.errors
from pydantic import BaseModel, ConfigDict, Field

from services.intake.attachments import CaseFiles, checked, media_type_of, served_name
from services.intake.domain import Case, Complaint
from services.intake.keystore import KeyStore, scrub_sqlite, seal, seal_bytes, unseal, unseal_bytes
from services.intake.numbering import CaseNumbers
from services.intake.phone_index import NotAPhone, PhoneIndex
from services.intake.priority import PriorityTable
from services.intake.read_model.projection import CaseRegister
from services.intake.read_model.queries import case_timeline, cases_by_phone, find_case
from services.intake.read_model.tables import CaseTables
from shared.auth import Principal
from shared.commands import Caller, Command, fingerprint
from shared.contracts.intake import (
    PHONE_SEARCH,
    SERVICE,
    AttachmentRecorded,
    AwaitingComplainant,
    CaseClosed,
    CaseRegistered,
    CaseReopened,
    CaseResolved,
    CaseWithdrawn,
    EarlierCasesSearched,
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
    Record,
    ReopenReason,
    ViewPurpose,
    WithdrawReason,
)
from shared.errors import Busy, CaseNotFound, DomainError, IdempotencyConflict, NotFound
from shared.events import Envelope, Event, derived_id
from shared.eventstore import CommandMeta
from shared.observability import COMMAND_SECONDS
from shared.places import PlaceTables, find_places, jurisdiction_known, places_name
from shared.projection import Projector, folded
from shared.readmodel import one_statement
from shared.rows import Row
from shared.runtime import ServiceContext
from shared.text import Lines, OneLine

log = logging.getLogger(__name__)

MAX_EARLIER_CASES = 20
"""At most this many cases answer a search by phone (it is an oracle: who has this number?)."""
CLOCK_SKEW = timedelta(minutes=5)
FOLDS_AT_ONCE = 2
"""A case as of a moment is folded in a database of its own: at most this many at once, so that a
stream of such readings cannot crowd out the registrations this process also serves."""
FOLD_WAIT_SECONDS = 10.0
REGISTER_WAIT_SECONDS = 10.0
"""How long an erasure waits for the register to delete her number's index before scrubbing its file."""
"""How far in the future an officer's 'when it happened' may be before it is refused."""

IDENTITY, NOTE, FILENAME, REMARK, FEEDBACK = "identity", "note", "filename", "remark", "feedback"
"""What a sealed value is; bound into its ciphertext so that it opens only as what it was sealed as."""


class Refused(Exception):
    """A request intake will not take because of what was asked (HTTP 422), with the field at fault."""

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


Words = Annotated[str, Field(repr=False)]
"""A person's words (a note, a file's name, a description): sealed, never in a repr."""
MaybeWords = Annotated[str | None, Field(repr=False)]
"""Words she may give or not (a remark, feedback); ``Words | None`` would lose the ``repr=False``."""


class RegisterComplaint(Command):
    """Register a complaint; its idempotency key is required (it names the case)."""

    name: ClassVar[str] = "register"
    complaint: Complaint
    description: Words
    identity: Identity


class CaseCommand(Command):
    """A command on one registered case."""

    case_id: str


class MakeFirstContact(CaseCommand):
    name: ClassVar[str] = "first-contact"
    mode: ContactMode
    at: datetime | None


class RecordAction(CaseCommand):
    name: ClassVar[str] = "action"
    kind: ActionKind
    at: datetime | None
    fir_number: str | None


class Refer(CaseCommand):
    name: ClassVar[str] = "referral"
    agency_kind: AgencyKind
    agency_code: str | None


class AddNote(CaseCommand):
    name: ClassVar[str] = "note"
    text: Words


class RecordAttachment(CaseCommand):
    """A file for the case (checked, sealed and stored before its ``AttachmentRecorded``)."""

    name: ClassVar[str] = "attachment"
    kind: AttachmentKind
    filename: Words
    content: Annotated[bytes, Field(repr=False)]


class OpenAttachment(CaseCommand):
    """Open a case's file: like the identity, the reading is recorded first, with its purpose."""

    name: ClassVar[str] = "view-identity"
    attachment_id: str
    purpose: ViewPurpose


@dataclass(frozen=True)
class OpenedFile:
    filename: str
    media_type: str
    content: bytes


class AwaitComplainant(CaseCommand):
    name: ClassVar[str] = "awaiting"
    reason: AwaitingReason
    remark: MaybeWords


class ComplainantResponded(CaseCommand):
    name: ClassVar[str] = "responded"


class Resolve(CaseCommand):
    name: ClassVar[str] = "resolve"
    outcome: Outcome | None
    rating: int | None
    feedback: MaybeWords


class Close(CaseCommand):
    name: ClassVar[str] = "close"
    reason: CloseReason
    remark: MaybeWords


class Reopen(CaseCommand):
    name: ClassVar[str] = "reopen"
    reason: ReopenReason
    remark: MaybeWords


class Withdraw(CaseCommand):
    name: ClassVar[str] = "withdraw"
    reason: WithdrawReason
    remark: MaybeWords


class MarkDuplicate(CaseCommand):
    name: ClassVar[str] = "duplicate"
    original_id: str


class WithdrawMessagesConsent(CaseCommand):
    """She no longer wants SMS about her case (told to the Kendra in person or by phone)."""

    name: ClassVar[str] = "withdraw-messages-consent"


class ReadIdentity(CaseCommand):
    """Open the sealed identity, notes and remarks: the reading is recorded first."""

    name: ClassVar[str] = "view-identity"
    purpose: ViewPurpose


class EraseIdentity(CaseCommand):
    name: ClassVar[str] = "erase"
    basis: ErasureBasis


class IntakeCommands:
    def __init__(
        self, ctx: ServiceContext, keys: KeyStore, table: PriorityTable, phone_index: PhoneIndex
    ) -> None:
        self.ctx = ctx
        self.keys = keys
        self.table = table
        self.phone_index = phone_index
        self.cases = ctx.repository(Case)
        self.numbers = CaseNumbers(ctx.store)
        self._folds = asyncio.Semaphore(FOLDS_AT_ONCE)
        self.files = CaseFiles(ctx.store.nc, replicas=ctx.store.replicas)

    @property
    def places(self) -> Projector[PlaceTables]:
        return self.ctx.projector(places_name(SERVICE))

    @property
    def register(self) -> Projector[CaseTables]:
        return self.ctx.projector("intake_cases")

    # ---------------------------------------------------------------- registration

    async def register_complaint(self, caller: Caller, command: RegisterComplaint) -> Registered:
        if caller.key is None:
            raise TypeError("a registration is named by its idempotency key; the route requires one")
        principal, complaint = caller.who, command.complaint
        case_id = derived_id("case", derived_id("register", caller.actor, caller.key)).hex
        particulars = command.identity.model_dump() | {"description": command.description}
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
                command.name, case_id, request=fingerprint(request, secret=case_key), at=self.ctx.clock.now()
            )
            number = await self.numbers.issue(
                complaint.district,
                self.ctx.clock.now(),
                case_id,
                CommandMeta(
                    command_id=f"{meta.command_id}:number", actor=caller.actor, occurred_at=meta.occurred_at
                ),
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
        """The circle of the complaint's thana; refuses a place the imported jurisdiction does not know
        once the read model holds what is stored (a jurisdiction imported a moment ago; when it cannot
        catch up in time, ``ReadModelBehind``: retry, not refused)."""
        try:
            return await self._place_known(complaint)
        except Refused:
            await self.places.require_current()
            return await self._place_known(complaint)

    async def _place_known(self, complaint: Complaint) -> str | None:
        tables: PlaceTables = self.places.tables
        wanted = [("district", complaint.district)]
        wanted += [("thana", complaint.thana)] if complaint.thana else []
        wanted += [("locality", complaint.locality_code)] if complaint.locality_code else []
        async with one_statement(self.places.sessions) as session:
            found = await find_places(session, tables, wanted)
        known = bool(found)
        if not known:
            async with one_statement(self.places.sessions) as session:
                known = await jurisdiction_known(session, tables)
        if not known:
            raise Refused(
                "no_jurisdiction",
                "district",
                "No jurisdiction has been imported yet, so no place can be checked. An operator must "
                "first import the district's circles and thanas (`shakti routing import`).",
                "अभी तक कोई क्षेत्राधिकार आयात नहीं हुआ है, इसलिए स्थान की जाँच नहीं हो सकती। पहले संचालक "
                "जिले के सर्किल और थाने आयात करें (`shakti routing import`)।",
            )
        if ("district", complaint.district) not in found:
            raise Refused(
                "unknown_district",
                "district",
                f"Unknown district code '{complaint.district}'. Valid codes are listed at "
                "GET /api/intake/places (as imported by routing with `shakti routing import`).",
                f"जिला कोड '{complaint.district}' मान्य नहीं है। मान्य कोड GET /api/intake/places पर "
                "देखें (रूटिंग द्वारा `shakti routing import` से आयातित)।",
            )
        # keys: a locality is one of the jurisdiction's, named by its code (never free text in clear).
        locality = found.get(("locality", complaint.locality_code)) if complaint.locality_code else None
        if complaint.locality_code and (locality is None or locality["district"] != complaint.district):
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
        if locality is not None:
            self._refuse_retired(locality, "locality_code")
        if complaint.thana is None:
            return None
        thana = found.get(("thana", complaint.thana))
        if thana is None or thana["district"] != complaint.district:
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
        self._refuse_retired(thana, "thana")
        circle: str | None = thana["circle"]
        return circle

    @staticmethod
    def _refuse_retired(place: Row, field: str) -> None:
        """A unit a re-imported jurisdiction no longer lists takes no new cases (routing would have no
        live place to send it to)."""
        if place["retired"]:
            code = place["code"]
            raise Refused(
                "retired_place",
                field,
                f"'{code}' is no longer in the jurisdiction (the latest import retired it), so it takes no "
                "new complaints. Choose the place that now serves this area from "
                f"GET /api/intake/places?district={place['district']}.",
                f"'{code}' अब क्षेत्राधिकार में नहीं है (नवीनतम आयात ने इसे हटा दिया), इसलिए यहाँ नई शिकायत "
                "दर्ज नहीं होती। इस क्षेत्र का वर्तमान स्थान "
                f"GET /api/intake/places?district={place['district']} से चुनें।",
            )

    # ---------------------------------------------------------------- the lifecycle

    async def make_first_contact(self, caller: Caller, command: MakeFirstContact) -> list[Envelope]:
        moment = self._when(command.at)
        request = fingerprint({"mode": command.mode, "at": command.at})
        return await self._act(
            caller, command, lambda c: c.make_first_contact(command.mode, moment, caller.actor), request
        )

    async def record_action(self, caller: Caller, command: RecordAction) -> list[Envelope]:
        moment = self._when(command.at)
        kind, fir_number = command.kind, command.fir_number
        request = fingerprint({"kind": kind, "at": command.at, "fir_number": fir_number})
        return await self._act(
            caller, command, lambda c: c.record_action(kind, moment, caller.actor, fir_number), request
        )

    async def refer(self, caller: Caller, command: Refer) -> list[Envelope]:
        kind, code = command.agency_kind, command.agency_code
        request = fingerprint({"agency_kind": kind, "agency_code": code})
        return await self._act(caller, command, lambda c: c.refer(kind, code, caller.actor), request)

    async def add_note(self, caller: Caller, command: AddNote) -> list[Envelope]:
        sealed, request = await self._seal(caller, command.case_id, NOTE, command.text, {})
        return await self._act(caller, command, lambda c: c.add_note(sealed or "", caller.actor), request)

    async def record_attachment(self, caller: Caller, command: RecordAttachment) -> list[Envelope]:
        """Check the file, seal it under the case's key and store it, then record it. Its object is named
        from the request (key, file, kind and name), so a repeated request stores over its own object and
        gets its first answer, and a refused one leaves no object behind."""
        case_id = command.case_id
        case = await self.cases.get(case_id)
        (await self._reach(caller.who, case_id))(case)
        case_file = checked(command.content)
        key = await self._key(case)
        # The event keeps a digest keyed with the case's key: once the key is destroyed, nobody holding a
        # copy of the file can confirm that it was this case's.
        kind, size, sha256 = (
            command.kind,
            case_file.size,
            hmac.new(key, case_file.content, "sha256").hexdigest(),
        )
        request = fingerprint({"kind": kind, "sha256": sha256, FILENAME: command.filename}, secret=key)
        # From the keyed fingerprint, never the name itself: once the key is destroyed, the id must not
        # confirm a guessed name (hers, in the file's name) to whoever reads the events.
        attachment = derived_id("attachment", caller.actor, caller.key or uuid.uuid4().hex, request).hex
        sealed = seal_bytes(key, case_id, f"attachment:{attachment}", case_file.content)
        await self.files.put(case_id, attachment, sealed)
        sealed_name = seal(key, case_id, FILENAME, command.filename)
        try:
            return await self._act(
                caller,
                command,
                lambda c: c.record_attachment(attachment, kind, size, sha256, sealed_name, caller.actor),
                request,
            )
        except BaseException:
            await self.files.delete(case_id, attachment)
            raise

    async def attachments(self, caller: Caller, case_id: str) -> list[dict[str, Any]]:
        """The case's files as the case page lists them: kind, size, when and by whom (names are sealed)."""
        case = await self.cases.get(case_id)
        (await self._reach(caller.who, case_id))(case)
        return [
            {
                "attachment_id": event.attachment_id,
                "kind": event.kind,
                "size_bytes": event.size_bytes,
                "at": envelope.occurred_at,
                "by": event.by,
                "readable": not case.identity_erased,
            }
            for envelope in await self.cases.history(case_id)
            if isinstance(event := envelope.event(), AttachmentRecorded)
        ]

    async def open_attachment(self, caller: Caller, command: OpenAttachment) -> OpenedFile:
        """Record the reading first (as for the identity), then open the file."""
        case_id, role, purpose = command.case_id, caller.who.role.value, command.purpose
        history = await self.cases.history(case_id)
        recorded = next(
            (
                event
                for envelope in history
                if isinstance(event := envelope.event(), AttachmentRecorded)
                and event.attachment_id == command.attachment_id
            ),
            None,
        )
        if recorded is None:
            raise NotFound(Record.ATTACHMENT, command.attachment_id)
        request = fingerprint({"purpose": purpose, "attachment": command.attachment_id})
        await self._act(caller, command, lambda c: c.view_identity(purpose, role, caller.actor), request)
        key = await self._key(Case.replay(case_id, history))
        sealed = await self.files.get(case_id, command.attachment_id)
        if sealed is None:
            raise RuntimeError(
                f"the file {command.attachment_id} of case {case_id} is missing from its bucket"
            )
        content = unseal_bytes(key, case_id, f"attachment:{command.attachment_id}", sealed)
        filename = unseal(key, case_id, FILENAME, recorded.sealed_filename)
        media_type = media_type_of(content)
        return OpenedFile(served_name(filename, media_type), media_type, content)

    async def await_complainant(self, caller: Caller, command: AwaitComplainant) -> list[Envelope]:
        reason = command.reason
        sealed, request = await self._seal(
            caller, command.case_id, REMARK, command.remark, {"reason": reason}
        )
        return await self._act(
            caller, command, lambda c: c.await_complainant(reason, sealed, caller.actor), request
        )

    async def complainant_responded(self, caller: Caller, command: ComplainantResponded) -> list[Envelope]:
        return await self._act(
            caller, command, lambda c: c.complainant_responded(caller.actor), fingerprint({})
        )

    async def resolve(self, caller: Caller, command: Resolve) -> list[Envelope]:
        outcome, rating = command.outcome, command.rating
        sealed, request = await self._seal(
            caller, command.case_id, FEEDBACK, command.feedback, {"outcome": outcome, "rating": rating}
        )
        return await self._act(
            caller, command, lambda c: c.resolve(outcome, rating, sealed, caller.actor), request
        )

    async def close(self, caller: Caller, command: Close) -> list[Envelope]:
        reason = command.reason
        sealed, request = await self._seal(
            caller, command.case_id, REMARK, command.remark, {"reason": reason}
        )
        return await self._act(caller, command, lambda c: c.close(reason, sealed, caller.actor), request)

    async def reopen(self, caller: Caller, command: Reopen) -> list[Envelope]:
        reason = command.reason
        sealed, request = await self._seal(
            caller, command.case_id, REMARK, command.remark, {"reason": reason}
        )
        return await self._act(caller, command, lambda c: c.reopen(reason, sealed, caller.actor), request)

    async def withdraw(self, caller: Caller, command: Withdraw) -> list[Envelope]:
        reason = command.reason
        sealed, request = await self._seal(
            caller, command.case_id, REMARK, command.remark, {"reason": reason}
        )
        return await self._act(caller, command, lambda c: c.withdraw(reason, sealed, caller.actor), request)

    async def withdraw_messages_consent(
        self, caller: Caller, command: WithdrawMessagesConsent
    ) -> list[Envelope]:
        return await self._act(
            caller, command, lambda c: c.withdraw_messages_consent(caller.actor), fingerprint({})
        )

    async def mark_duplicate(self, caller: Caller, command: MarkDuplicate) -> list[Envelope]:
        original = await self.cases.get(command.original_id)
        (await self._reach(caller.who, command.original_id))(original)
        request = fingerprint({"duplicate_of": command.original_id})
        return await self._act(caller, command, lambda c: c.mark_duplicate(original, caller.actor), request)

    # ---------------------------------------------------------------- identity

    async def read_identity(self, caller: Caller, command: ReadIdentity) -> dict[str, Any]:
        """Record the reading first, then open the sealed fields: no reading goes unrecorded."""
        role, purpose = caller.who.role.value, command.purpose
        request = fingerprint({"purpose": purpose})
        await self._act(caller, command, lambda c: c.view_identity(purpose, role, caller.actor), request)
        history = await self.cases.history(command.case_id)
        case = Case.replay(command.case_id, history)
        return _opened(await self._key(case), case, history)

    async def erase_identity(self, caller: Caller, command: EraseIdentity) -> list[Envelope]:
        """Record the erasure, then destroy the key. Repeating the command (same key) destroys it again,
        so an erasure whose key destruction failed half-way is finished by a retry."""
        basis = command.basis
        request = fingerprint({"legal_basis": basis})
        recorded = await self._act(caller, command, lambda c: c.erase_identity(basis, caller.actor), request)
        await self.keys.destroy(command.case_id)
        log.info("case %s: identity key destroyed", command.case_id)
        # Unreadable already (their key is gone); the bucket's copies go too.
        for envelope in await self.cases.history(command.case_id):
            if isinstance(event := envelope.event(), AttachmentRecorded):
                try:
                    await self.files.delete(command.case_id, event.attachment_id)
                except nats.errors.Error as error:
                    log.warning("case %s: a sealed file kept in its bucket (%s)", command.case_id, error)
        await self._register_forgets(recorded)
        return recorded

    async def _register_forgets(self, recorded: list[Envelope]) -> None:
        """The register deletes her number's index as it applies the erasure; on SQLite the page as it
        was stays in the database file until the WAL is checkpointed. So: wait (a while) for the
        register to apply it, then checkpoint and truncate the WAL (the key store's scrub does the
        same for its own file, which may be another)."""
        last = recorded[-1].sequence if recorded else 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(REGISTER_WAIT_SECONDS):
                await self._register_reaches(last)
        database = self.register.engine.url.database
        scrubbed = True
        if self.register.engine.dialect.name == "sqlite" and database:
            scrubbed = await asyncio.to_thread(scrub_sqlite, database, False)
        if not scrubbed:
            log.error("case register: the WAL could not be truncated after an erasure (readers kept it)")

    async def _register_reaches(self, sequence: int) -> None:
        # The register's checkpoint is in the database, moved by whichever process keeps it.
        while await self.register.checkpoint(SERVICE.upper()) < sequence:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    # ---------------------------------------------------------------- shared steps

    async def earlier_cases(self, caller: Caller, phone: str) -> tuple[list[dict[str, Any]], bool]:
        """A complainant's cases inside the caller's jurisdiction, by her phone's blind index (at most
        ``MAX_EARLIER_CASES``, newest first) and whether more matched. The search is recorded first
        (``EarlierCasesSearched``, found or not), then each case shown records an ``IdentityViewed``:
        a search says that the cases share a complainant, which is identity data."""
        try:
            index = self.phone_index.of(phone)
        except NotAPhone:
            raise Refused(
                "not_a_phone",
                "phone",
                "Not an Indian phone number: ten digits, optionally with +91 or 0 before them.",
                "भारतीय फ़ोन नंबर नहीं है: दस अंक, चाहें तो आगे +91 या 0 के साथ।",
            ) from None
        async with self.register.sessions() as session:
            rows = await cases_by_phone(
                session, self.register.tables, caller.who.scope(), index, limit=MAX_EARLIER_CASES + 1
            )
        capped, rows = len(rows) > MAX_EARLIER_CASES, rows[:MAX_EARLIER_CASES]
        search_id = uuid.uuid4().hex
        searched = EarlierCasesSearched(
            by=caller.actor, role=caller.who.role.value, found=len(rows), capped=capped
        )
        meta = CommandMeta(
            command_id=f"earlier-cases:{search_id}", actor=caller.actor, occurred_at=self.ctx.clock.now()
        )
        await self.ctx.store.append(
            PHONE_SEARCH, search_id, [searched], expected_sequence=0, expected_version=0, meta=meta
        )
        shown = []
        for row in rows:
            viewing = ReadIdentity(case_id=row["case_id"], purpose=ViewPurpose.EARLIER_CASES)
            try:
                await self._act(
                    caller,
                    viewing,
                    lambda c: c.view_identity(ViewPurpose.EARLIER_CASES, caller.who.role.value, caller.actor),
                    fingerprint({"purpose": ViewPurpose.EARLIER_CASES}),
                )
            except DomainError:
                continue  # erased (or moved out of reach) since the read model last heard of it
            shown.append(row)
        return shown, capped

    async def _act(
        self, caller: Caller, command: CaseCommand, decide: Callable[[Case], Sequence[Event]], request: str
    ) -> list[Envelope]:
        case_id = command.case_id
        meta = caller.meta(command.name, case_id, request=request, at=self.ctx.clock.now())
        reach = await self._reach(caller.who, case_id)

        def checked(case: Case) -> Sequence[Event]:
            reach(case)
            return decide(case)

        with COMMAND_SECONDS.labels("intake", command.name).time():
            stored = await self.cases.execute(case_id, checked, meta)
        log.info("case %s: %s", case_id, ",".join(e.event_type for e in stored))
        return stored

    def moment(self, at: datetime) -> datetime:
        """A moment a person asked about: with its zone, and not to come."""
        return self._when(at)

    async def case_as_of(self, case_id: str, moment: datetime) -> tuple[Row, list[Row]]:
        """The case as it stood at ``moment`` and its timeline up to then: the register's own projection
        folded over the case's events of the three streams up to that moment (the caller's reach is
        the API's to check, on the case as it is now). Each stream is applied in its own order, as a
        projector would: a stream's times need not rise (escalation's reaction to a first contact
        carries the contact's time, and may come after a breach the timer recorded meanwhile)."""
        try:
            async with asyncio.timeout(FOLD_WAIT_SECONDS):
                await self._folds.acquire()
        except TimeoutError:
            raise Busy() from None
        try:
            store = self.ctx.store
            streams = [
                [e for e in await store.load("case", case_id, service=service) if e.occurred_at <= moment]
                for service in (SERVICE, "routing", "escalation")  # at one moment, the registration first
            ]
            events = list(heapq.merge(*streams, key=lambda e: e.occurred_at))
            as_of = CaseRegister(index_phones=False)
            async with folded(as_of, events) as (opened, tables), opened() as session:
                row = await find_case(session, tables, case_id=case_id)
                entries = await case_timeline(session, tables, case_id) if row is not None else []
        finally:
            self._folds.release()
        if row is None:  # not registered yet at that moment
            raise CaseNotFound(case_id)
        return row, entries

    async def _reach(self, principal: Principal, case_id: str) -> Callable[[Case], None]:
        """A check that the case is inside the officer's jurisdiction where it is now: where routing
        sent it (a transfer takes it out of the old thana's reach), else, until routing has placed it,
        where it was registered. Outside, the case does not exist for her (no hint that it does)."""
        tables: CaseTables = self.register.tables
        async with self.register.sessions() as session:
            row = await find_case(session, tables, case_id=case_id)

        def check(case: Case) -> None:
            if row is not None:
                principal.reach_case(case_id, row["district"], row["circle"], row["thana"])
            else:
                principal.reach_case(case_id, case.district, case.circle, case.thana)

        return check

    async def _seal(
        self, caller: Caller, case_id: str, purpose: str, text: str | None, rest: dict[str, Any]
    ) -> tuple[str | None, str]:
        """Seal under the case's key, with the request's fingerprint keyed under it too (the text is a
        person's words). Where the case is out of reach, the command refuses it later (before anything
        is stored); a missing key is explained only to whoever may reach the case."""
        if text is None:
            return None, fingerprint(rest)
        key = await self.keys.find(case_id)
        if key is None:
            case = await self.cases.get(case_id)
            (await self._reach(caller.who, case_id))(case)
            key = await self._key(case)
        return seal(key, case_id, purpose, text), fingerprint(rest | {purpose: text}, secret=key)

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
