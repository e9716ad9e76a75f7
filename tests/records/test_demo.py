"""The demo clinic: realistic, reproducible by seed, loaded the same through the services
(`demo seed`) and in bulk (the benchmark), with an audit chain that verifies either way."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from dermaplan.knowledge import KnowledgeBase
from dermaplan.records import demo
from dermaplan.records.audit import verify_chain
from dermaplan.records.db import create_records_engine, transaction, upgrade
from dermaplan.records.errors import InvalidInput
from dermaplan.records.models import (
    AuditEvent,
    Consent,
    Consult,
    Patient,
    Photo,
    ProductLot,
    SessionProduct,
    SessionStatus,
    Staff,
    TreatmentSession,
)
from dermaplan.records.photos import LocalFolderStorage
from tests.records.database import fresh_database
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


def test_seeding_goes_through_the_services_and_the_bulk_load_agrees(
    engine: Engine, kb: KnowledgeBase, backend: str, tmp_path: Path, storage: LocalFolderStorage
) -> None:
    seeded = demo.seed(engine, context(), clinic(kb), storage)
    assert (seeded.staff, seeded.patients, seeded.sessions) == (len(clinic(kb).staff), 12, 30)
    assert min(seeded.consults, seeded.products, seeded.lots, seeded.consents) > 0
    with transaction(engine, write=False) as session:
        assert verify_chain(session) is None
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
        try:
            upgrade(bulk)
            assert demo.bulk_load(bulk, context(), clinic(kb), storage) == seeded
            assert contents(bulk) == contents(engine)
            with transaction(bulk, write=False) as session:
                assert verify_chain(session) is None
                last = session.scalars(
                    select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)
                ).one()
                assert last.action == "demo.import"
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
