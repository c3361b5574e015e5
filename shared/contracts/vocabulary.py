"""The words every service shares: categories, channels, priorities, agency kinds, with Hindi and English
labels. These are codes in events; what is shown to an officer comes from the labels."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    DOMESTIC_VIOLENCE = "domestic_violence"
    DOWRY_HARASSMENT = "dowry_harassment"
    SEXUAL_HARASSMENT = "sexual_harassment"
    STALKING = "stalking"
    CYBER_HARASSMENT = "cyber_harassment"
    SEXUAL_ASSAULT = "sexual_assault"
    OFFENCE_AGAINST_MINOR = "offence_against_minor"
    MISSING_OR_KIDNAPPING = "missing_or_kidnapping"
    ACID_ATTACK = "acid_attack"
    FAMILY_DISPUTE = "family_dispute"
    MAINTENANCE_PROPERTY = "maintenance_property"
    OTHER = "other"


CATEGORY_LABELS: dict[Category, tuple[str, str]] = {
    Category.DOMESTIC_VIOLENCE: ("घरेलू हिंसा", "Domestic violence"),
    Category.DOWRY_HARASSMENT: ("दहेज उत्पीड़न", "Dowry harassment"),
    Category.SEXUAL_HARASSMENT: ("यौन उत्पीड़न / छेड़छाड़", "Sexual harassment / eve-teasing"),
    Category.STALKING: ("पीछा करना", "Stalking"),
    Category.CYBER_HARASSMENT: ("साइबर उत्पीड़न", "Cyber harassment"),
    Category.SEXUAL_ASSAULT: ("यौन हमला", "Sexual assault"),
    Category.OFFENCE_AGAINST_MINOR: ("नाबालिग के विरुद्ध अपराध (पॉक्सो)", "Offence against a minor (POCSO)"),
    Category.MISSING_OR_KIDNAPPING: ("गुमशुदा बालिका / अपहरण", "Missing girl / kidnapping"),
    Category.ACID_ATTACK: ("तेजाब हमला", "Acid attack"),
    Category.FAMILY_DISPUTE: (
        "पारिवारिक / वैवाहिक विवाद (परामर्श)",
        "Family or matrimonial dispute (counselling)",
    ),
    Category.MAINTENANCE_PROPERTY: ("भरण-पोषण / संपत्ति", "Maintenance / property"),
    Category.OTHER: ("अन्य", "Other"),
}

SEXUAL_OFFENCES = frozenset(
    {
        Category.SEXUAL_HARASSMENT,
        Category.SEXUAL_ASSAULT,
        Category.OFFENCE_AGAINST_MINOR,
        Category.STALKING,
    }
)
"""Categories whose victims' identity the law protects most strictly; a woman officer handles them."""


class Record(StrEnum):
    """What a refusal names as not found (``shared.errors.NotFound``)."""

    ATTACHMENT = "attachment"
    CASE = "case"
    CERTIFICATE = "certificate"
    CIRCLE = "circle"
    DISTRICT = "district"
    KENDRA = "kendra"
    NOTIFICATION = "notification"
    OFFICER = "officer"
    PROGRAMME = "programme"
    SERVICE = "service"
    THANA = "thana"
    USER = "user"


RECORD_LABELS: dict[Record, tuple[str, str]] = {
    Record.ATTACHMENT: ("फ़ाइल", "File"),
    Record.CASE: ("मामला", "Case"),
    Record.CERTIFICATE: ("प्रमाणपत्र", "Certificate"),
    Record.CIRCLE: ("सर्किल", "Circle"),
    Record.DISTRICT: ("जनपद", "District"),
    Record.KENDRA: ("केन्द्र", "Kendra"),
    Record.NOTIFICATION: ("सूचना", "Notification"),
    Record.OFFICER: ("अधिकारी", "Officer"),
    Record.PROGRAMME: ("प्रशिक्षण कार्यक्रम", "Training programme"),
    Record.SERVICE: ("सेवा", "Service"),
    Record.THANA: ("थाना", "Thana"),
    Record.USER: ("उपयोगकर्ता", "User"),
}
FEMININE_RECORDS = frozenset({Record.ATTACHMENT, Record.NOTIFICATION, Record.SERVICE})
"""Records whose Hindi word is feminine: 'नहीं मिली', not 'नहीं मिला'."""


