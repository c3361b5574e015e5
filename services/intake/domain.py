"""The Case aggregate: the rules of a complaint's life, pure (no I/O).

Commands take what the command layer (``commands.py``) prepared (sealed identity, the case number,
the priority table) and return events; every broken rule is a ``DomainError`` with an English and a
Hindi message for the officer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.intake.priority import PriorityTable
from shared.aggregate import Aggregate
from shared.contracts.intake import (
    AGGREGATE,
    ActionRecorded,
    AttachmentRecorded,
    AwaitingComplainant,
    CaseClosed,
    CaseMarkedDuplicate,
    CaseRegistered,
    CaseReopened,
    CaseResolved,
    CaseWithdrawn,
    ComplainantMessageFailed,
    ComplainantMessageSent,
    ComplainantResponded,
    FirstContactMade,
    IdentityErased,
    IdentityViewed,
    MessagesConsentWithdrawn,
    NoteAdded,
    ReferralMade,
)
from shared.contracts.vocabulary import (
    FINISHED,
    SEXUAL_OFFENCES,
    ActionKind,
    AgencyKind,
    AttachmentKind,
    AwaitingReason,
    CaseStatus,
    Category,
    Channel,
    CloseReason,
    ContactMode,
    ErasureBasis,
    Language,
    Outcome,
    ReopenReason,
    ViewPurpose,
    WithdrawReason,
)
from shared.errors import CaseNotFound, DomainError
from shared.events import Event

POCSO_FLAGS = ("pocso", "cwc")
"""A minor's sexual-offence case: POCSO applies and the Child Welfare Committee must be told."""


@dataclass(frozen=True)
class Complaint:
    """What the officer tells intake about a new complaint, minus the identity (sealed apart)."""

    channel: Channel
    category: Category
    district: str
    circle: str | None
    thana: str | None
    pincode: str | None
    locality_code: str | None
    """A locality's code from the jurisdiction; what she says about the place is sealed with the identity."""
    minor: bool
    danger_now: bool
    language: Language
    consent_to_share: bool
    consent_to_messages: bool = False
    """She agreed to be sent SMS about the case (receipt, status changes); off unless she said so."""


def flags_for(category: Category, minor: bool) -> list[str]:
    # An offence against a minor concerns a child by definition, whatever the minor box says.
    child = minor or category == Category.OFFENCE_AGAINST_MINOR
    return list(POCSO_FLAGS) if child and category in SEXUAL_OFFENCES else []


def next_status(current: CaseStatus | None, event: Event) -> CaseStatus | None:
    """Where an event leaves a case's status; the aggregate and the read model both follow this."""
    match event:
        case CaseRegistered():
            return CaseStatus.REGISTERED
        case FirstContactMade() | ActionRecorded():
            return CaseStatus.IN_PROGRESS if current == CaseStatus.REGISTERED else current
        case AwaitingComplainant():
            return CaseStatus.AWAITING_COMPLAINANT
        case ComplainantResponded() | CaseReopened():
            return CaseStatus.IN_PROGRESS
        case CaseResolved():
            return CaseStatus.RESOLVED
        case CaseClosed():
            return CaseStatus.CLOSED
        case CaseWithdrawn():
            return CaseStatus.WITHDRAWN
        case CaseMarkedDuplicate():
            return CaseStatus.DUPLICATE
    return current


