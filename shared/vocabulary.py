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


def label(labels: Mapping[Any, tuple[str, str]], code: str, language: str = "en") -> str:
    """The Hindi (``hi``) or English label of a code; the code itself when it has none."""
    pair = labels.get(code)
    if pair is None:
        return code
    return pair[0] if language == "hi" else pair[1]
