"""Every word the web front shows, in Hindi and English. Codes from events get their labels from
``shared.contracts.vocabulary``; these are the page's own words."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from shared.auth import Role

LANG_COOKIE = "shakti_lang"
LANGUAGES = ("hi", "en")

TEXT: dict[str, tuple[str, str]] = {
    "app": ("मिशन शक्ति केन्द्र", "Mission Shakti Kendra"),
    "signin": ("साइन इन", "Sign in"),
    "signout": ("साइन आउट", "Sign out"),
    "username": ("उपयोगकर्ता नाम", "User name"),
    "password": ("पासवर्ड", "Password"),
    "demo_banner": (
        "डेमो डेटा: सभी नाम और मामले काल्पनिक हैं",
        "DEMO DATA: every name and case here is made up",
    ),
    "switch_lang": ("English", "हिन्दी"),
    "home": ("मुख्य पृष्ठ", "Home"),
    "register": ("शिकायत दर्ज करें", "Register a complaint"),
    "queue": ("मेरी सूची", "My queue"),
    "dashboard": ("डैशबोर्ड", "Dashboard"),
    "state_view": ("सभी जनपद", "All districts"),
    "operator_view": ("संचालन", "Operations"),
    "name": ("नाम", "Name"),
    "phone": ("फ़ोन", "Phone"),
    "address": ("पता", "Address"),
    "statement": ("विवरण / बयान", "Statement"),
    "description": ("विवरण / बयान", "Statement"),
    "category": ("श्रेणी", "Category"),
    "channel": ("माध्यम", "Channel"),
    "priority": ("प्राथमिकता", "Priority"),
    "danger_now": ("अभी खतरे में", "In danger now"),
    "minor": ("नाबालिग", "A minor"),
    "consent": ("जानकारी साझा करने की सहमति", "Consents to sharing"),
    "thana": ("थाना", "Thana"),
    "circle": ("सर्किल", "Circle"),
    "district": ("जनपद", "District"),
    "kendra": ("केन्द्र", "Kendra"),
    "pincode": ("पिन कोड", "PIN code"),
    "locality": ("मोहल्ला / गाँव", "Locality / village"),
    "place_own_words": ("स्थान, उनके शब्दों में", "Place, in her own words"),
    "submit": ("दर्ज करें", "Submit"),
    "save": ("सहेजें", "Save"),
    "registered": ("शिकायत दर्ज हुई", "Complaint registered"),
    "case": ("मामला", "Case"),
    "case_number": ("मामला संख्या", "Case number"),
    "status": ("स्थिति", "Status"),
    "assigned_to": ("सौंपा गया", "Assigned to"),
    "not_yet": ("अभी नहीं", "not yet"),
    "timeline": ("समय-रेखा", "Timeline"),
    "first_contact": ("पहला संपर्क", "First contact"),
    "action": ("कार्यवाही", "Action"),
    "referral": ("संदर्भन", "Referral"),
    "resolution": ("निस्तारण", "Disposal"),
    "mode": ("तरीका", "Mode"),
    "kind": ("प्रकार", "Kind"),
    "fir_number": ("एफआईआर संख्या", "FIR number"),
    "agency": ("संस्था", "Agency"),
    "outcome": ("परिणाम", "Outcome"),
    "feedback": ("शिकायतकर्ता की प्रतिक्रिया (1-5)", "Complainant's feedback (1-5)"),
    "show_identity": ("पहचान देखें (दर्ज होगा)", "Show identity (this is recorded)"),
    "identity_hidden": ("पहचान छिपी है", "Identity hidden"),
    "escalated_to_me": ("मुझ तक बढ़ाए गए मामले", "Escalated to me"),
    "close_to_breach": ("समय-सीमा के निकट", "Close to breach"),
    "breach_rate": ("समय-सीमा उल्लंघन दर", "Breach rate"),
    "breaches": ("उल्लंघन", "Breaches"),
    "workload": ("केन्द्र का कार्यभार", "Kendra workload"),
    "open_cases": ("खुले मामले", "Open cases"),
    "cases": ("मामले", "Cases"),
    "compliance": ("प्रशिक्षण अनुपालन", "Training compliance"),
    "cases_over_time": ("समय के साथ मामले", "Cases over time"),
    "breaches_by_thana": ("थानेवार उल्लंघन", "Breaches by thana"),
    "compliance_by_circle": ("सर्किलवार अनुपालन", "Compliance by circle"),
    "nothing": ("कुछ नहीं", "Nothing here"),
    "due": ("नियत समय", "Due"),
    "level": ("स्तर", "Level"),
    "figures_only": ("केवल आँकड़े, कोई पहचान नहीं", "Figures only, no identities"),
    "trained": ("प्रशिक्षित", "Trained"),
    "officers": ("अधिकारी", "Officers"),
    "total": ("कुल", "Total"),
    "error": ("त्रुटि", "Error"),
    "service_unavailable": (
        "सेवा अभी उपलब्ध नहीं; थोड़ी देर में फिर प्रयास करें।",
        "The service is not available now; try again shortly.",
    ),
    "not_found": ("पृष्ठ नहीं मिला", "Page not found"),
    "receipt": ("शिकायत की रसीद", "Complaint receipt"),
    "print_receipt": ("रसीद प्रिंट करें", "Print the receipt"),
    "print_how": ("प्रिंट के लिए ब्राउज़र में Ctrl+P दबाएँ", "To print, press Ctrl+P in the browser"),
    "paper_a5": ("A5 कागज़", "A5 sheet"),
    "paper_80mm": ("80 मिमी थर्मल रोल", "80 mm thermal roll"),
    "registered_on": ("दर्ज होने का समय", "Registered on"),
    "registered_by": ("दर्ज करने वाले अधिकारी", "Registered by officer"),
    "what_next": ("आगे क्या होगा", "What happens next"),
    "kendra_pending": ("केन्द्र तय हो रहा है", "the Kendra is being decided"),
    "helplines": ("हेल्पलाइन", "Helplines"),
    "helpline_1090": ("1090 वीमेन पावर लाइन", "1090 Women Power Line"),
    "helpline_181": ("181 महिला हेल्पलाइन", "181 Women Helpline"),
    "helpline_112": ("112 आपात सेवा (पुलिस)", "112 Emergency (police)"),
    "open_case": ("मामला खोलें", "Open the case"),
    "open_training_record": ("प्रशिक्षण अभिलेख खोलें", "Open the training record"),
    "acknowledge": ("स्वीकार करें (मामला अपने संज्ञान में लें)", "Acknowledge (take the case up)"),
    "acknowledged": ("आपने बढ़ाया गया मामला स्वीकार किया", "You acknowledged the escalation"),
    "escalated_to_you": ("यह मामला आप तक बढ़ाया गया है", "This case is escalated to you"),
    "direction_note": ("अधिकारी को निर्देश (वैकल्पिक)", "Direction to the officer (optional)"),
    "escalation_ladder": ("बढ़ाए जाने का क्रम", "Escalations"),
    "acknowledged_by": ("स्वीकार किया", "Acknowledged by"),
    "close_case": ("मामला बंद करें", "Close the case"),
    "reopen_case": ("मामला पुनः खोलें", "Reopen the case"),
    "reason": ("कारण", "Reason"),
    "remark": ("टिप्पणी (वैकल्पिक)", "Remark (optional)"),
    "confirm_close": (
        "मैं पुष्टि करती/करता हूँ: मामला बंद होगा और उसकी सभी समय-सीमाएँ रुक जाएँगी",
        "I confirm: the case will be closed and all its deadlines stop",
    ),
    "step_recorded": ("दर्ज हो गया।", "Recorded."),
    "withdraw_case": ("शिकायत वापसी दर्ज करें", "Record the complaint's withdrawal"),
    "confirm_withdraw": (
        "मैं पुष्टि करती/करता हूँ: शिकायतकर्ता ने शिकायत वापस ली; मामला पुनः नहीं खुलेगा और उसकी सभी समय-सीमाएँ रुक जाएँगी",
        "I confirm: the complainant withdrew the complaint; the case cannot be reopened and all its "
        "deadlines stop",
    ),
    "mark_duplicate": ("दोहरी शिकायत चिह्नित करें", "Mark as a duplicate"),
    "duplicate_of": ("मूल मामले की संख्या", "Number of the original case"),
    "confirm_duplicate": (
        "मैं पुष्टि करती/करता हूँ: यह मामला मूल मामले की दोहरी शिकायत के रूप में समाप्त होगा और पुनः नहीं खुलेगा",
        "I confirm: this case ends as a duplicate of the original and cannot be reopened",
    ),
    "awaiting_complainant": ("शिकायतकर्ता की प्रतीक्षा", "Waiting for the complainant"),
    "complainant_responded": ("शिकायतकर्ता ने उत्तर दिया", "The complainant responded"),
    "add_note": ("टिप्पणी जोड़ें", "Add a note"),
    "note_text": (
        "टिप्पणी (मुहरबंद: केवल पहचान देख सकने वाले पढ़ सकते हैं)",
        "Note (sealed: only those who may see the identity read it)",
    ),
    "reassign": ("दूसरे अधिकारी को सौंपें", "Reassign to another officer"),
    "officer_on_duty": ("केन्द्र के ड्यूटी पर अधिकारी", "Officer on duty at the Kendra"),
    "rules_pick": ("नियमों के अनुसार उपलब्ध अधिकारी", "Whoever the rules pick"),
    "done_reassign": (
        "पुनः सौंपना दर्ज हुआ; नया अधिकारी कुछ ही क्षणों में यहाँ दिखेगा।",
        "Reassignment recorded; the new officer shows here in a moment.",
    ),
    "transfer": ("दूसरे थाने को स्थानांतरित करें", "Transfer to another thana"),
    "confirm_transfer": (
        "मैं पुष्टि करती/करता हूँ: मामला उस थाने के केन्द्र को चला जाएगा",
        "I confirm: the case goes to that thana's Kendra",
    ),
    "done_transfer": (
        "स्थानांतरण दर्ज हुआ; मामला कुछ ही क्षणों में नए थाने के केन्द्र पर दिखेगा।",
        "Transfer recorded; the case shows at the new thana's Kendra in a moment.",
    ),
    "agency_answer": ("संस्था का उत्तर दर्ज करें", "Record the agency's answer"),
    "referral_accept": ("स्वीकार दर्ज करें", "Record: accepted"),
    "referral_reject": ("अस्वीकार दर्ज करें", "Record: rejected"),
    "referral_complete": ("पूर्ण दर्ज करें", "Record: completed"),
    "confirm_reject": (
        "मैं पुष्टि करती/करता हूँ: संस्था ने संदर्भन अस्वीकार किया (बाद में बदला नहीं जा सकता)",
        "I confirm: the agency rejected the referral (cannot be changed afterwards)",
    ),
    "confirm_complete": (
        "मैं पुष्टि करती/करता हूँ: संस्था ने संदर्भन पूर्ण किया (बाद में बदला नहीं जा सकता)",
        "I confirm: the agency completed the referral (cannot be changed afterwards)",
    ),
    "time_left": ("शेष समय", "Time left"),
    "next_deadline": ("अगली समय सीमा", "Next deadline"),
    "overdue": ("समय सीमा चूकी", "Overdue"),
    "deadline_state": ("स्थिति", "State"),
    "times_ist": ("सभी समय भारतीय मानक समय (IST) में", "All times in India Standard Time (IST)"),
    "sent_elsewhere": ("मामला अन्य थाने को भेजा गया", "The case went to another thana"),
    "forbidden": ("आपकी भूमिका को यह अनुमति नहीं है।", "Your role may not do this."),
    "notifications": ("सूचनाएँ", "Notifications"),
    "unread": ("अपठित", "Unread"),
    "acknowledge_notice": ("पुष्टि करें", "Acknowledge"),
    "notice_acknowledged": ("पुष्टि की गई", "Acknowledged"),
    "no_notifications": ("कोई सूचना नहीं।", "No notifications."),
    "outbox": ("आउटबॉक्स", "Outbox"),
    "message_preferences": ("संदेश प्राथमिकताएँ", "Message preferences"),
    "message_language": ("ई-मेल और एसएमएस की भाषा", "Language of e-mail and SMS"),
    "language_as_contacts": ("जैसा संपर्क सूची में है (सामान्यतः हिंदी)", "As in the contacts list (usually Hindi)"),
    "language_hi": ("हिंदी", "Hindi"),
    "language_en": ("अंग्रेज़ी", "English"),
    "quiet_hours": ("शांत समय (IST)", "Quiet hours (IST)"),
    "quiet_from": ("से", "From"),
    "quiet_until": ("तक", "Until"),
    "quiet_hours_note": (
        "इस समय में जो ई-मेल और एसएमएस अति आवश्यक नहीं हैं, वे शांत समय समाप्त होने पर भेजे जाते हैं। "
        "तत्काल खतरा, समय-सीमा पार और मामला बढ़ाए जाने के संदेश हमेशा तुरंत जाते हैं; वेब की घंटी पर सब तुरंत दिखता है। "
        "दोनों खाली छोड़ें: कोई शांत समय नहीं।",
        "In these hours, e-mail and SMS that are not urgent are sent when the quiet hours end. Danger now, "
        "a breached deadline and an escalation always go at once; the bell in the web front shows "
        "everything at once. Leave both empty: no quiet hours.",
    ),
    "preferences_saved": ("प्राथमिकताएँ सहेजी गईं।", "Preferences saved."),
    "outbox_note": (
        "यहाँ वे संदेश हैं जो भेजे जाते (ई-मेल / एसएमएस सर्वर विन्यस्त नहीं); कुछ भी भेजा नहीं गया।",
        "What would have been sent (no e-mail or SMS server configured); nothing left this system.",
    ),
    "to": ("प्राप्तकर्ता", "To"),
    "find_number": ("मामला संख्या (पूरी या शुरुआत)", "Case number (whole or its beginning)"),
    "open_statuses": ("जिन पर कार्यवाही चल रही है", "Still being worked"),
    "all_statuses": ("सभी स्थितियाँ", "Every status"),
    "all_categories": ("सभी श्रेणियाँ", "Every category"),
    "all_priorities": ("सभी प्राथमिकताएँ", "Every priority"),
    "deadline": ("समय सीमा", "Deadline"),
    "any_deadline": ("कोई भी", "Any"),
    "due_soon": ("समय सीमा निकट", "Deadline close"),
    "whose": ("किसके मामले", "Whose cases"),
    "mine": ("मुझे सौंपे गए", "Assigned to me"),
    "whole_kendra": ("पूरा केन्द्र", "The whole Kendra"),
    "only_danger_now": ("केवल अभी खतरे में", "Only in danger now"),
    "apply_filters": ("दिखाएँ", "Show"),
    "clear_filters": ("सभी फ़िल्टर हटाएँ", "Clear the filters"),
    "previous_page": ("पिछला पृष्ठ", "Previous page"),
    "next_page": ("अगला पृष्ठ", "Next page"),
    "page": ("पृष्ठ", "Page"),
    "export_csv": ("CSV फ़ाइल (Excel) डाउनलोड करें", "Download as a CSV file (Excel)"),
    "queue_order": (
        "सबसे ज़रूरी पहले: चूकी समय सीमा, फिर निकट समय सीमा, अभी खतरे में, प्राथमिकता, सबसे पुराना",
        "Most urgent first: overdue, then deadline close, in danger now, priority, oldest",
    ),
}

ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.KENDRA_OFFICER: ("केन्द्र अधिकारी", "Kendra officer"),
    Role.KENDRA_INCHARGE: ("केन्द्र प्रभारी", "Kendra in-charge"),
    Role.SHO: ("थाना प्रभारी", "SHO"),
    Role.CO: ("क्षेत्राधिकारी", "Circle Officer"),
    Role.ADDL_SP: ("अपर पुलिस अधीक्षक", "Additional SP"),
    Role.SP: ("पुलिस अधीक्षक", "Superintendent of Police"),
    Role.STATE_CELL: ("राज्य मिशन शक्ति प्रकोष्ठ", "State Mission Shakti cell"),
    Role.OPERATOR: ("संचालक", "Operator"),
}


def language(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "hi")
    return lang if lang in LANGUAGES else "hi"


def translator(lang: str) -> Callable[[str], str]:
    index = 0 if lang == "hi" else 1

    def t(key: str) -> str:
        pair = TEXT.get(key)
        return pair[index] if pair else key

    return t
