"""The training rules as pure decisions: curriculum, certification, endorsements, renewal, lapse,
retraining, overdue, programmes. No I/O: these are the aggregates' commands on their own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from services.training.curriculum import CURRICULUM_FILE, RULES_FILE, PolicyError, TrainingPolicy, load_policy
from services.training.domain import (
    LAPSED_EXPIRED,
    LAPSED_RETRAINING_OVERDUE,
    CertificateIssuer,
    Completion,
    Mark,
    Module,
    OfficerRecord,
    Programme,
)
from services.training.tests.conftest import curriculum_with
from shared.contracts.training import (
    CertificationLapsed,
    ModuleCompleted,
    OfficerCertified,
    ProgrammeScheduled,
    RetrainingRequired,
    TrainingAssigned,
    TrainingOverdue,
)
from shared.errors import DomainError
from shared.events import Event
from shared.testing import apply_decided

T0 = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)
POLICY = load_policy()
ISSUER = CertificateIssuer(b"secret")


def done(module_id: str, at: datetime, score: float | None = None, version: int = 1) -> Completion:
    return Completion(module_id, version, score, at)


def course(at: datetime, score: float = 80, skip: Sequence[str] = ()) -> list[Completion]:
    return [done(m, at, score if m == "MSK-ASSESS" else None) for m in POLICY.required if m not in skip]


def certified(at: datetime = T0) -> OfficerRecord:
    record = OfficerRecord("PNO1001")
    apply_decided(record, record.credit(POLICY, ISSUER, course(at), "igot_import:x", at))
    assert record.certified
    return record


def of_type(events: Sequence[Event], cls: type[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, cls)]


def test_curriculum_has_the_sop_the_21_igot_videos_and_an_assessment_in_both_languages() -> None:
    kinds = [m.kind for m in POLICY.curriculum.modules]
    assert kinds.count("sop") == 1 and kinds.count("igot_video") == 21 and kinds.count("assessment") == 1
    assert [m for m in POLICY.modules if m.startswith("IGOT-")] == [f"IGOT-{n:02d}" for n in range(1, 22)]
    assert all(m.title_hi and m.title_en and m.title_hi != m.title_en for m in POLICY.curriculum.modules)
    assert len(POLICY.required) == 23
    assert "ILLUSTRATIVE PLACEHOLDERS" in CURRICULUM_FILE.read_text(encoding="utf-8")


def test_rules_naming_a_module_the_curriculum_lacks_are_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        RULES_FILE.read_text(encoding="utf-8").replace("MSK-POCSO]", "MSK-NOPE]"), encoding="utf-8"
    )
    with pytest.raises(PolicyError, match="MSK-NOPE"):
        load_policy(rules=rules)


def test_certified_on_the_last_required_module_and_not_before() -> None:
    record = OfficerRecord("PNO1001")
    first = apply_decided(
        record, record.credit(POLICY, ISSUER, course(T0, skip=["IGOT-21"]), "igot_import:a", T0)
    )
    assert len(of_type(first, ModuleCompleted)) == 22
    assert not of_type(first, OfficerCertified) and record.missing(POLICY) == ["IGOT-21"]
    later = T0 + timedelta(days=3)
    last = apply_decided(
        record, record.credit(POLICY, ISSUER, [done("IGOT-21", later)], "igot_import:b", later)
    )
    [certificate] = of_type(last, OfficerCertified)
    assert isinstance(certificate, OfficerCertified)
    assert certificate.issued_at == later and certificate.valid_until == datetime(
        2027, 1, 13, 10, 0, tzinfo=UTC
    )
    assert "domestic_violence" in certificate.endorsements
    assert "sexual_assault" not in certificate.endorsements  # needs the specialist module
    assert certificate.certificate_id == ISSUER.certificate_id("PNO1001", 1)


def test_the_certificate_is_dated_from_the_training_that_earned_it_not_from_the_import() -> None:
    """Issue 16: an iGOT export read weeks after the course dated the certificate on the import's day."""
    trained = T0 - timedelta(days=40)
    record = OfficerRecord("PNO1001")
    earlier = T0 - timedelta(days=45)
    events = record.credit(
        POLICY, ISSUER, [*course(earlier, skip=["IGOT-21"]), done("IGOT-21", trained)], "igot_import:c", T0
    )
    [certificate] = of_type(events, OfficerCertified)
    assert isinstance(certificate, OfficerCertified)
    assert certificate.issued_at == trained  # the last required module completed the course
    assert certificate.valid_until == POLICY.valid_until(trained)


