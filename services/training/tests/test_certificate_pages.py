"""The certificate people are shown (issue 16), against real NATS and SQLite: the rank in words in both
languages, the date of the training in IST rather than the day of the import, a QR code that a phone
reads as the verification address, and a verification page a person can read (JSON only when asked)."""

from __future__ import annotations

import hashlib
import re
from base64 import b64encode
from datetime import UTC, datetime, timedelta

from services.training.tests.conftest import Training, full_course, igot_csv
from services.training.tests.test_time_and_compliance import of_type, wait_for
from shared.contracts.training import CertificationLapsed, OfficerCertified, TrainingAssigned
from shared.roles import Role
from tests.qr import svg_qr_text

TRAINED = datetime(2025, 12, 1, 5, 0, tzinfo=UTC)
"""The course's day, 01-12-2025; the export is read on the clock's day, 10-01-2026."""


async def certified_sub_inspector(t: Training) -> OfficerCertified:
    await t.routing.jurisdiction()
    await t.routing.post("PNO701", "MSK-SJP-KATRA", rank="sub_inspector")
    await wait_for(t, "PNO701", TrainingAssigned)
    await t.settled()
    imported = await t.import_csv(igot_csv(full_course("PNO701", TRAINED)))
    assert imported.status_code == 200 and imported.json()["certified"] == 1, imported.text
    [certificate] = of_type(await t.events("PNO701"), OfficerCertified)
    await t.settled()
    assert isinstance(certificate, OfficerCertified)
    return certificate


async def test_the_certificate_names_the_rank_in_words_the_training_day_and_carries_a_qr_code(
    training: Training,
) -> None:
    t = training
    certificate = await certified_sub_inspector(t)
    own = t.headers(Role.KENDRA_OFFICER, service_number="PNO701", thana="SJP-KATRA")
    page = await t.client.get(f"/api/training/certificates/{certificate.certificate_id}", headers=own)
    assert page.status_code == 200, page.text
    html = page.text
    assert "sub_inspector" not in html
    assert "उपनिरीक्षक Officer PNO701" in html and "Sub-Inspector Officer PNO701" in html
    # Dated the day of the training (the IGOT date is a day in India), not the day of the import.
    assert "01-12-2025" in html and "10-01-2026" not in html and "IST" in html
    assert "<script" not in html and " style=" not in html

    svg = re.search(r"<svg.*?</svg>", html, flags=re.S)
    assert svg, "no QR code on the certificate"
    address = svg_qr_text(svg.group(0))
    assert address == f"http://test/api/training/verify/{certificate.certificate_id}"
    assert address in html  # printed too, for whoever cannot scan

    verified = await t.client.get(address.removeprefix("http://test"), headers={"Accept": "text/html"})
    assert verified.status_code == 200 and "text/html" in verified.headers["content-type"]
    shown = verified.text
    for text in (
        "वैध",
        "Valid",
        "Officer PNO701",
        "उपनिरीक्षक",
        "Sub-Inspector",
        "मिशन शक्ति केन्द्र प्रमाणित",
        "Mission Shakti Kendra certified",
        "01-12-2025",
        "01-12-2026",
        "IST",
    ):
        assert text in shown, text
    assert "sub_inspector" not in shown and "PNO701" not in shown.replace("Officer PNO701", "")
    assert "MSK-SJP-KATRA" not in shown  # name, rank and validity only: not where she is posted
    policy = verified.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy and "script-src" not in policy
    for style in re.findall(r"<style>(.*?)</style>", shown, flags=re.S):
        assert f"'sha256-{b64encode(hashlib.sha256(style.encode()).digest()).decode()}'" in policy


async def test_verification_answers_json_when_asked_and_says_lapsed_and_unknown_in_both_languages(
    training: Training,
) -> None:
    t = training
    certificate = await certified_sub_inspector(t)
    path = f"/api/training/verify/{certificate.certificate_id}"
    answer = (await t.client.get(path, headers={"Accept": "application/json"})).json()
    assert answer == {
        "certificate_id": certificate.certificate_id,
        "name": "Officer PNO701",
        "rank": "sub_inspector",
        "rank_hi": "उपनिरीक्षक",
        "rank_en": "Sub-Inspector",
        "status": "valid",
        "status_hi": "वैध",
        "status_en": "Valid",
        "issued_on": "2025-12-01",
        "valid_until": "2026-12-01",
    }

    t.clock.set(certificate.valid_until + timedelta(minutes=1))
    await wait_for(t, "PNO701", CertificationLapsed)
    await t.settled()
    lapsed = (await t.client.get(path)).text
    assert "व्यपगत" in lapsed and "Lapsed" in lapsed and "The certificate expired" in lapsed
    assert (await t.client.get(path, headers={"Accept": "application/json"})).json()["status"] == "lapsed"

    unknown = await t.client.get("/api/training/verify/MSKC-0000-0000-0000-0000")
    assert unknown.status_code == 404 and "text/html" in unknown.headers["content-type"]
    assert "कोई प्रमाणपत्र नहीं" in unknown.text and "No certificate" in unknown.text
    asked_json = await t.client.get(
        "/api/training/verify/MSKC-0000-0000-0000-0000", headers={"Accept": "application/json"}
    )
    assert asked_json.status_code == 404 and asked_json.json()["detail"]["code"] == "not_found"
