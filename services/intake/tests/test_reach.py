"""Who reaches a case: decided by where the case is now (issue 12, item 7), and the zero FIR: a
complaint registered at one thana's Kendra for a place of another is routed there, recorded as such,
and the officer who registered it keeps its receipt."""

from __future__ import annotations

from services.intake.tests.conftest import OFFICER, OTHER_THANA, Intake, routed_to_katra
from shared.contracts.routing import CaseRouted


async def test_after_a_transfer_the_old_thana_loses_the_case(intake_sqlite: Intake) -> None:
    intake = intake_sqlite
    case_id = (await intake.register())["case_id"]
    await intake.publish("routing", "case", case_id, [routed_to_katra(case_id)], "routing")
    await intake.settled(case_id, lambda row: row["kendra"] == "MSK-SJP-KATRA")
    assert (
        await intake.get(f"/cases/{case_id}/identity", OFFICER, purpose="contact_complainant")
    ).status_code == 200

    moved = CaseRouted(
        case_id=case_id,
        district="SJP",
        circle="SJP-NAGAR",
        thana="SJP-SADAR-BAZAR",
        kendra="MSK-SJP-SADAR-BAZAR",
        reason="transfer: wrong jurisdiction",
    )
    await intake.publish("routing", "case", case_id, [moved], "routing")
    await intake.settled(case_id, lambda row: row["thana"] == "SJP-SADAR-BAZAR", OTHER_THANA)

    for path, params in (
        (f"/cases/{case_id}/identity", {"purpose": "contact_complainant"}),
        (f"/cases/{case_id}", {}),
    ):
        assert (await intake.get(path, OFFICER, **params)).status_code == 404, path
    note = await intake.command(case_id, "notes", {"text": "Still here?"}, OFFICER, key="n1")
    assert note.status_code == 404
    assert (
        await intake.get(f"/cases/{case_id}/identity", OTHER_THANA, purpose="contact_complainant")
    ).status_code == 200


async def test_a_zero_fir_is_recorded_and_its_receipt_stays_with_the_officer_who_took_it(
    intake_sqlite: Intake,
) -> None:
    intake = intake_sqlite
    registered = await intake.register(OTHER_THANA, thana="SJP-KATRA")
    case_id = registered["case_id"]
    await intake.publish("routing", "case", case_id, [routed_to_katra(case_id)], "routing")
    row = await intake.settled(case_id, lambda row: row["kendra"] == "MSK-SJP-KATRA")
    assert row["zero_fir"] is True and row["registered_at_thana"] == "SJP-SADAR-BAZAR"

    assert (await intake.get(f"/cases/{case_id}", OTHER_THANA)).status_code == 404
    receipt = await intake.get(f"/cases/{case_id}/receipt", OTHER_THANA)
    assert receipt.status_code == 200, receipt.text
    kept = receipt.json()
    assert kept["case_number"] == registered["case_number"] and kept["thana"] == "SJP-KATRA"
    assert kept["zero_fir"] is True and kept["text"]["en"] and kept["text"]["hi"]
    # Another officer of that thana, who did not register it, gets nothing.
    assert (
        await intake.get(
            f"/cases/{case_id}/receipt", OTHER_THANA.model_copy(update={"service_number": "PNO1"})
        )
    ).status_code == 404