def test_a_course_finished_longer_ago_than_a_term_yields_a_certificate_already_expired() -> None:
    """Old training does not make a fresh certificate: it is issued as of its day and expires at once."""
    long_ago = T0 - timedelta(days=500)
    record = OfficerRecord("PNO1001")
    apply_decided(record, record.credit(POLICY, ISSUER, course(long_ago), "igot_import:old", T0))
    assert record.certificate is not None and record.certificate.valid_until < T0
    lapsed, renewal = record.expire(POLICY, record.certificate.certificate_id, T0)
    assert isinstance(lapsed, CertificationLapsed) and isinstance(renewal, TrainingAssigned)


def test_an_assessment_below_the_pass_mark_does_not_count_and_a_pass_later_certifies() -> None:
    record = OfficerRecord("PNO1001")
    events = apply_decided(record, record.credit(POLICY, ISSUER, course(T0, score=59.5), "programme:p1", T0))
    [assessment] = [e for e in of_type(events, ModuleCompleted) if e.module_id == "MSK-ASSESS"]  # type: ignore[attr-defined]
    assert isinstance(assessment, ModuleCompleted) and not assessment.satisfies
    assert not of_type(events, OfficerCertified) and record.missing(POLICY) == ["MSK-ASSESS"]
    retake = apply_decided(
        record, record.credit(POLICY, ISSUER, [done("MSK-ASSESS", T0, 60)], "programme:p2", T0)
    )
    assert of_type(retake, OfficerCertified)


def test_the_same_completion_twice_is_recorded_once() -> None:
    record = certified()
    again = record.credit(POLICY, ISSUER, course(T0), "igot_import:other-file", T0)
    assert again == []


def test_a_specialist_module_adds_an_endorsement_on_a_new_certificate_of_the_same_term() -> None:
    record = certified()
    first = record.certificate
    assert first is not None
    later = T0 + timedelta(days=20)
    events = apply_decided(
        record, record.credit(POLICY, ISSUER, [done("MSK-POCSO", later)], "programme:p3", later)
    )
    [renewed] = of_type(events, OfficerCertified)
    assert isinstance(renewed, OfficerCertified)
    assert "offence_against_minor" in renewed.endorsements and "sexual_assault" not in renewed.endorsements
    assert renewed.valid_until == first.valid_until and renewed.certificate_id != first.certificate_id


def test_expiry_lapses_the_certificate_and_assigns_the_renewal_modules() -> None:
    record = certified()
    assert record.certificate is not None
    until = record.certificate.valid_until
    assert record.expire(POLICY, record.certificate.certificate_id, until - timedelta(seconds=1)) == []
    events = apply_decided(record, record.expire(POLICY, record.certificate.certificate_id, until))
    lapsed, renewal = events
    assert isinstance(lapsed, CertificationLapsed) and lapsed.why == LAPSED_EXPIRED
    assert isinstance(renewal, TrainingAssigned) and renewal.reason == "renewal"
    assert renewal.modules == ["MSK-SOP", "MSK-ASSESS"] and renewal.due_at == until + timedelta(days=60)
    assert record.expire(POLICY, lapsed.certificate_id, until + timedelta(days=1)) == []  # once


def test_after_expiry_an_old_completion_does_not_renew_but_a_fresh_one_does() -> None:
    record = certified()
    assert record.certificate is not None
    until = record.certificate.valid_until
    apply_decided(record, record.expire(POLICY, record.certificate.certificate_id, until))
    now = until + timedelta(days=5)
    stale = apply_decided(
        record,
        record.credit(
            POLICY, ISSUER, [done("MSK-ASSESS", T0 + timedelta(days=1), 90)], "igot_import:old", now
        ),
    )
    assert [e.satisfies for e in of_type(stale, ModuleCompleted)] == [False]  # type: ignore[attr-defined]
    assert not of_type(stale, OfficerCertified)
    fresh = [done("MSK-SOP", now), done("MSK-ASSESS", now, 75)]
    events = apply_decided(record, record.credit(POLICY, ISSUER, fresh, "programme:refresher", now))
    [renewed] = of_type(events, OfficerCertified)
    assert isinstance(renewed, OfficerCertified) and renewed.valid_until == datetime(
        2028, 1, 15, 10, 0, tzinfo=UTC
    )


