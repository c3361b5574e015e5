"""Every word the web front shows, in Hindi and English. Codes from events get their labels from
``shared.contracts.vocabulary``; these are the page's own words."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

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
    "ops_service": ("सेवा", "Service"),
    "ops_ready": ("तैयार", "Ready"),
    "ops_lag": ("पीछे (घटनाएँ)", "Behind (events)"),
    "ops_parked": ("रोकी गई", "Parked"),
    "ops_reactions_backlog": ("प्रतिक्रियाएँ बाकी", "Reactions waiting"),
    "ops_reactions_parked": ("रोकी गई प्रतिक्रियाएँ", "Reactions parked"),
    "ops_parked_events": ("रोकी गई घटनाएँ", "Parked events"),
    "breadcrumb": ("आप यहाँ हैं", "You are here"),
    "files": ("फ़ाइलें", "Files"),
    "attach_file": ("फ़ाइल जोड़ें", "Attach a file"),
    "file_pdf_jpeg_png": ("फ़ाइल (PDF, JPEG या PNG, 10 MB तक)", "File (PDF, JPEG or PNG, up to 10 MB)"),
    "open_file": ("खोलें (यह दर्ज होता है)", "Open (this is recorded)"),
    "file_erased": ("पहचान मिटाई गई: फ़ाइल पढ़ी नहीं जा सकती", "Identity erased: the file cannot be read"),
    "purpose": ("उद्देश्य", "Purpose"),
    "done_attach": ("फ़ाइल जोड़ दी गई।", "The file is attached."),
    "demo_users": ("डेमो उपयोगकर्ता (सब काल्पनिक)", "DEMO users (all made up)"),
    "tour": ("डेमो: क्या आज़माएँ", "DEMO: what to try"),
    "tour_link": ("डेमो में क्या आज़माएँ", "What to try in the DEMO"),
    "tour_means": (
        "यह डेमो है: शाहजहाँपुर जनपद के थाने, काल्पनिक अधिकारी और काल्पनिक शिकायतें, जो हर कुछ सेकंड में आती रहती हैं।"
        " समय-सीमाएँ मिनटों में हैं, इसलिए चेतावनी, उल्लंघन और ऊपर के स्तरों तक बढ़ना कुछ ही मिनटों में दिखता है।"
        " नीचे के किसी भी उपयोगकर्ता के रूप में इसी पासवर्ड से साइन इन करें।",
        "This is the DEMO: Shahjahanpur district's thanas, made-up officers and made-up complaints that keep"
        " coming every few seconds. Deadlines are in minutes, so warnings, breaches and the climb to higher"
        " levels show within minutes. Sign in as any user below with this password.",
    ),
    "tour_kendra_officer": (
        "मेरी सूची खोलें: कटरा केन्द्र के मामले प्रतीक्षा में हैं। एक मामला खोलें और प्रथम संपर्क, कार्यवाही,"
        " संदर्भन और निस्तारण दर्ज करें; फिर शिकायत दर्ज करें और उसकी रसीद छापें। घंटी आपको नए सौंपे गए मामले बताती है।",
        "Open My queue: cases of the Katra Kendra are waiting. Open one and record first contact, an action,"
        " a referral and its disposal; then Register a complaint and print its receipt. The bell tells you"
        " of cases newly assigned to you.",
    ),
    "tour_kendra_incharge": (
        "अभी खतरे वाले मामले पर घंटी आपको तुरंत बुलाती है; ऊपर भेजे गए मामले को निर्देश के साथ स्वीकार करें,"
        " मामला केन्द्र की दूसरी अधिकारी को सौंपें, और अनुरोध पर शिकायतकर्ता की पहचान उसके विधिक आधार पर मिटाएँ।",
        "A case of danger now pages you at once (the bell); acknowledge a case"
        " escalated to you with a direction, reassign a case to another officer of the Kendra, and erase a"
        " complainant's identity on its legal basis when she asks.",
    ),
    "tour_sho": (
        "डैशबोर्ड पर थाना कटरा के ऊपर भेजे गए मामले और उल्लंघन के निकट मामले देखें; उन्हें निर्देश के साथ स्वीकार करें।",
        "On the Dashboard see the cases escalated to you and those close to breach at Katra thana;"
        " acknowledge them with a direction.",
    ),
    "tour_co": (
        "तिलहर सर्किल का डैशबोर्ड: थानेवार उल्लंघन दर और केन्द्रों का कार्यभार; एक प्रशिक्षण कार्यक्रम तय करें और"
        " फ़ोन पर उपस्थिति लें।",
        "The Tilhar circle's Dashboard: breach rates by thana and the Kendras' workloads; schedule a training"
        " programme and call its roll on a phone.",
    ),
    "tour_addl_sp": (
        "जनपद का डैशबोर्ड: एक सर्किल, फिर थाना, फिर मामला खोलें; ऊपर भेजे गए मामले; प्रशिक्षण अनुपालन की सूचियाँ CSV में।",
        "The district's Dashboard: open a circle, then a thana, then a case; the cases escalated to you;"
        " the training compliance lists as CSV.",
    ),
    "tour_sp": (
        "जनपद का डैशबोर्ड और प्रशिक्षण अनुपालन; प्रशिक्षण कार्यक्रम तय करें (10 जनवरी 2026 का कार्यक्रम उदाहरण है);"
        " स्तर-सीढ़ी पर सबसे ऊपर के मामले आप तक पहुँचते हैं।",
        "The district's Dashboard and training compliance; schedule a training programme (the one of 10"
        " January 2026 is the example); the cases at the top of the ladder reach you.",
    ),
    "tour_state_cell": (
        "सभी जनपद: जनपदवार मामले, उल्लंघन और प्रशिक्षित कर्मचारी।",
        "All districts: cases, breaches and trained staff by district.",
    ),
    "tour_operator": (
        "संचालन: सेवाएँ, पीछे की घटनाएँ और रोकी गई घटनाएँ; भेजे जाने वाले ई-मेल और SMS का आउटबॉक्स; iGOT फ़ाइल का आयात।",
        "Operations: the services, how far behind they are and parked events; the outbox of e-mail and SMS;"
        " the iGOT file import.",
    ),
    "tour_agency_desk": (
        "आप शाहजहाँपुर के वन स्टॉप सेंटर की डेस्क पर हैं: केन्द्रों से आए संदर्भन, जिसका उत्तर सबसे पहले देना है वह ऊपर।"
        " एक संदर्भन स्वीकार करें, फिर पूर्ण करें (या कारण के साथ अस्वीकार करें); घंटी नए संदर्भन बताती है।"
        " शिकायतकर्ता का नाम या फ़ोन आपको नहीं दिखता।",
        "You are at the desk of Shahjahanpur's One Stop Centre: the referrals the Kendras sent, the one to"
        " answer first at the top. Accept a referral, then complete it (or reject it with a reason); the"
        " bell tells you of new referrals. The complainant's name and phone are not shown to you.",
    ),
    "yes": ("हाँ", "Yes"),
    "no": ("नहीं", "No"),
    "igot_import": ("iGOT पूर्णता आयात", "iGOT completion import"),
    "igot_import_means": (
        "iGOT पोर्टल की पूर्णता फ़ाइल (CSV) भेजें। पूरी फ़ाइल पहले जाँची जाती है: कहीं एक भी त्रुटि हो तो कुछ भी"
        " दर्ज नहीं होता और हर त्रुटि अपनी पंक्ति और कॉलम के साथ दिखती है। वही फ़ाइल दोबारा भेजने से कुछ नहीं बदलता।",
        "Send the iGOT portal's completion export (CSV). The whole file is checked first: one problem"
        " anywhere and nothing is recorded, and every problem is shown with its line and column. Sending the"
        " same file again changes nothing.",
    ),
    "igot_file": ("iGOT फ़ाइल (CSV, 5 MB तक)", "iGOT file (CSV, up to 5 MB)"),
    "igot_send": ("जाँचें और आयात करें", "Check and import"),
    "igot_imported": ("आयात हो गया", "imported"),
    "igot_lines": ("पंक्तियाँ", "Lines"),
    "igot_recorded": ("नई प्रविष्टियाँ", "New completions"),
    "igot_completions_recorded": ("प्रविष्टियाँ दर्ज", "completions recorded"),
    "igot_certified": ("प्रमाणित अधिकारी", "Officers certified"),
    "igot_problems": ("त्रुटियाँ; कुछ भी दर्ज नहीं हुआ", "problems; nothing was recorded"),
    "igot_line": ("पंक्ति", "Line"),
    "igot_column": ("कॉलम", "Column"),
    "igot_problem": ("त्रुटि", "Problem"),
    "igot_required": ("आवश्यक", "Required"),
    "igot_columns": (
        "फ़ाइल के कॉलम (पहली पंक्ति में नाम, किसी भी क्रम में)",
        "The file's columns (named on its first line, in any order)",
    ),
    "igot_col_service_number": (
        "रोस्टर के अनुसार अधिकारी की सेवा संख्या (3 से 20 अक्षर या अंक)",
        "The officer's service number as on the roster (3 to 20 letters or digits)",
    ),
    "igot_col_module_id": (
        "पाठ्यक्रम का मॉड्यूल, जैसे MSK-SOP, IGOT-01 … IGOT-21, MSK-ASSESS",
        "A module of the curriculum, e.g. MSK-SOP, IGOT-01 … IGOT-21, MSK-ASSESS",
    ),
    "igot_col_completed_at": (
        "पूर्णता का दिन: YYYY-MM-DD, DD-MM-YYYY या DD/MM/YYYY (भारतीय समय); भविष्य का नहीं,"
        " 01-01-2020 से पहले का नहीं",
        "The day of completion: YYYY-MM-DD, DD-MM-YYYY or DD/MM/YYYY (India's time); not in the future, not"
        " before 01-01-2020",
    ),
    "igot_col_score": ("0 से 100; केवल मूल्यांकन के लिए गिना जाता है", "0 to 100; counts only for an assessment"),
    "igot_col_version": (
        "पूर्ण किया गया संस्करण; न हो तो वर्तमान",
        "The version completed; the current one when absent",
    ),
    "igot_all_or_nothing": (
        "अन्य कॉलम अनदेखे रहते हैं और कभी संग्रहीत नहीं होते। पूरा विवरण: docs/igot-import.md",
        "Other columns are ignored and never stored. The full rules: docs/igot-import.md",
    ),
    "erase_identity": ("शिकायतकर्ता की पहचान मिटाएँ", "Erase the complainant's identity"),
    "erase_identity_means": (
        "नाम, फ़ोन, पता, बयान और मामले की मुहरबंद टिप्पणियाँ हमेशा के लिए पढ़ने योग्य नहीं रहेंगी (उनकी कुंजी नष्ट"
        " होती है); मामला, उसकी संख्या, समय-सीमाएँ और कार्यवाही बनी रहती हैं।",
        "Her name, phone, address, statement and the case's sealed remarks become unreadable for ever (their"
        " key is destroyed); the case, its number, deadlines and actions stay.",
    ),
    "legal_basis": ("विधिक आधार", "Legal basis"),
    "confirm_erase": (
        "मैं पुष्टि करती/करता हूँ: यह वापस नहीं होता",
        "I confirm: this cannot be undone",
    ),
    "done_erase": ("पहचान मिटा दी गई।", "The identity is erased."),
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
    "consent_messages": (
        "वे अपने फ़ोन पर एसएमएस चाहती हैं: केवल मामला संख्या, केन्द्र का नाम और फ़ोन, हेल्पलाइन और मामले की "
        "स्थिति में बदलाव; और कुछ नहीं। बाद में कभी भी मना कर सकती हैं।",
        "She wants SMS on her phone: only the case number, the Kendra's name and phone, the helplines and "
        "changes of the case's status; never anything else. She may say no at any time later.",
    ),
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
    "as_of": ("किसी पिछले समय पर मामला", "The case at a past moment"),
    "as_of_moment": ("दिनांक और समय (भारतीय समय)", "Date and time (IST)"),
    "as_it_stood": ("{at} पर मामला जैसा था", "The case as it stood at {at}"),
    "show": ("दिखाएँ", "Show"),
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
    "registered_per_day": (
        "प्रतिदिन दर्ज मामले (भारतीय समय, पिछले 30 दिन)",
        "Cases registered per day (India time, last 30 days)",
    ),
    "newest_cases": ("नवीनतम मामले", "Newest cases"),
    "breaches_by_thana": ("थानेवार उल्लंघन", "Breaches by thana"),
    "breaches_per_week": (
        "प्रति सप्ताह समय-सीमा उल्लंघन (संख्या; सप्ताह सोमवार से, भारतीय समय, पिछले 12 सप्ताह)",
        "Deadlines breached per week (count; weeks from Monday, India time, last 12 weeks)",
    ),
    "breaches_per_week_how": (
        "हर स्तंभ: उस सप्ताह जिन समय-सीमाओं का परिणाम ज्ञात हुआ, उनमें से कितनी चूकीं; नीचे सप्ताह का सोमवार",
        "Each column: of the deadlines whose outcome became known that week, how many were missed; "
        "under it, the week's Monday",
    ),
    "time_to_first_contact": (
        "प्रथम संपर्क तक का समय (माध्यिका, घंटे, प्रति थाना)",
        "Time to first contact (median hours, by thana)",
    ),
    "time_to_first_contact_how": (
        "पंजीकरण से प्रथम संपर्क तक, उन मामलों का जिनमें संपर्क हो चुका",
        "From registration to first contact, of the cases contacted so far",
    ),
    "hours_short": ("घंटे", "h"),
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
    "stop_sms": ("एसएमएस बंद करें (शिकायतकर्ता के कहने पर)", "Stop SMS to her (on her word)"),
    "sms_agreed": (
        "शिकायतकर्ता ने इस मामले के एसएमएस (मामला संख्या, केन्द्र का फ़ोन, स्थिति) की सहमति दी है।",
        "She agreed to SMS about this case (case number, the Kendra's phone, its status).",
    ),
    "confirm_stop_sms": (
        "मैं पुष्टि करता/करती हूँ: उन्होंने आगे एसएमएस न भेजने को कहा है",
        "I confirm: she asked to be sent no more SMS",
    ),
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
    "ist_dates": ("भारतीय समय", "IST"),
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
    "muted_channels": ("ई-मेल और एसएमएस बंद करें", "Turn e-mail and SMS off"),
    "muted_channels_note": (
        "चुने गए माध्यम पर वे संदेश नहीं भेजे जाते जो अति आवश्यक नहीं हैं; वेब की घंटी पर वे फिर भी दिखते हैं। "
        "तत्काल खतरा, समय-सीमा पार और मामला बढ़ाए जाने के संदेश हमेशा हर माध्यम पर जाते हैं।",
        "Messages that are not urgent are not sent on a channel ticked here; the bell in the web front "
        "still shows them. Danger now, a breached deadline and an escalation always go on every channel.",
    ),
    "mute_email": ("अति आवश्यक न होने वाले संदेश ई-मेल पर नहीं", "No e-mail for messages that are not urgent"),
    "mute_sms": ("अति आवश्यक न होने वाले संदेश एसएमएस पर नहीं", "No SMS for messages that are not urgent"),
    "preferences_saved": ("प्राथमिकताएँ सहेजी गईं।", "Preferences saved."),
    "outbox_note": (
        "यहाँ वे संदेश हैं जो भेजे जाते (ई-मेल / एसएमएस सर्वर विन्यस्त नहीं); कुछ भी भेजा नहीं गया। शांत समय"
        " में रोके गए संदेश भी यहाँ हैं, उस समय (IST) के साथ जब वे जाएँगे।",
        "What would have been sent (no e-mail or SMS server configured); nothing left this system. Messages"
        " held for quiet hours are here too, with the time (IST) they go out.",
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
    "within_1h": ("1 घंटे के भीतर देय", "Due within 1 hour"),
    "within_4h": ("4 घंटे के भीतर देय", "Due within 4 hours"),
    "within_24h": ("24 घंटे के भीतर देय", "Due within 24 hours"),
    "within_72h": ("72 घंटे के भीतर देय", "Due within 72 hours"),
    "any_level": ("कोई भी स्तर", "Any level"),
    "not_escalated": ("नहीं बढ़ाया गया", "Not escalated"),
    "escalation_level": ("बढ़ाने का स्तर", "Escalation level"),
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
    "training": ("प्रशिक्षण", "Training"),
    "curriculum": ("प्रशिक्षण पाठ्यक्रम", "Training curriculum"),
    "curriculum_version": ("पाठ्यक्रम संस्करण", "Curriculum version"),
    "my_training": ("मेरा प्रशिक्षण", "My training"),
    "training_lists": ("प्रशिक्षण अनुपालन सूचियाँ", "Training compliance lists"),
    "module": ("मॉड्यूल", "Module"),
    "version": ("संस्करण", "Version"),
    "accepted_from": ("मान्य संस्करण (से)", "Accepted from version"),
    "minutes": ("मिनट", "Minutes"),
    "certification": ("प्रमाणन", "Certification"),
    "required": ("अनिवार्य", "Required"),
    "pass_mark": ("उत्तीर्ण अंक", "Pass mark"),
    "valid_months": ("वैधता (माह)", "Valid for (months)"),
    "renewal": ("नवीनीकरण", "Renewal"),
    "renewal_how": (
        "वैधता समाप्ति से {window} दिन पहले से ये मॉड्यूल दोबारा करें:",
        "From {window} days before the certificate ends, take these modules again:",
    ),
    "endorsements": ("अनुमोदन (मामलों की श्रेणियाँ)", "Endorsements (case categories)"),
    "every_certified": ("हर प्रमाणित अधिकारी", "Every certified officer"),
    "needs_specialist": ("विशेष मॉड्यूल के बाद ही", "Only after the specialist module"),
    "training_record": ("प्रशिक्षण अभिलेख", "Training record"),
    "service_number": ("सेवा संख्या", "Service number"),
    "rank": ("पद", "Rank"),
    "on_duty": ("ड्यूटी", "Duty"),
    "certificate": ("प्रमाणपत्र", "Certificate"),
    "certificates": ("प्रमाणपत्र", "Certificates"),
    "open_certificate": ("प्रमाणपत्र खोलें (प्रिंट हेतु)", "Open the certificate (to print)"),
    "issued_on": ("प्रशिक्षण / जारी", "Trained / issued"),
    "valid_until": ("वैध तक", "Valid until"),
    "not_certified": ("प्रमाणित नहीं", "Not certified"),
    "certified": ("प्रमाणित", "Certified"),
    "modules_done": ("पूर्ण किए मॉड्यूल", "Modules done"),
    "completed_on": ("पूर्ण", "Completed"),
    "score": ("अंक", "Score"),
    "source": ("स्रोत", "Source"),
    "counts": ("मान्य", "Counts"),
    "does_not_count": ("मान्य नहीं (अंक कम या पुराना संस्करण)", "Does not count (score or version)"),
    "modules_due": ("करने शेष मॉड्यूल", "Modules due"),
    "due_on": ("नियत तिथि", "Due by"),
    "why": ("कारण", "Why"),
    "untrained": ("अप्रमाणित अधिकारी", "Untrained officers"),
    "overdue_training": ("प्रशिक्षण की समय सीमा चूकी", "Training overdue"),
    "lapsing": ("शीघ्र समाप्त होने वाले प्रमाणपत्र", "Certificates lapsing soon"),
    "lapsing_within": ("{days} दिन के भीतर", "within {days} days"),
    "download_csv": ("CSV डाउनलोड करें", "Download CSV"),
    "uncertified_cases": ("अप्रमाणित अधिकारियों को सौंपे गए मामले", "Cases given to uncertified officers"),
    "uncertified_cases_short": ("अप्रमाणित को सौंपे मामले", "Cases given uncertified"),
    "uncertified_cases_means": (
        "सौंपे जाते समय अधिकारी के पास मामले की श्रेणी हेतु वैध प्रमाणपत्र नहीं था (जैसा मार्गनिर्धारण ने उस समय"
        " दर्ज किया; बाद का प्रमाणन पुराने मामले को नहीं बदलता)। दो ऐसे अधिकारियों को सौंपा मामला दो पंक्तियों में,"
        " एक बार गिना जाता है।",
        "When the case was given to the officer, she held no valid certificate for its category (as routing"
        " had it recorded then; a later certification does not change a past case). A case given to two such"
        " officers is listed on two lines and counted once.",
    ),
    "period_from": ("से (दिनांक, IST)", "From (date, IST)"),
    "period_to": ("तक (दिनांक, IST)", "To (date, IST)"),
    "cases_in_period": ("मामले इस अवधि में", "cases in the period"),
    "see_the_cases": ("मामले देखें", "See the cases"),
    "officer_service_number": ("अधिकारी (सेवा संख्या)", "Officer (service number)"),
    "assigned_at": ("सौंपे जाने का समय", "Assigned at"),
    "why_this_officer": ("इस अधिकारी को क्यों", "Why this officer"),
    "staff": ("केन्द्र कर्मी", "Kendra staff"),
    "next_due": ("अगली नियत तिथि", "Next due"),
    "all_done": ("कोई मॉड्यूल शेष नहीं", "No module due"),
    "programmes": ("प्रशिक्षण कार्यक्रम", "Training programmes"),
    "new_programme": ("नया कार्यक्रम निर्धारित करें", "Schedule a programme"),
    "schedule": ("कार्यक्रम निर्धारित करें", "Schedule the programme"),
    "title_hi": ("शीर्षक (हिन्दी)", "Title (Hindi)"),
    "title_en": ("शीर्षक (अंग्रेज़ी)", "Title (English)"),
    "ordered_by": ("आदेश", "Ordered by"),
    "directed_by": ("निर्देशन", "Directed by"),
    "organised_by": ("आयोजक", "Organised by"),
    "venue": ("स्थान", "Venue"),
    "date": ("दिनांक", "Date"),
    "modules": ("मॉड्यूल", "Modules"),
    "invite_kendras": ("आमंत्रित केन्द्र", "Invite Kendras"),
    "invited": ("आमंत्रित", "Invited"),
    "attended": ("उपस्थित", "Present"),
    "absent": ("अनुपस्थित", "Absent"),
    "not_marked": ("अभी दर्ज नहीं", "Not marked yet"),
    "roll_call": ("उपस्थिति दर्ज करें", "Call the roll"),
    "save_attendance": ("उपस्थिति सहेजें", "Save attendance"),
    "score_optional": ("मूल्यांकन अंक (0-100)", "Assessment score (0-100)"),
    "complete_programme": ("कार्यक्रम पूर्ण करें", "Close the programme"),
    "confirm_programme_complete": (
        "मैं पुष्टि करती/करता हूँ: उपस्थिति पंजिका बंद होगी और उपस्थित अधिकारियों के मॉड्यूल दर्ज होंगे",
        "I confirm: the register closes and the modules are credited to those present",
    ),
    "programme_completed": ("पूर्ण (पंजिका बंद)", "Completed (register closed)"),
    "programme_open": ("पंजिका खुली", "Register open"),
    "done_scheduled": ("कार्यक्रम निर्धारित हुआ", "The programme is scheduled"),
    "done_marked": ("उपस्थिति सहेजी गई", "Attendance saved"),
    "done_completed": (
        "कार्यक्रम पूर्ण; मॉड्यूल दर्ज किए जा रहे हैं",
        "Programme closed; the modules are being credited",
    ),
    "rollcall_hint": (
        "जो उपस्थित हैं उन्हें चुनें; बाकी अनुपस्थित दर्ज होंगे। पूर्ण करने तक दोबारा सहेज सकते हैं।",
        "Tick those present; the others are marked absent. You can save again until the programme is closed.",
    ),
    "officer_names_note": (
        "केवल अधिकारियों के नाम; किसी शिकायतकर्ता की पहचान नहीं",
        "Officers' names only; no complainant's identity",
    ),
    "agency_referrals": ("मेरी संस्था के संदर्भन", "My agency's referrals"),
    "agency_referrals_means": (
        "केन्द्रों द्वारा आपकी संस्था को भेजे गए संदर्भन: खुले पहले, जिसका उत्तर सबसे पहले देना है वह ऊपर। आपको"
        " केवल उतना दिखता है जितना कार्यवाही के लिए चाहिए; शिकायतकर्ता की पहचान नहीं।",
        "The referrals the Kendras sent to your agency: open ones first, the one to answer first at the top."
        " You see only what you need to act on each; never who the complainant is.",
    ),
    "open_referrals": ("खुले संदर्भन", "Open referrals"),
    "answered_referrals": ("उत्तर दिए गए संदर्भन", "Referrals answered"),
    "no_open_referrals": ("कोई खुला संदर्भन नहीं।", "No open referral."),
    "referral_reason": ("संदर्भन का कारण", "Why referred"),
    "referred_at": ("संदर्भन भेजा गया", "Referred at"),
    "answer_due": ("उत्तर की समय सीमा", "Answer due by"),
    "answered_at": ("उत्तर दिया गया", "Answered at"),
    "accept_referral": ("संदर्भन स्वीकार करें", "Accept the referral"),
    "reject_referral": ("अस्वीकार करें", "Reject"),
    "complete_referral": ("पूर्ण करें", "Complete"),
    "confirm_reject_own": (
        "मैं पुष्टि करती/करता हूँ: मेरी संस्था यह संदर्भन अस्वीकार करती है (बाद में बदला नहीं जा सकता)",
        "I confirm: my agency rejects this referral (this cannot be changed afterwards)",
    ),
    "confirm_complete_own": (
        "मैं पुष्टि करती/करता हूँ: मेरी संस्था ने यह संदर्भन पूर्ण किया (बाद में बदला नहीं जा सकता)",
        "I confirm: my agency has completed this referral (this cannot be changed afterwards)",
    ),
    "open_agency_referrals": ("संदर्भन खोलें", "Open the referrals"),
    "earlier_cases": ("शिकायतकर्ता के पिछले मामले", "Earlier cases of the complainant"),
    "earlier_cases_how": (
        "उसका फ़ोन नंबर लिखें: आपके क्षेत्राधिकार में उसी नंबर से दर्ज मामले दिखेंगे। नंबर कहीं सहेजा या दिखाया"
        " नहीं जाता; हर खोज और दिखाया गया हर मामला दर्ज होता है।",
        "Type her phone number: the cases in your jurisdiction registered with that number are shown. The"
        " number is neither kept nor shown; every search and every case it shows is recorded.",
    ),
    "her_phone": ("शिकायतकर्ता का फ़ोन नंबर", "The complainant's phone number"),
    "search": ("खोजें", "Search"),
    "back_to_case": ("मामले पर लौटें", "Back to the case"),
    "earlier_cases_recorded": (
        "यह खोज और दिखाए गए मामले प्रत्येक मामले की समय-रेखा में दर्ज हैं।",
        "This search and the cases shown are recorded in each case's timeline.",
    ),
    "earlier_cases_none": (
        "आपके क्षेत्राधिकार में इस नंबर से कोई मामला नहीं।",
        "No case with this number in your jurisdiction.",
    ),
    "earlier_cases_capped": (
        "और मामले भी मिले; केवल सबसे नए दिखाए गए हैं",
        "More cases matched; only the newest are shown",
    ),
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
