"""The demo clinic: realistic, reproducible by seed, loaded the same through the services
(`demo seed`) and in bulk (the benchmark), with an audit chain that verifies either way."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from dermaplan.knowledge import KnowledgeBase
from dermaplan.records import demo
from dermaplan.records.db import create_records_engine, transaction, upgrade
from dermaplan.records.enums import (
    AdverseEventStatus,
    ConsultStatus,
    OutcomeScale,
    PhotoScope,
    SessionStatus,
    Severity,
)
from dermaplan.records.errors import InvalidInput
from dermaplan.records.integrity import verify_log
from dermaplan.records.models import (
    AdverseEvent,
    AuditEvent,
    Consent,
    Consult,
    Course,
    Outcome,
    Patient,
    Photo,
    ProductLot,
    SessionProduct,
    Staff,
    TreatmentSession,
)
from dermaplan.records.photos import LocalFolderStorage, patient_photo_scopes
from dermaplan.records.plans import StoredPlan
from dermaplan.records.scales import score_problem
from tests.records.database import fresh_database, keyed, keys_of
from tests.records.factories import NOW, add_patient, context, counts


def clinic(kb: KnowledgeBase, seed: int = 7) -> demo.DemoClinic:
    return demo.DemoClinic(kb, seed=seed, patients=12, sessions=30, today=NOW.date())


def contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """What the clinic holds, without ids or creation times (which differ by loader)."""
    statements = {
        "staff": select(Staff.name, Staff.role),
        "patients": select(Patient.search_name, Patient.birth_date, Patient.allergies),
        "consults": select(Consult.status, Consult.plan_json),
        "sessions": select(
            TreatmentSession.performed_at,
            TreatmentSession.status,
            TreatmentSession.areas,
            TreatmentSession.depths_mm,
            TreatmentSession.consult_id.is_(None),
        ),
        "products": select(SessionProduct.product, SessionProduct.volumes_ml),
        "lots": select(ProductLot.lot_number, ProductLot.expiry_date),
        "photos": select(Photo.area, Photo.stage, Photo.taken_at, Photo.storage_key),
        "consents": select(
            Consent.kind,
            Consent.status,
            Consent.signed_at,
            Consent.signer_name,
            Consent.signature_text,
        ),
    }
    with transaction(engine, write=False) as session:
        return {
            name: sorted((tuple(row) for row in session.execute(statement)), key=repr)
            for name, statement in statements.items()
        }


def test_the_same_seed_makes_the_same_clinic(kb: KnowledgeBase) -> None:
    first = list(clinic(kb).patients())
    assert first == list(clinic(kb).patients())
    assert first != list(clinic(kb, seed=8).patients())
    assert sum(len(patient.sessions) for patient in first) == 30


def test_the_demo_clinic_has_courses_outcomes_and_mostly_mild_closed_events(
    kb: KnowledgeBase,
) -> None:
    patients = list(
        demo.DemoClinic(kb, seed=5, patients=400, sessions=1200, today=NOW.date()).patients()
    )
    started = [p for p in patients if p.course is not None]
    assert started
    assert all(p.consult is not None and p.follows_consult for p in started)
    # sessions follow a plan only where it has their course and gives all they give
    following = [p for p in patients if p.follows_consult and p.sessions]
    assert following
    for patient in following:
        assert patient.consult is not None
        courses = StoredPlan.read(patient.consult.plan_json, "the demo's plan").courses
        for visit in patient.sessions:
            given = {use["product"] for use in visit.fields["products"]}
            planned = [c for c in courses if c.modality == visit.fields["modality"]]
            assert any(set(c.products) <= given for c in planned)
            assert given <= {product for c in planned for product in c.products}
    scores = [o for p in patients for o in p.outcomes]
    assert {o.scale for o in scores} == {OutcomeScale.GAIS, OutcomeScale.PATIENT_SATISFACTION}
    assert all(score_problem(o.scale, o.score) is None and o.day <= NOW.date() for o in scores)
    for patient in patients:  # scored after the last session, by its practitioner or the patient
        for score in patient.outcomes:
            last = patient.sessions[-1]
            assert score.day > last.fields["performed_at"].date()
            assert score.assessor in (None, last.practitioner)
    events = [(p, e) for p in patients for e in p.adverse_events]
    assert 0.02 * len(patients) < len(events) < 0.1 * len(patients)
    mild = [e for _, e in events if e.fields["severity"] is Severity.MILD]
    still_open = [e for _, e in events if not e.fields["closed"]]
    assert len(mild) > 0.7 * len(events)
    assert 0 < len(still_open) < 0.4 * len(events)
    for patient, event in events:  # on or after its session, with that session's lots
        visit = patient.sessions[event.session].fields
        assert visit["performed_at"].date() <= event.fields["onset"] <= NOW.date()
        assert [lot["lot"] for lot in event.fields["lots"]] == [
            use["lot"] for use in visit["products"]
        ]


def test_seeding_goes_through_the_services_and_the_bulk_load_agrees(
    engine: Engine, kb: KnowledgeBase, backend: str, tmp_path: Path, storage: LocalFolderStorage
) -> None:
    seeded = demo.seed(engine, context(), clinic(kb), storage)
    assert (seeded.staff, seeded.patients, seeded.sessions) == (len(clinic(kb).staff), 12, 30)
    assert min(seeded.consults, seeded.products, seeded.lots, seeded.consents) > 0
    assert min(seeded.courses, seeded.outcomes, seeded.adverse_events) > 0
    with transaction(engine, write=False) as session:
        report = verify_log(session, None, keyring=keys_of(engine), photos=storage)
        assert (report.intact, report.changed) == (True, [])
        # Courses come from approved plans and start before the sessions that follow them.
        for course in session.scalars(select(Course)):
            consult = session.get_one(Consult, course.consult_id)
            assert consult.status is ConsultStatus.APPROVED
            first = session.scalar(
                select(func.min(TreatmentSession.performed_at)).where(
                    TreatmentSession.consult_id == consult.id
                )
            )
            assert first is None or course.created_at < first
        # A session that follows a consult gives what its plan's course of the modality gives.
        followed = session.scalars(
            select(TreatmentSession).where(TreatmentSession.consult_id.is_not(None))
        )
        for record in followed:
            consult = session.get_one(Consult, record.consult_id)
            courses = StoredPlan.read(consult.plan_json, "the demo's plan").courses
            given = set(
                session.scalars(
                    select(SessionProduct.product).where(SessionProduct.session_id == record.id)
                )
            )
            assert any(
                c.modality is record.modality and set(c.products) <= given for c in courses
            ), (given, courses)
        assert session.scalar(select(func.count()).select_from(Outcome)) == seeded.outcomes
        # Every before-photo may be looked at in the clinical record, and for nothing else.
        photographed = set(session.scalars(select(Photo.patient_id)))
        assert photographed
        for patient in photographed:
            assert patient_photo_scopes(session, clinic_of(session, patient), patient) == {
                PhotoScope.CLINICAL_RECORD: True,
                PhotoScope.TEACHING: False,
                PhotoScope.MARKETING: False,
            }
        events = session.scalars(select(AdverseEvent)).all()
        assert len(events) == seeded.adverse_events
        assert all(e.status is not AdverseEventStatus.SUPERSEDED for e in events)
        # Safe and complete: signed without a reason, all but the last two days' drafts.
        cutoff = NOW - dt.timedelta(days=demo.UNSIGNED_DAYS)
        unsigned = session.scalar(
            select(func.count())
            .select_from(TreatmentSession)
            .where(
                (TreatmentSession.status == SessionStatus.DRAFT)
                == (TreatmentSession.performed_at < cutoff)
            )
        )
        assert unsigned == 0
        photographed = session.scalar(select(func.count()).select_from(Photo))
    assert photographed == sum(
        len(s.fields["areas"]) for p in clinic(kb).patients() for s in p.sessions
    )
    assert len([f for f in storage.root.rglob("*") if f.is_file()]) == 1  # one placeholder
    (tmp_path / "bulk").mkdir()
    with fresh_database(backend, tmp_path / "bulk") as url:
        bulk = create_records_engine(url)
        keyed(bulk, tmp_path / "bulk" / "audit-keyring.json")
        try:
            upgrade(bulk)
            # The bulk load leaves courses, outcomes and adverse events out.
            left_out = {"courses": 0, "outcomes": 0, "adverse_events": 0}
            assert demo.bulk_load(bulk, context(), clinic(kb), storage) == dataclasses.replace(
                seeded, **left_out
            )
            assert contents(bulk) == contents(engine)
            with transaction(bulk, write=False) as session:
                report = verify_log(session, None, keyring=keys_of(bulk), photos=storage)
                assert (report.intact, report.changed) == (True, [])
                last = session.execute(
                    select(AuditEvent.action, AuditEvent.record_type)
                    .order_by(AuditEvent.id.desc())
                    .limit(1 + len(demo.IMPORTED))
                ).all()
                imported = {("records.import", kind) for _, kind in demo.IMPORTED}
                assert {tuple(row) for row in last} == {("demo.import", "clinic")} | imported
                if backend == "postgresql":  # analysed, so the planner uses the indexes
                    analysed = session.scalar(
                        text(
                            "SELECT count(*) FROM pg_stats WHERE schemaname = current_schema()"
                            " AND tablename = 'session_product'"
                        )
                    )
                    assert analysed
        finally:
            bulk.dispose()


def test_a_database_with_patients_is_refused(
    engine: Engine, clinic_id: object, kb: KnowledgeBase, storage: LocalFolderStorage
) -> None:
    add_patient(engine, clinic_id)  # type: ignore[arg-type]
    before = counts(engine)
    for load in (demo.seed, demo.bulk_load):
        with pytest.raises(InvalidInput, match="already holds 1 patients"):
            load(engine, context(), clinic(kb), storage)
    assert counts(engine) == before


def clinic_of(session: Session, patient: uuid.UUID) -> uuid.UUID:
    return session.get_one(Patient, patient).clinic_id