def test_renewal_inside_the_window_before_expiry_extends_the_term() -> None:
    record = certified()
    assert record.certificate is not None
    until = record.certificate.valid_until
    early = until - timedelta(days=120)  # before the 90-day window opens
    too_early = apply_decided(
        record,
        record.credit(
            POLICY, ISSUER, [done("MSK-SOP", early), done("MSK-ASSESS", early, 70)], "p:early", early
        ),
    )
    assert len(too_early) == 2 and not of_type(too_early, OfficerCertified)
    inside = until - timedelta(days=30)
    events = record.credit(
        POLICY, ISSUER, [done("MSK-SOP", inside), done("MSK-ASSESS", inside, 70)], "p:in", inside
    )
    [renewed] = of_type(events, OfficerCertified)
    assert isinstance(renewed, OfficerCertified) and renewed.valid_until > until


def test_posting_assigns_the_modules_not_yet_done_once() -> None:
    record = OfficerRecord("PNO2002")
    apply_decided(record, record.credit(POLICY, ISSUER, [done("MSK-SOP", T0)], "programme:p", T0))
    [assigned] = apply_decided(record, record.assign(POLICY, "MSK-SJP-KATRA", T0))
    assert isinstance(assigned, TrainingAssigned)
    assert "MSK-SOP" not in assigned.modules and len(assigned.modules) == 22
    assert assigned.due_at == T0 + timedelta(days=60)
    assert record.assign(POLICY, "MSK-SJP-TILHAR", T0 + timedelta(days=1)) == []
    assert certified().assign(POLICY, "MSK-SJP-KATRA", T0) == []


def test_overdue_is_reported_once_per_due_date() -> None:
    record = OfficerRecord("PNO2002")
    [assigned] = apply_decided(record, record.assign(POLICY, "MSK-SJP-KATRA", T0))
    assert isinstance(assigned, TrainingAssigned)
    assert record.report_overdue(assigned.due_at, assigned.due_at - timedelta(seconds=1)) == []
    [overdue] = apply_decided(record, record.report_overdue(assigned.due_at, assigned.due_at))
    assert isinstance(overdue, TrainingOverdue) and len(overdue.modules) == 23
    assert record.report_overdue(assigned.due_at, assigned.due_at + timedelta(days=9)) == []


def version_two(tmp_path: Path, module_id: str = "IGOT-05") -> TrainingPolicy:
    return load_policy(curriculum_with(tmp_path, **{module_id: (2, 2)}))


def test_a_new_version_requiring_retraining_lapses_the_certificate_if_not_retrained_in_time(
    tmp_path: Path,
) -> None:
    v2 = version_two(tmp_path)
    record = certified()
    assert record.certificate is not None
    term = record.certificate.valid_until
    published = T0 + timedelta(days=30)
    due = v2.retraining_due(published)
    [retrain] = apply_decided(record, record.require_retraining("IGOT-05", 2, due))
    assert isinstance(retrain, RetrainingRequired) and retrain.due_at == due
    assert record.require_retraining("IGOT-05", 2, due) == []  # asked once
    assert record.missing(v2) == ["IGOT-05"] and record.certified  # still certified until the due date
    overdue, lapsed = apply_decided(record, record.report_overdue(due, due))
    assert isinstance(overdue, TrainingOverdue) and overdue.modules == ["IGOT-05"]
    assert isinstance(lapsed, CertificationLapsed) and lapsed.why == LAPSED_RETRAINING_OVERDUE
    old = apply_decided(
        record, record.credit(v2, ISSUER, [done("IGOT-05", due, version=1)], "igot_import:old", due)
    )
    assert not of_type(old, OfficerCertified)  # the old version does not count any more
    later = due + timedelta(days=2)
    events = apply_decided(
        record, record.credit(v2, ISSUER, [done("IGOT-05", later, version=2)], "igot_import:v2", later)
    )
    [again] = of_type(events, OfficerCertified)
    assert isinstance(again, OfficerCertified) and again.valid_until == term  # same term, not extended