class Case(Aggregate):
    aggregate_type = AGGREGATE

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.status: CaseStatus | None = None
        self.case_number = ""
        self.district = ""
        self.circle: str | None = None
        self.thana: str | None = None
        self.first_contact_made = False
        self.identity_erased = False
        self.consent_to_messages = False
        self.messages_sent: set[str] = set()
        """Notification ids of her SMS handed to the channel: each goes once."""
        self.message_tries: dict[str, int] = {}
        """Failed tries of each of her SMS so far (a redelivered request counts on from them)."""

    # ---- folding events into state

    def apply(self, event: Event) -> None:
        self.status = next_status(self.status, event)
        match event:
            case CaseRegistered():
                self.case_number = event.case_number
                self.district, self.circle, self.thana = event.district, event.circle, event.thana
                self.consent_to_messages = event.consent_to_messages
            case MessagesConsentWithdrawn():
                self.consent_to_messages = False
            case ComplainantMessageSent():
                self.messages_sent.add(event.notification_id)
            case ComplainantMessageFailed():
                self.message_tries[event.notification_id] = (
                    self.message_tries.get(event.notification_id, 0) + 1
                )
            case FirstContactMade():
                self.first_contact_made = True
            case IdentityErased():
                self.identity_erased = True
            case _:
                pass

    # ---- rules shared by the commands

    def _existing(self) -> CaseStatus:
        if self.status is None:
            raise CaseNotFound(self.id)
        return self.status

    def _open(self) -> None:
        """A case that is still being worked on: no action on a closed, withdrawn or duplicate case."""
        status = self._existing()
        if status in FINISHED:
            raise DomainError(
                "case_closed",
                f"Case {self.case_number} is {status.value.replace('_', ' ')}: "
                "no action can be recorded on it."
                + (" Reopen it first." if status == CaseStatus.CLOSED else ""),
                f"मामला {self.case_number} {_HINDI_FINISHED[status]} है: इस पर कोई कार्रवाई दर्ज नहीं हो सकती।"
                + (" पहले इसे पुनः खोलें।" if status == CaseStatus.CLOSED else ""),
            )

    def _active(self) -> None:
        """Open and not yet disposed of."""
        self._open()
        if self.status == CaseStatus.RESOLVED:
            raise DomainError(
                "case_resolved",
                f"Case {self.case_number} is already disposed of; close it, or reopen it after closing.",
                f"मामला {self.case_number} निस्तारित हो चुका है; इसे बंद करें, या बंद करने के बाद पुनः खोलें।",
            )

    def check_identity_kept(self) -> None:
        self._existing()
        if self.identity_erased:
            raise DomainError(
                "identity_erased",
                f"The personal data of case {self.case_number} was erased; it cannot be read or added to.",
                f"मामला {self.case_number} का व्यक्तिगत डेटा मिटाया जा चुका है; इसे पढ़ा या जोड़ा नहीं जा सकता।",
            )

    # ---- commands

    def admit(self, complaint: Complaint, table: PriorityTable) -> None:
        """The rules a new complaint must meet; checked before a case number is spent on it."""
        if self.status is not None:
            raise DomainError(
                "case_exists",
                f"Case {self.case_number} is already registered.",
                f"मामला {self.case_number} पहले से दर्ज है।",
            )
        if not table.offers(complaint.category):
            raise DomainError(
                "category_not_offered",
                f"Category '{complaint.category.value}' is not offered at intake (see the priority table).",
                f"श्रेणी '{complaint.category.value}' पंजीकरण हेतु उपलब्ध नहीं है (प्राथमिकता तालिका देखें)।",
            )
        if complaint.thana is None and complaint.pincode is None and complaint.locality_code is None:
            raise DomainError(
                "place_missing",
                "Give the thana, or a pincode or a locality (its code from GET /api/intake/places) so "
                "that routing can find it.",
                "थाना दें, या पिनकोड अथवा मोहल्ला/गाँव (उसका कोड, GET /api/intake/places से) दें ताकि सही "
                "थाना खोजा जा सके।",
            )

    def register(
        self,
        complaint: Complaint,
        *,
        case_number: str,
        sealed_identity: str,
        table: PriorityTable,
        by: str,
        registered_from: str | None = None,
    ) -> Sequence[Event]:
        self.admit(complaint, table)
        return [
            CaseRegistered(
                case_number=case_number,
                channel=complaint.channel,
                category=complaint.category,
                priority=table.priority(
                    complaint.category, minor=complaint.minor, danger_now=complaint.danger_now
                ),
                danger_now=complaint.danger_now,
                minor=complaint.minor,
                district=complaint.district,
                circle=complaint.circle,
                thana=complaint.thana,
                pincode=complaint.pincode,
                locality_code=complaint.locality_code,
                language=complaint.language.value,
                consent_to_share=complaint.consent_to_share,
                consent_to_messages=complaint.consent_to_messages,
                registered_by=by,
                registered_at_thana=registered_from,
                flags=flags_for(complaint.category, complaint.minor),
                sealed_identity=sealed_identity,
            )
        ]

    def make_first_contact(self, mode: ContactMode, at: datetime, by: str) -> Sequence[Event]:
        self._active()
        if self.first_contact_made:
            raise DomainError(
                "first_contact_made",
                f"First contact on case {self.case_number} is already recorded; record an action instead.",
                f"मामला {self.case_number} में पहला संपर्क पहले ही दर्ज है; अब कार्रवाई दर्ज करें।",
            )
        return [FirstContactMade(by=by, at=at, mode=mode.value)]

    def record_action(
        self, kind: ActionKind, at: datetime, by: str, fir_number: str | None = None
    ) -> Sequence[Event]:
        self._active()
        if kind == ActionKind.FIR_REGISTERED and not fir_number:
            raise DomainError(
                "fir_number_missing",
                "An FIR registered needs its FIR number.",
                "दर्ज एफआईआर के लिए एफआईआर संख्या आवश्यक है।",
            )
        if kind != ActionKind.FIR_REGISTERED and fir_number:
            raise DomainError(
                "fir_number_unexpected",
                "An FIR number goes only with the action 'FIR registered'.",
                "एफआईआर संख्या केवल 'एफआईआर दर्ज' कार्रवाई के साथ दी जाती है।",
            )
        return [ActionRecorded(kind=kind.value, by=by, at=at, fir_number=fir_number)]

    def refer(self, agency_kind: AgencyKind, agency_code: str | None, by: str) -> Sequence[Event]:
        self._active()
        return [ReferralMade(agency_kind=agency_kind, agency_code=agency_code, by=by)]

    def add_note(self, sealed_text: str, by: str) -> Sequence[Event]:
        self._open()
        self.check_identity_kept()
        return [NoteAdded(by=by, sealed_text=sealed_text)]

    def record_attachment(
        self,
        attachment_id: str,
        kind: AttachmentKind,
        size_bytes: int,
        sha256: str,
        sealed_filename: str,
        by: str,
    ) -> Sequence[Event]:
        self._open()
        self.check_identity_kept()
        return [
            AttachmentRecorded(
                attachment_id=attachment_id,
                kind=kind.value,
                size_bytes=size_bytes,
                sha256=sha256,
                by=by,
                sealed_filename=sealed_filename,
            )
        ]

    def await_complainant(
        self, reason: AwaitingReason, sealed_remark: str | None, by: str
    ) -> Sequence[Event]:
        self._active()
        if self.status == CaseStatus.AWAITING_COMPLAINANT:
            raise DomainError(
                "already_awaiting",
                f"Case {self.case_number} is already waiting for the complainant.",
                f"मामला {self.case_number} पहले से शिकायतकर्ता की प्रतीक्षा में है।",
            )
        return [AwaitingComplainant(reason=reason.value, by=by, sealed_remark=sealed_remark)]

    def complainant_responded(self, by: str) -> Sequence[Event]:
        self._active()
        if self.status != CaseStatus.AWAITING_COMPLAINANT:
            raise DomainError(
                "not_awaiting",
                f"Case {self.case_number} is not waiting for the complainant.",
                f"मामला {self.case_number} शिकायतकर्ता की प्रतीक्षा में नहीं है।",
            )
        return [ComplainantResponded(by=by)]

    def resolve(
        self,
        outcome: Outcome | None,
        feedback_rating: int | None,
        sealed_feedback: str | None,
        by: str,
    ) -> Sequence[Event]:
        self._active()
        if outcome is None:
            raise DomainError(
                "outcome_missing",
                "A disposal needs its outcome.",
                "निस्तारण के लिए परिणाम बताना आवश्यक है।",
            )
        return [
            CaseResolved(
                outcome=outcome.value, feedback_rating=feedback_rating, by=by, sealed_feedback=sealed_feedback
            )
        ]

    def close(self, reason: CloseReason, sealed_remark: str | None, by: str) -> Sequence[Event]:
        self._open()
        return [CaseClosed(reason=reason.value, by=by, sealed_remark=sealed_remark)]

    def reopen(self, reason: ReopenReason, sealed_remark: str | None, by: str) -> Sequence[Event]:
        if self._existing() != CaseStatus.CLOSED:
            raise DomainError(
                "not_closed",
                f"Only a closed case can be reopened; case {self.case_number} is "
                f"{self._existing().value.replace('_', ' ')}.",
                f"केवल बंद मामला पुनः खोला जा सकता है; मामला {self.case_number} बंद नहीं है।",
            )
        return [CaseReopened(reason=reason.value, by=by, sealed_remark=sealed_remark)]

    def withdraw(self, reason: WithdrawReason, sealed_remark: str | None, by: str) -> Sequence[Event]:
        self._active()
        return [CaseWithdrawn(reason=reason.value, by=by, sealed_remark=sealed_remark)]

    def mark_duplicate(self, original: Case, by: str) -> Sequence[Event]:
        self._active()
        if original.id == self.id:
            raise DomainError(
                "duplicate_of_itself",
                "A case cannot be a duplicate of itself.",
                "कोई मामला स्वयं की दोहरी शिकायत नहीं हो सकता।",
            )
        if original.status is None:
            raise CaseNotFound(original.id)
        if original.status == CaseStatus.DUPLICATE:
            raise DomainError(
                "original_is_duplicate",
                f"Case {original.case_number} is itself a duplicate; mark against the case it duplicates.",
                f"मामला {original.case_number} स्वयं दोहरी शिकायत है; मूल मामले के साथ जोड़ें।",
            )
        return [
            CaseMarkedDuplicate(duplicate_of=original.id, duplicate_of_number=original.case_number, by=by)
        ]

    def withdraw_messages_consent(self, by: str) -> Sequence[Event]:
        """Allowed on a finished case too: she may not want to hear of a reopening either."""
        self._existing()
        if not self.consent_to_messages:
            raise DomainError(
                "no_messages_consent",
                f"Case {self.case_number} has no consent to SMS messages to withdraw: none are sent.",
                f"मामला {self.case_number} में एसएमएस संदेशों की सहमति नहीं है जिसे वापस लिया जाए: "
                "कोई संदेश नहीं भेजा जाता।",
            )
        return [MessagesConsentWithdrawn(by=by)]

    def why_no_message(self) -> str | None:
        """Why no SMS may go to her now (a reason code), or None: she consents and her identity is kept."""
        self._existing()
        if self.identity_erased:
            return "identity_erased"
        return None if self.consent_to_messages else "no_consent"

    def message_sent(self, notification_id: str, via: str, attempts: int, at: datetime) -> Sequence[Event]:
        self._existing()
        if notification_id in self.messages_sent:
            return []
        return [ComplainantMessageSent(notification_id=notification_id, via=via, attempts=attempts, at=at)]

    def message_failed(
        self, notification_id: str, attempt: int, reason: str, parked: bool, at: datetime
    ) -> Sequence[Event]:
        self._existing()
        if notification_id in self.messages_sent:
            return []
        failed = ComplainantMessageFailed(
            notification_id=notification_id, attempt=attempt, reason=reason, parked=parked, at=at
        )
        return [failed]

    def view_identity(self, purpose: ViewPurpose, role: str, by: str) -> Sequence[Event]:
        self.check_identity_kept()
        return [IdentityViewed(by=by, role=role, purpose=purpose.value)]

    def erase_identity(self, basis: ErasureBasis, by: str) -> Sequence[Event]:
        self.check_identity_kept()
        return [IdentityErased(by=by, legal_basis=basis.value)]


_HINDI_FINISHED = {
    CaseStatus.CLOSED: "बंद",
    CaseStatus.WITHDRAWN: "वापस लिया गया",
    CaseStatus.DUPLICATE: "दोहरी शिकायत के रूप में चिह्नित",
}
