"""The words of a notification, in Hindi and English, composed from its event when it is sent or shown.

A message says only the case number, the places (by name), times in IST (labelled) and a link to the
case: never anything about the complainant, whose identity this service never holds. A message about an
officer's training names the officer's service number, the modules and the due date. These texts are
the ones to register as SMS templates (TRAI DLT): the variable parts are the case number, places,
times and the link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.complainant_sms import complainant_sms, ist, thana_words
from shared.contracts.notifications import COMPLAINANT, RULE_LABELS, NotificationRequested, NotificationRule
from shared.contracts.vocabulary import CLOCK_LABELS, LADDER_LABELS, label, labelled

Names = Mapping[str, tuple[str, str]]
"""Place code -> (Hindi, English) name."""


@dataclass(frozen=True)
class Message:
    subject_en: str
    subject_hi: str
    text_en: str
    text_hi: str
    link: str

    def text(self, language: str) -> str:
        return self.text_hi if language == "hi" else self.text_en

    def subject(self, language: str) -> str:
        return self.subject_hi if language == "hi" else self.subject_en

    def both(self, first: str = "hi") -> str:
        """Both languages, the reader's own first."""
        other = "en" if first == "hi" else "hi"
        return f"{self.text(first)}\n\n{self.text(other)}"

    def both_subjects(self, first: str = "hi") -> str:
        other = "en" if first == "hi" else "hi"
        return f"{self.subject(first)} / {self.subject(other)}"


def compose(wanted: NotificationRequested, names: Names, base_url: str = "") -> Message:
    def name(code: str | None, language: str) -> str:
        if not code:
            return ""
        pair = names.get(code)
        return (pair[0] if language == "hi" else pair[1]) if pair else code

    rule_en, rule_hi = labelled(RULE_LABELS, wanted.rule)
    if wanted.recipient.startswith(COMPLAINANT):
        # Hers are written in shared/ (intake sends them); no link: the case page is the police's.
        text_en, text_hi = complainant_sms(wanted, names)
        number = wanted.case_number or ""
        return Message(f"{rule_en}: {number}", f"{rule_hi}: {number}", text_en, text_hi, "")
    if wanted.case_number is None:
        return _about_training(wanted, rule_en, rule_hi, base_url)
    # An agency's desk answers her referrals on her own page; the case page is the police's.
    page = "/agency" if wanted.recipient.startswith("agency:") else f"/cases/{wanted.case_id}"
    link = f"{base_url.rstrip('/')}{page}"
    where_en = ", ".join(p for p in (name(wanted.kendra, "en"), _thana(name(wanted.thana, "en"), "en")) if p)
    where_hi = ", ".join(p for p in (name(wanted.kendra, "hi"), _thana(name(wanted.thana, "hi"), "hi")) if p)
    detail_en, detail_hi = _detail(wanted)
    urgent_en, urgent_hi = ("URGENT: ", "अति आवश्यक: ") if wanted.urgent else ("", "")
    text_en = (
        f"{urgent_en}{rule_en}. Case {wanted.case_number}"
        + (f", {where_en}" if where_en else "")
        + f". {detail_en} Time: {ist(wanted.at)}. Open: {link}"
    )
    text_hi = (
        f"{urgent_hi}{rule_hi}। मामला {wanted.case_number}"
        + (f", {where_hi}" if where_hi else "")
        + f"। {detail_hi} समय: {ist(wanted.at)}। देखें: {link}"
    )
    return Message(
        subject_en=f"{urgent_en}{rule_en}: {wanted.case_number}",
        subject_hi=f"{urgent_hi}{rule_hi}: {wanted.case_number}",
        text_en=text_en,
        text_hi=text_hi,
        link=link,
    )


def _about_training(wanted: NotificationRequested, rule_en: str, rule_hi: str, base_url: str) -> Message:
    """An officer's training: whose (service number), which modules, by when; a link to the record."""
    link = f"{base_url.rstrip('/')}/training/officers/{wanted.service_number}"
    modules = ", ".join(wanted.modules)
    due = ist(wanted.due_at) if wanted.due_at else ""
    match wanted.rule:
        case NotificationRule.TRAINING_DUE:
            detail_en = f"Modules {modules} are to be completed by {due}."
            detail_hi = f"मॉड्यूल {modules} {due} तक पूरे करने हैं।"
        case NotificationRule.TRAINING_OVERDUE:
            detail_en = f"Modules {modules} were due by {due} and are not completed."
            detail_hi = f"मॉड्यूल {modules} {due} तक पूरे होने थे और अभी पूरे नहीं हैं।"
        case _:
            detail_en = "The certificate is no longer valid: the training is to be done again."
            detail_hi = "प्रमाणपत्र अब मान्य नहीं है: प्रशिक्षण फिर से करना है।"
    who = wanted.service_number or ""
    return Message(
        subject_en=f"{rule_en}: {who}",
        subject_hi=f"{rule_hi}: {who}",
        text_en=f"{rule_en}. Officer {who}. {detail_en} Time: {ist(wanted.at)}. Open: {link}",
        text_hi=f"{rule_hi}। अधिकारी {who}। {detail_hi} समय: {ist(wanted.at)}। देखें: {link}",
        link=link,
    )


def _thana(name: str, language: str) -> str:
    if not name:
        return ""
    return thana_words(name, hindi=language == "hi")


def _detail(wanted: NotificationRequested) -> tuple[str, str]:
    clock_en, clock_hi = labelled(CLOCK_LABELS, wanted.clock or "")
    due = ist(wanted.due_at) if wanted.due_at else ""
    role_en = label(LADDER_LABELS, wanted.role.value, "en") if wanted.role else ""
    role_hi = label(LADDER_LABELS, wanted.role.value, "hi") if wanted.role else ""
    match wanted.rule:
        case NotificationRule.ASSIGNED:
            return "The case is assigned to you.", "मामला आपको सौंपा गया है।"
        case NotificationRule.DANGER_NOW:
            again_en = f" Reminder {wanted.round}." if wanted.round > 1 else ""
            again_hi = f" अनुस्मारक {wanted.round}।" if wanted.round > 1 else ""
            return (
                f"The complainant is in danger now: act at once and acknowledge ({role_en}).{again_en}",
                f"शिकायतकर्ता अभी खतरे में है: तुरंत कार्यवाही करें और पुष्टि करें ({role_hi})।{again_hi}",
            )
        case NotificationRule.DEADLINE_WARNING:
            return (
                f"{wanted.threshold_pct}% of the time for '{clock_en}' is used; due {due}.",
                f"'{clock_hi}' का {wanted.threshold_pct}% समय बीत चुका है; अंतिम समय {due}।",
            )
        case NotificationRule.BREACH:
            return (
                f"The deadline for '{clock_en}' passed at {due}.",
                f"'{clock_hi}' की समय-सीमा {due} पर पार हो गई।",
            )
        case NotificationRule.ESCALATION:
            return (
                f"The case is escalated to you as {role_en}.",
                f"मामला {role_hi} के रूप में आपके स्तर पर बढ़ाया गया है।",
            )
        case NotificationRule.REFERRAL:
            return (
                f"A case is referred to your desk; please respond by {due}.",
                f"एक मामला आपके डेस्क को भेजा गया है; कृपया {due} तक उत्तर दें।",
            )
    return "", ""