class Channel(StrEnum):
    WALK_IN = "walk_in"
    HELPLINE_1090 = "helpline_1090"
    HELPLINE_181 = "helpline_181"
    EMERGENCY_112 = "emergency_112"
    ONLINE = "online"
    ONE_STOP_CENTRE = "one_stop_centre"
    SUO_MOTU = "suo_motu"


CHANNEL_LABELS: dict[Channel, tuple[str, str]] = {
    Channel.WALK_IN: ("केन्द्र पर स्वयं", "Walk-in at the Kendra"),
    Channel.HELPLINE_1090: ("1090 वीमेन पावर लाइन", "1090 Women Power Line"),
    Channel.HELPLINE_181: ("181 महिला हेल्पलाइन", "181 Women helpline"),
    Channel.EMERGENCY_112: ("112 आपात", "112 Emergency"),
    Channel.ONLINE: ("ऑनलाइन", "Online"),
    Channel.ONE_STOP_CENTRE: ("वन स्टॉप सेंटर से संदर्भित", "Referred by a One Stop Centre"),
    Channel.SUO_MOTU: ("स्वतः संज्ञान", "Suo motu by police"),
}


class Priority(StrEnum):
    """P1 is the most urgent."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


PRIORITY_LABELS: dict[Priority, tuple[str, str]] = {
    Priority.P1: ("अति आवश्यक", "Critical"),
    Priority.P2: ("उच्च", "High"),
    Priority.P3: ("सामान्य", "Normal"),
    Priority.P4: ("निम्न", "Low"),
}


class AgencyKind(StrEnum):
    ONE_STOP_CENTRE = "one_stop_centre"
    LEGAL_SERVICES = "legal_services"
    CHILD_WELFARE_COMMITTEE = "child_welfare_committee"
    HOSPITAL = "hospital"
    SHELTER_HOME = "shelter_home"


AGENCY_LABELS: dict[AgencyKind, tuple[str, str]] = {
    AgencyKind.ONE_STOP_CENTRE: ("वन स्टॉप सेंटर (सखी)", "One Stop Centre (Sakhi)"),
    AgencyKind.LEGAL_SERVICES: ("जिला विधिक सेवा प्राधिकरण", "District Legal Services Authority"),
    AgencyKind.CHILD_WELFARE_COMMITTEE: ("बाल कल्याण समिति", "Child Welfare Committee"),
    AgencyKind.HOSPITAL: ("अस्पताल", "Hospital"),
    AgencyKind.SHELTER_HOME: ("आश्रय गृह", "Shelter home"),
}


class DutyStatus(StrEnum):
    ON_DUTY = "on_duty"
    OFF_DUTY = "off_duty"
    ON_LEAVE = "on_leave"


DUTY_LABELS: dict[DutyStatus, tuple[str, str]] = {
    DutyStatus.ON_DUTY: ("ड्यूटी पर", "On duty"),
    DutyStatus.OFF_DUTY: ("ड्यूटी से बाहर", "Off duty"),
    DutyStatus.ON_LEAVE: ("अवकाश पर", "On leave"),
}


RANK_LABELS: dict[str, tuple[str, str]] = {
    "inspector": ("निरीक्षक", "Inspector"),
    "sub_inspector": ("उपनिरीक्षक", "Sub-Inspector"),
    "head_constable": ("मुख्य आरक्षी", "Head Constable"),
    "constable": ("आरक्षी", "Constable"),
}
"""The ranks of ``OfficerEnrolled.rank``: a code in events, words wherever a person reads it."""


class LadderRole(StrEnum):
    """The escalation ladder, bottom to top."""

    KENDRA_INCHARGE = "kendra_incharge"
    SHO = "sho"
    CO = "co"
    ADDL_SP = "addl_sp"
    SP = "sp"
    STATE_CELL = "state_cell"


LADDER_LABELS: dict[LadderRole, tuple[str, str]] = {
    LadderRole.KENDRA_INCHARGE: ("केन्द्र प्रभारी", "Kendra in-charge"),
    LadderRole.SHO: ("थाना प्रभारी", "SHO"),
    LadderRole.CO: ("क्षेत्राधिकारी", "Circle Officer"),
    LadderRole.ADDL_SP: ("अपर पुलिस अधीक्षक", "Additional SP"),
    LadderRole.SP: ("पुलिस अधीक्षक", "Superintendent of Police"),
    LadderRole.STATE_CELL: ("राज्य मिशन शक्ति प्रकोष्ठ", "State Mission Shakti cell"),
}

ROLE_LABELS: dict[str, tuple[str, str]] = {
    "kendra_officer": ("केन्द्र अधिकारी", "Kendra officer"),
    **{role.value: words for role, words in LADDER_LABELS.items()},
    "operator": ("संचालक", "Operator"),
    "agency_desk": ("संस्था डेस्क", "Agency desk"),
}
"""A user's role (``shared.auth.Role``, by its code: the contracts do not depend on the web's sign-in),
in the words of the ladder where the role is a rung of it: the same name on every page and in every
timeline."""


CLOCK_LABELS: dict[str, tuple[str, str]] = {
    "acknowledge": ("प्राप्ति की पुष्टि", "Acknowledgement"),
    "first_contact": ("प्रथम संपर्क", "First contact"),
    "referral_acknowledged": ("संदर्भन की स्वीकृति", "Referral acknowledged"),
    "action_taken": ("कार्यवाही", "Action taken"),
    "disposal": ("निस्तारण", "Disposal"),
}
"""The SOP clocks of the default policy (escalation's ``policy.yaml`` names them the same way): one
name per clock in each language, on every page and in every timeline."""

ESCALATION_REASON_LABELS: dict[str, tuple[str, str]] = {
    "danger_now": ("अभी खतरे में: दर्ज होते ही सूचित", "in danger now: alerted at registration"),
    "breach": ("समय सीमा चूकी", "deadline missed"),
    "unanswered": ("पिछले स्तर से समय पर उत्तर नहीं", "no answer in time at the level below"),
}


def escalation_reason(reason: str, language: str = "en") -> str:
    """Escalation's reason code (``danger_now:<clock>``, ``breach:<clock>``, ``unanswered:<clock>``)
    in words: the kind, and the clock it is about unless the kind says it all."""
    kind, _, clock = reason.partition(":")
    words = label(ESCALATION_REASON_LABELS, kind, language)
    if kind == "danger_now" or not clock:
        return words
    return f"{words} ({label(CLOCK_LABELS, clock, language)})"


TRAINING_REASON_LABELS: dict[str, tuple[str, str]] = {
    "expired": ("प्रमाणपत्र की वैधता समाप्त", "The certificate expired"),
    "retraining_overdue": ("पुनः प्रशिक्षण समय पर पूरा नहीं हुआ", "Retraining was not completed in time"),
    "new_version": ("मॉड्यूल का नया संस्करण", "A new version of the module"),
    "posting": ("केन्द्र पर नई तैनाती", "Newly posted to a Kendra"),
    "renewal": ("प्रमाणपत्र का नवीनीकरण", "Renewal of the certificate"),
    "retraining": ("पुनः प्रशिक्षण", "Retraining"),
}
"""Why training's certificate lapsed (``CertificationLapsed.why``) and why an officer must train
(``TrainingAssigned.reason``, an outstanding module's reason)."""

CERTIFICATE_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "valid": ("वैध", "Valid"),
    "expired": ("वैधता समाप्त", "Expired"),
    "lapsed": ("व्यपगत", "Lapsed"),
    "superseded": ("नए प्रमाणपत्र से प्रतिस्थापित", "Replaced by a newer certificate"),
}
"""A training certificate's standing, on the certificate, its verification page and the web front."""

MODULE_KIND_LABELS: dict[str, tuple[str, str]] = {
    "sop": ("मानक संचालन प्रक्रिया (SOP)", "Standard Operating Procedure (SOP)"),
    "igot_video": ("iGOT वीडियो", "iGOT videos"),
    "assessment": ("मूल्यांकन", "Assessment"),
    "specialist": ("विशेष मॉड्यूल (अनुमोदन हेतु)", "Specialist modules (for endorsements)"),
}
"""The kinds of curriculum module (training's ``curriculum.yaml``)."""


REFERRAL_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "issued": ("भेजा गया", "Issued"),
    "accepted": ("संस्था ने स्वीकार किया", "Accepted by the agency"),
    "rejected": ("संस्था ने अस्वीकार किया", "Rejected by the agency"),
    "completed": ("पूर्ण", "Completed"),
}

