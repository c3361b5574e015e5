"""The codes intake's events carry in clear, each with a Hindi and an English label.

An officer picks a code from a list; her own words about a case go only into sealed fields. This keeps
every clear field of an event safe to show a supervisor or another service: a reason typed freely
could carry a name or a phone number.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

Labels = Mapping[Any, tuple[str, str]]
"""code -> (Hindi, English), the shape ``shared.vocabulary.label`` reads."""


def labelled(labels: Labels, code: str) -> tuple[str, str]:
    """(English, Hindi) of a code; the code itself where it has no label."""
    pair = labels.get(code)
    return (pair[1], pair[0]) if pair else (code, code)


class CaseStatus(StrEnum):
    REGISTERED = "registered"
    IN_PROGRESS = "in_progress"
    AWAITING_COMPLAINANT = "awaiting_complainant"
    RESOLVED = "resolved"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    DUPLICATE = "duplicate"


ACTIVE = frozenset({CaseStatus.REGISTERED, CaseStatus.IN_PROGRESS, CaseStatus.AWAITING_COMPLAINANT})
FINISHED = frozenset({CaseStatus.CLOSED, CaseStatus.WITHDRAWN, CaseStatus.DUPLICATE})

STATUS_LABELS: Labels = {
    CaseStatus.REGISTERED: ("दर्ज", "Registered"),
    CaseStatus.IN_PROGRESS: ("कार्यवाही जारी", "In progress"),
    CaseStatus.AWAITING_COMPLAINANT: ("शिकायतकर्ता की प्रतीक्षा", "Awaiting the complainant"),
    CaseStatus.RESOLVED: ("निस्तारित", "Disposed"),
    CaseStatus.CLOSED: ("बंद", "Closed"),
    CaseStatus.WITHDRAWN: ("वापस ली गई", "Withdrawn"),
    CaseStatus.DUPLICATE: ("दोहरी शिकायत", "Duplicate"),
}


class Language(StrEnum):
    HINDI = "hi"
    ENGLISH = "en"
    URDU = "ur"


class ContactMode(StrEnum):
    VISIT = "visit"
    PHONE = "phone"
    AT_KENDRA = "at_kendra"


CONTACT_LABELS: Labels = {
    ContactMode.VISIT: ("घर/घटनास्थल पर भेंट", "Visit"),
    ContactMode.PHONE: ("फ़ोन पर", "By phone"),
    ContactMode.AT_KENDRA: ("केन्द्र पर", "At the Kendra"),
}


class ActionKind(StrEnum):
    COUNSELLING = "counselling"
    FIR_REGISTERED = "fir_registered"
    MEDICAL_EXAM = "medical_exam"
    RESCUE = "rescue"
    NOTICE = "notice"


ACTION_LABELS: Labels = {
    ActionKind.COUNSELLING: ("परामर्श सत्र", "Counselling session"),
    ActionKind.FIR_REGISTERED: ("एफआईआर दर्ज", "FIR registered"),
    ActionKind.MEDICAL_EXAM: ("चिकित्सीय परीक्षण", "Medical examination"),
    ActionKind.RESCUE: ("दबिश / मुक्ति", "Raid / rescue"),
    ActionKind.NOTICE: ("विपक्षी को नोटिस", "Notice to the other party"),
}


class AttachmentKind(StrEnum):
    PHOTO = "photo"
    MEDICAL_REPORT = "medical_report"
    FIR_COPY = "fir_copy"
    OTHER = "other"


ATTACHMENT_LABELS: Labels = {
    AttachmentKind.PHOTO: ("फ़ोटो", "Photo"),
    AttachmentKind.MEDICAL_REPORT: ("चिकित्सा रिपोर्ट", "Medical report"),
    AttachmentKind.FIR_COPY: ("एफआईआर की प्रति", "Copy of the FIR"),
    AttachmentKind.OTHER: ("अन्य दस्तावेज़", "Other document"),
}


class AwaitingReason(StrEnum):
    NOT_REACHABLE = "not_reachable"
    DOCUMENTS_AWAITED = "documents_awaited"
    TIME_REQUESTED = "time_requested"
    OTHER = "other"


AWAITING_LABELS: Labels = {
    AwaitingReason.NOT_REACHABLE: ("शिकायतकर्ता से संपर्क नहीं हो पा रहा", "The complainant cannot be reached"),
    AwaitingReason.DOCUMENTS_AWAITED: ("दस्तावेज़ों की प्रतीक्षा", "Documents awaited from her"),
    AwaitingReason.TIME_REQUESTED: ("शिकायतकर्ता ने समय माँगा", "She asked for time"),
    AwaitingReason.OTHER: ("अन्य", "Other"),
}


class Outcome(StrEnum):
    COUNSELLED_RECONCILED = "counselled_reconciled"
    LEGAL_ACTION_ON_FIR = "legal_action_on_fir"
    CHARGESHEET_FILED = "chargesheet_filed"
    HELP_THROUGH_REFERRAL = "help_through_referral"
    LEGAL_AID_GIVEN = "legal_aid_given"
    RESCUED_REHABILITATED = "rescued_rehabilitated"
    NOT_SUBSTANTIATED = "not_substantiated"
    OTHER = "other"


OUTCOME_LABELS: Labels = {
    Outcome.COUNSELLED_RECONCILED: ("परामर्श से सुलह", "Reconciled after counselling"),
    Outcome.LEGAL_ACTION_ON_FIR: ("एफआईआर पर विधिक कार्रवाई", "Legal action on the FIR"),
    Outcome.CHARGESHEET_FILED: ("आरोप पत्र दाखिल", "Charge sheet filed"),
    Outcome.HELP_THROUGH_REFERRAL: ("संदर्भित सेवा से सहायता मिली", "Help given through a referral"),
    Outcome.LEGAL_AID_GIVEN: ("विधिक सहायता दी गई", "Legal aid given"),
    Outcome.RESCUED_REHABILITATED: ("मुक्त कराकर पुनर्वास", "Rescued and rehabilitated"),
    Outcome.NOT_SUBSTANTIATED: ("आरोप प्रमाणित नहीं हुए", "Allegation not substantiated"),
    Outcome.OTHER: ("अन्य", "Other"),
}


class CloseReason(StrEnum):
    DISPOSED = "disposed"
    NO_FURTHER_ACTION = "no_further_action"
    TRANSFERRED = "transferred"
    COMPLAINANT_UNREACHABLE = "complainant_unreachable"
    OTHER = "other"


CLOSE_LABELS: Labels = {
    CloseReason.DISPOSED: ("निस्तारण पूर्ण", "Disposal complete"),
    CloseReason.NO_FURTHER_ACTION: ("आगे कार्रवाई आवश्यक नहीं", "No further action needed"),
    CloseReason.TRANSFERRED: ("अन्य थाना/एजेंसी को हस्तांतरित", "Transferred to another thana or agency"),
    CloseReason.COMPLAINANT_UNREACHABLE: (
        "शिकायतकर्ता से संपर्क संभव नहीं",
        "The complainant could not be reached",
    ),
    CloseReason.OTHER: ("अन्य", "Other"),
}


class ReopenReason(StrEnum):
    COMPLAINANT_RETURNED = "complainant_returned"
    NEW_INCIDENT = "new_incident"
    DISPOSAL_REVIEW = "disposal_review"
    COURT_DIRECTION = "court_direction"
    OTHER = "other"


REOPEN_LABELS: Labels = {
    ReopenReason.COMPLAINANT_RETURNED: ("शिकायतकर्ता पुनः आईं", "The complainant came back"),
    ReopenReason.NEW_INCIDENT: ("नई घटना", "A new incident"),
    ReopenReason.DISPOSAL_REVIEW: ("निस्तारण की समीक्षा", "Review of the disposal"),
    ReopenReason.COURT_DIRECTION: ("न्यायालय का निर्देश", "Direction of a court"),
    ReopenReason.OTHER: ("अन्य", "Other"),
}


class WithdrawReason(StrEnum):
    SETTLED_BETWEEN_PARTIES = "settled_between_parties"
    DOES_NOT_WISH_TO_PROCEED = "does_not_wish_to_proceed"
    MOVED_AWAY = "moved_away"
    OTHER = "other"


WITHDRAW_LABELS: Labels = {
    WithdrawReason.SETTLED_BETWEEN_PARTIES: ("पक्षों में समझौता", "Settled between the parties"),
    WithdrawReason.DOES_NOT_WISH_TO_PROCEED: ("आगे कार्रवाई नहीं चाहतीं", "She does not wish to proceed"),
    WithdrawReason.MOVED_AWAY: ("क्षेत्र छोड़ दिया", "She moved away"),
    WithdrawReason.OTHER: ("अन्य", "Other"),
}


class ViewPurpose(StrEnum):
    CONTACT_COMPLAINANT = "contact_complainant"
    RECORD_STATEMENT = "record_statement"
    COURT_PROCEEDINGS = "court_proceedings"
    REFERRAL_COORDINATION = "referral_coordination"
    SUPERVISORY_REVIEW = "supervisory_review"
    COMPLAINANT_REQUEST = "complainant_request"


PURPOSE_LABELS: Labels = {
    ViewPurpose.CONTACT_COMPLAINANT: ("शिकायतकर्ता से संपर्क", "To contact the complainant"),
    ViewPurpose.RECORD_STATEMENT: ("बयान दर्ज करना", "To record a statement"),
    ViewPurpose.COURT_PROCEEDINGS: ("न्यायालय की कार्यवाही", "For court proceedings"),
    ViewPurpose.REFERRAL_COORDINATION: ("संदर्भित सेवा से समन्वय", "To coordinate a referral"),
    ViewPurpose.SUPERVISORY_REVIEW: ("पर्यवेक्षण समीक्षा", "Supervisory review"),
    ViewPurpose.COMPLAINANT_REQUEST: ("शिकायतकर्ता के अनुरोध पर", "At the complainant's request"),
}


class ErasureBasis(StrEnum):
    DPDP_REQUEST = "dpdp_request"
    COURT_ORDER = "court_order"
    RETENTION_OVER = "retention_over"


ERASURE_LABELS: Labels = {
    ErasureBasis.DPDP_REQUEST: (
        "डीपीडीपी अधिनियम 2023 के अंतर्गत शिकायतकर्ता का अनुरोध",
        "The complainant's request under the DPDP Act 2023",
    ),
    ErasureBasis.COURT_ORDER: ("न्यायालय का आदेश", "Order of a court"),
    ErasureBasis.RETENTION_OVER: ("रखरखाव अवधि समाप्त", "Retention period over"),
}

IDENTITY_ERASED: tuple[str, str] = ("मिटाया गया", "erased")
IDENTITY_PROTECTED: tuple[str, str] = ("सुरक्षित", "protected")
