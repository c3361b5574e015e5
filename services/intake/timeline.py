"""A case's story in words, in English and Hindi: one sentence for each event about it, whichever
service recorded it (intake's lifecycle, routing's assignment and referrals, escalation's deadlines).

Sentences use only clear fields (codes, officer service numbers, dates); sealed fields are mentioned,
never opened.
"""

from __future__ import annotations

from datetime import datetime

from services.intake.numbering import INDIA
from shared.contracts.escalation import (
    CaseEscalated,
    ClockPaused,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    DeadlineApproaching,
    EscalationAcknowledged,
    SlaBreached,
)
from shared.contracts.intake import (
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
from shared.contracts.routing import (
    CaseAssigned,
    CaseReassigned,
    CaseRouted,
    CaseUnroutable,
    ReferralAccepted,
    ReferralCompleted,
    ReferralIssued,
    ReferralRejected,
)
from shared.contracts.vocabulary import (
    ACTION_LABELS,
    AGENCY_LABELS,
    ATTACHMENT_LABELS,
    AWAITING_LABELS,
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    CLOCK_LABELS,
    CLOSE_LABELS,
    CONTACT_LABELS,
    ERASURE_LABELS,
    LADDER_LABELS,
    OUTCOME_LABELS,
    PRIORITY_LABELS,
    PURPOSE_LABELS,
    REOPEN_LABELS,
    ROLE_LABELS,
    SMS_VIA_LABELS,
    WITHDRAW_LABELS,
    escalation_reason,
    labelled,
)
from shared.events import Envelope, Event

Sentence = tuple[str, str]
"""(English, Hindi)"""

INTERNAL = frozenset({"CaseWatched", "NextCheckScheduled", "CaseWatchClosed", "CaseWatchReopened"})
"""Escalation's own bookkeeping (it began or stopped watching a case, when it looks next): nothing a
person did or must do, so no line of the timeline; the case's closing and reopening have their own."""


def when(moment: datetime) -> str:
    return moment.astimezone(INDIA).strftime("%d-%m-%Y %H:%M IST")


def describe(envelope: Envelope, event: Event) -> Sentence:
    """The sentence for one event; an event type this code does not know still gets a plain line."""
    if isinstance(event, CaseRegistered):
        return _registered(event)
    return (
        _case_work(event)
        or _case_end(event)
        or _routing(event)
        or _escalation(event)
        or (
            f"Recorded: {envelope.event_type}",
            f"दर्ज: {envelope.event_type}",
        )
    )


def _case_work(event: Event) -> Sentence | None:
    """The officers' steps on an open case."""
    match event:
        case FirstContactMade():
            mode_en, mode_hi = labelled(CONTACT_LABELS, event.mode)
            return (
                f"First contact with the complainant by {event.by} ({mode_en}) at {when(event.at)}",
                f"{event.by} द्वारा शिकायतकर्ता से पहला संपर्क ({mode_hi}), {when(event.at)}",
            )
        case ActionRecorded():
            kind_en, kind_hi = labelled(ACTION_LABELS, event.kind)
            fir_en = f" (FIR no. {event.fir_number})" if event.fir_number else ""
            fir_hi = f" (एफआईआर संख्या {event.fir_number})" if event.fir_number else ""
            return (
                f"Action by {event.by}: {kind_en}{fir_en}, {when(event.at)}",
                f"{event.by} द्वारा कार्रवाई: {kind_hi}{fir_hi}, {when(event.at)}",
            )
        case ReferralMade():
            agency_en, agency_hi = labelled(AGENCY_LABELS, event.agency_kind)
            code = f" {event.agency_code}" if event.agency_code else ""
            return (
                f"Referred by {event.by} to {agency_en}{code}",
                f"{event.by} द्वारा {agency_hi}{code} को संदर्भित",
            )
        case NoteAdded():
            return (
                f"Note added by {event.by} (protected: read through the identity view)",
                f"{event.by} द्वारा टिप्पणी जोड़ी गई (सुरक्षित: पहचान देखने पर ही पढ़ी जा सकती है)",
            )
        case AttachmentRecorded():
            kind_en, kind_hi = labelled(ATTACHMENT_LABELS, event.kind)
            return (
                f"Attachment recorded by {event.by}: {kind_en}, {event.size_bytes} bytes",
                f"{event.by} द्वारा संलग्नक दर्ज: {kind_hi}, {event.size_bytes} बाइट",
            )
        case AwaitingComplainant():
            reason_en, reason_hi = labelled(AWAITING_LABELS, event.reason)
            return (
                f"Waiting for the complainant ({reason_en}), recorded by {event.by}",
                f"शिकायतकर्ता की प्रतीक्षा ({reason_hi}), {event.by} द्वारा दर्ज",
            )
        case ComplainantResponded():
            return (
                f"The complainant responded (recorded by {event.by})",
                f"शिकायतकर्ता ने उत्तर दिया ({event.by} द्वारा दर्ज)",
            )
    return None


def _case_end(event: Event) -> Sentence | None:
    """How a case ends, comes back, and what is done with the complainant's identity."""
    match event:
        case CaseResolved():
            outcome_en, outcome_hi = labelled(OUTCOME_LABELS, event.outcome)
            rating = f"; feedback {event.feedback_rating}/5" if event.feedback_rating else ""
            rating_hi = f"; प्रतिक्रिया {event.feedback_rating}/5" if event.feedback_rating else ""
            return (
                f"Disposed of by {event.by}: {outcome_en}{rating}",
                f"{event.by} द्वारा निस्तारित: {outcome_hi}{rating_hi}",
            )
        case CaseClosed():
            reason_en, reason_hi = labelled(CLOSE_LABELS, event.reason)
            return f"Case closed by {event.by}: {reason_en}", f"{event.by} द्वारा मामला बंद: {reason_hi}"
        case CaseReopened():
            reason_en, reason_hi = labelled(REOPEN_LABELS, event.reason)
            return (
                f"Case reopened by {event.by}: {reason_en}",
                f"{event.by} द्वारा मामला पुनः खोला गया: {reason_hi}",
            )
        case CaseWithdrawn():
            reason_en, reason_hi = labelled(WITHDRAW_LABELS, event.reason)
            return (
                f"Withdrawn at the complainant's request ({reason_en}), recorded by {event.by}",
                f"शिकायतकर्ता के अनुरोध पर वापस ({reason_hi}), {event.by} द्वारा दर्ज",
            )
        case CaseMarkedDuplicate():
            other = event.duplicate_of_number or event.duplicate_of
            return (
                f"Marked by {event.by} as a duplicate of case {other}",
                f"{event.by} द्वारा मामला {other} की दोहरी शिकायत के रूप में चिह्नित",
            )
        case IdentityViewed():
            role_en, role_hi = labelled(ROLE_LABELS, event.role)
            purpose_en, purpose_hi = labelled(PURPOSE_LABELS, event.purpose)
            return (
                f"Identity viewed by {event.by} ({role_en}); purpose: {purpose_en}",
                f"{event.by} ({role_hi}) ने पहचान देखी; उद्देश्य: {purpose_hi}",
            )
        case MessagesConsentWithdrawn():
            return (
                f"She no longer wants SMS about the case (recorded by {event.by}): no more SMS are sent",
                f"वे अब मामले के बारे में एसएमएस नहीं चाहतीं ({event.by} द्वारा दर्ज): आगे कोई एसएमएस नहीं भेजा जाएगा",
            )
        case ComplainantMessageSent():
            via_en, via_hi = labelled(SMS_VIA_LABELS, event.via)
            return (
                f"SMS to the complainant handed to {via_en} (try {event.attempts})",
                f"शिकायतकर्ता को एसएमएस {via_hi} को सौंपा गया (प्रयास {event.attempts})",
            )
        case ComplainantMessageFailed():
            parked = "; not tried again" if event.parked else ""
            parked_hi = "; दोबारा प्रयास नहीं होगा" if event.parked else ""
            return (
                f"SMS to the complainant not sent ({event.reason}, try {event.attempt}){parked}",
                f"शिकायतकर्ता को एसएमएस नहीं गया ({event.reason}, प्रयास {event.attempt}){parked_hi}",
            )
        case IdentityErased():
            basis_en, basis_hi = labelled(ERASURE_LABELS, event.legal_basis)
            return (
                f"Personal data erased by {event.by} ({basis_en}); the identity can no longer be read",
                f"{event.by} द्वारा व्यक्तिगत डेटा मिटाया गया ({basis_hi}); पहचान अब पढ़ी नहीं जा सकती",
            )
    return None


def _registered(event: CaseRegistered) -> Sentence:
    channel_en, channel_hi = labelled(CHANNEL_LABELS, event.channel)
    category_en, category_hi = labelled(CATEGORY_LABELS, event.category)
    priority_en, priority_hi = labelled(PRIORITY_LABELS, event.priority)
    place = event.thana or ", ".join(p for p in (event.locality_code, event.pincode) if p)
    en = (
        f"Complaint registered as {event.case_number} by {event.registered_by} ({channel_en}): "
        f"{category_en}, {event.district} / {place}; priority {event.priority.value} ({priority_en})"
    )
    hi = (
        f"{event.registered_by} द्वारा शिकायत {event.case_number} दर्ज ({channel_hi}): "
        f"{category_hi}, {event.district} / {place}; प्राथमिकता {event.priority.value} ({priority_hi})"
    )
    if event.danger_now:
        en += "; she is in danger now"
        hi += "; पीड़िता अभी खतरे में है"
    if event.consent_to_messages:
        en += "; she agreed to be sent SMS about the case"
        hi += "; उन्होंने मामले के बारे में एसएमएस भेजे जाने की सहमति दी"
    if "pocso" in event.flags:
        en += "; a minor: POCSO applies, Child Welfare Committee to be informed"
        hi += "; नाबालिग: पॉक्सो लागू, बाल कल्याण समिति को सूचना आवश्यक"
    return en, hi


def hindi(event: CaseRouted | CaseAssigned | CaseReassigned) -> str:
    """Routing's reason in Hindi; decisions recorded before routing gave one keep the English."""
    return event.reason_hi or event.reason


def _routing(event: Event) -> Sentence | None:
    match event:
        case CaseRouted():
            return (
                f"Routed to {event.kendra} (thana {event.thana}, circle {event.circle}): {event.reason}",
                f"{event.kendra} को भेजा गया (थाना {event.thana}, सर्किल {event.circle}): {hindi(event)}",
            )
        case CaseAssigned():
            return (
                f"Assigned to officer {event.officer} at {event.kendra}: {event.reason}",
                f"{event.kendra} में अधिकारी {event.officer} को सौंपा गया: {hindi(event)}",
            )
        case CaseReassigned():
            before = event.from_officer or "-"
            return (
                f"Reassigned from {before} to officer {event.officer} at {event.kendra}: {event.reason}",
                f"{before} से अधिकारी {event.officer} ({event.kendra}) को पुनः सौंपा गया: {hindi(event)}",
            )
        case CaseUnroutable():
            return (
                f"Could not be routed automatically: {event.why}",
                f"स्वतः सही केन्द्र को नहीं भेजा जा सका: {event.why}",
            )
        case ReferralIssued():
            agency_en, agency_hi = labelled(AGENCY_LABELS, event.agency_kind)
            return (
                f"Referral {event.referral_id} sent to {agency_en} {event.agency_code}, "
                f"due {when(event.due_at)}",
                f"संदर्भ {event.referral_id} {agency_hi} {event.agency_code} को भेजा गया, "
                f"नियत समय {when(event.due_at)}",
            )
        case ReferralAccepted():
            return (
                f"Referral {event.referral_id} accepted by {event.by}",
                f"संदर्भ {event.referral_id} {event.by} द्वारा स्वीकार",
            )
        case ReferralRejected():
            return (
                f"Referral {event.referral_id} declined by {event.by}: {event.reason}",
                f"संदर्भ {event.referral_id} {event.by} द्वारा अस्वीकार: {event.reason}",
            )
        case ReferralCompleted():
            return (
                f"Referral {event.referral_id} completed by {event.by}",
                f"संदर्भ {event.referral_id} {event.by} द्वारा पूर्ण",
            )
    return None


def _escalation(event: Event) -> Sentence | None:
    match event:
        case ClockStarted():
            clock_en, clock_hi = labelled(CLOCK_LABELS, event.clock)
            return (
                f"Deadline for {clock_en}: {when(event.due_at)}",
                f"{clock_hi} की समय सीमा: {when(event.due_at)}",
            )
        case ClockPaused():
            clock_en, clock_hi = labelled(CLOCK_LABELS, event.clock)
            return (
                f"Deadline for {clock_en} paused while waiting for the complainant",
                f"शिकायतकर्ता की प्रतीक्षा में {clock_hi} की समय सीमा रोकी गई",
            )
        case ClockResumed():
            clock_en, clock_hi = labelled(CLOCK_LABELS, event.clock)
            return (
                f"Deadline for {clock_en} running again, now due {when(event.due_at)}",
                f"{clock_hi} की समय सीमा पुनः चालू, अब {when(event.due_at)} तक",
            )
        case ClockStopped():
            clock_en, clock_hi = labelled(CLOCK_LABELS, event.clock)
            return (
                f"Step {clock_en} done {'in time' if event.met else 'late'}",
                f"{clock_hi} {'समय पर' if event.met else 'विलंब से'} पूर्ण",
            )
        case DeadlineApproaching():
            clock_en, clock_hi = labelled(CLOCK_LABELS, event.clock)
            return (
                f"{event.threshold_pct}% of the time for {clock_en} used; due {when(event.due_at)}",
                f"{clock_hi} का {event.threshold_pct}% समय बीत चुका; नियत समय {when(event.due_at)}",
            )
        case SlaBreached():
            clock_en, clock_hi = labelled(CLOCK_LABELS, event.clock)
            return (
                f"Deadline missed: {clock_en} was due {when(event.due_at)}",
                f"समय सीमा चूकी: {clock_hi} {when(event.due_at)} तक होना था",
            )
        case CaseEscalated():
            role_en, role_hi = labelled(LADDER_LABELS, event.role)
            why_en, why_hi = escalation_reason(event.reason, "en"), escalation_reason(event.reason, "hi")
            return (
                f"Escalated to level {event.level}: {role_en} ({event.office_code}): {why_en}",
                f"स्तर {event.level} पर प्रेषित: {role_hi} ({event.office_code}): {why_hi}",
            )
        case EscalationAcknowledged():
            return (
                f"Escalation level {event.level} acknowledged by {event.by}",
                f"स्तर {event.level} की सूचना {event.by} द्वारा प्राप्त",
            )
    return None