CLOCK_STATE_LABELS: dict[str, tuple[str, str]] = {
    "running": ("चालू", "Running"),
    "paused": ("रुकी हुई", "Paused"),
    "breached": ("समय सीमा चूकी", "Missed"),
    "met": ("समय पर पूर्ण", "Done in time"),
    "late": ("विलंब से पूर्ण", "Done late"),
    "stopped": ("बंद", "Stopped"),
}
"""The state of one SOP clock (escalation's ``running``, ``paused``, ``breached``, ``stopped``); a
stopped clock is told as done in time (``met``) or late."""


def label(labels: Mapping[Any, tuple[str, str]], code: str, language: str = "en") -> str:
    """The Hindi (``hi``) or English label of a code; the code itself when it has none."""
    pair = labels.get(code)
    if pair is None:
        return code
    return pair[0] if language == "hi" else pair[1]


# ---------------------------------------------------------------- intake's codes
# An officer picks a code from a list; her own words about a case go only into sealed fields. This keeps
# every clear field of an event safe to show a supervisor or another service: a reason typed freely
# could carry a name or a phone number.

Labels = Mapping[Any, tuple[str, str]]
"""code -> (Hindi, English), the shape ``shared.contracts.vocabulary.label`` reads."""


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
    EARLIER_CASES = "earlier_cases"
    """Recorded on each case a search by the complainant's phone shows (not offered for a viewing)."""