def test_publishing_a_module_version() -> None:
    module = Module("IGOT-05")
    spec = POLICY.modules["IGOT-05"]
    [first] = apply_decided(module, module.publish(spec))
    assert not first.requires_retraining  # type: ignore[attr-defined]
    assert module.publish(spec) == []  # same version: nothing new
    [second] = module.publish(spec.model_copy(update={"version": 2, "accepted_from_version": 2}))
    assert second.requires_retraining  # type: ignore[attr-defined]
    apply_decided(module, [second])
    with pytest.raises(DomainError) as refused:
        module.publish(spec)
    assert refused.value.code == "curriculum_behind" and refused.value.hi


def article_programme(modules: list[str] | None = None) -> ProgrammeScheduled:
    return ProgrammeScheduled(
        programme_id="SJP-2026-01-10",
        title_hi="मिशन शक्ति केन्द्रों के अधिकारी/कर्मचारियों का विशेष प्रशिक्षण",
        title_en="Special training for the staff of the Mission Shakti Kendras",
        ordered_by="SP Shahjahanpur",
        directed_by="Additional SP (Rural) Shahjahanpur",
        organised_by="Circle Officer's office, Shahjahanpur",
        venue="Reserve Police Lines auditorium, Shahjahanpur",
        date=date(2026, 1, 10),
        modules=modules or list(POLICY.required),
        invited_kendras=["MSK-SJP-KATRA"],
        district="SJP",
    )


def test_programme_credits_its_modules_only_to_those_present_and_closes_its_register() -> None:
    programme = Programme("SJP-2026-01-10")
    for event in programme.schedule(article_programme(), POLICY):
        programme.apply(event)
    marks = [Mark("PNO1", True, 72), Mark("PNO2", True, None), Mark("PNO3", False)]
    for event in programme.mark(marks, POLICY, date(2026, 1, 10)):
        programme.apply(event)
    assert programme.mark(marks[:1], POLICY, date(2026, 1, 10)) == []  # the same mark again changes nothing
    assert programme.credits(POLICY) == {}  # nothing until the register is closed
    for event in programme.complete():
        programme.apply(event)
    credits = programme.credits(POLICY)
    assert set(credits) == {"PNO1", "PNO2"}
    assert len(credits["PNO1"]) == 23 and {c.module_id for c in credits["PNO2"]} == set(POLICY.required) - {
        "MSK-ASSESS"
    }
    assert all(c.completed_at.date() == date(2026, 1, 10) for c in credits["PNO1"])
    assert {c.module_id: c.score for c in credits["PNO1"] if c.score is not None} == {"MSK-ASSESS": 72}
    with pytest.raises(DomainError, match="completed"):
        programme.mark(marks, POLICY, date(2026, 1, 10))


def test_programme_rules() -> None:
    programme = Programme("P2")
    with pytest.raises(DomainError, match="Unknown module"):
        programme.schedule(article_programme(["IGOT-99"]), POLICY)
    for event in programme.schedule(article_programme(["MSK-SOP"]), POLICY):
        programme.apply(event)
    with pytest.raises(DomainError) as no_assessment:
        programme.mark([Mark("PNO1", True, 50)], POLICY, date(2026, 1, 10))
    assert no_assessment.value.code == "score_without_assessment"


def test_certificate_ids_are_stable_and_depend_on_the_secret() -> None:
    assert ISSUER.certificate_id("PNO1", 1) == CertificateIssuer(b"secret").certificate_id("PNO1", 1)
    assert ISSUER.certificate_id("PNO1", 1) != ISSUER.certificate_id("PNO1", 2)
    assert ISSUER.certificate_id("PNO1", 1) != CertificateIssuer(b"other").certificate_id("PNO1", 1)
    assert ISSUER.certificate_id("PNO1", 1).startswith("MSKC-")