PURPOSE_LABELS: Labels = {
    ViewPurpose.CONTACT_COMPLAINANT: ("शिकायतकर्ता से संपर्क", "To contact the complainant"),
    ViewPurpose.RECORD_STATEMENT: ("बयान दर्ज करना", "To record a statement"),
    ViewPurpose.COURT_PROCEEDINGS: ("न्यायालय की कार्यवाही", "For court proceedings"),
    ViewPurpose.REFERRAL_COORDINATION: ("संदर्भित सेवा से समन्वय", "To coordinate a referral"),
    ViewPurpose.SUPERVISORY_REVIEW: ("पर्यवेक्षण समीक्षा", "Supervisory review"),
    ViewPurpose.COMPLAINANT_REQUEST: ("शिकायतकर्ता के अनुरोध पर", "At the complainant's request"),
    ViewPurpose.EARLIER_CASES: (
        "फ़ोन नंबर से शिकायतकर्ता के पिछले मामलों की खोज",
        "A search for the complainant's earlier cases by her phone",
    ),
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

SMS_VIA_LABELS: Labels = {
    "sms_gateway": ("एसएमएस गेटवे", "the SMS gateway"),
    "outbox": ("आउटबॉक्स (कोई गेटवे नहीं: कहीं भेजा नहीं गया)", "the outbox (no gateway: sent nowhere)"),
}
"""Where intake handed a complainant's SMS (``ComplainantMessageSent.via``)."""
