"""Plain functions that make what tests need: contexts, patient data, consult documents."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import Engine, func, select

from dermaplan.records import service
from dermaplan.records.context import Context
from dermaplan.records.db import transaction
from dermaplan.records.models import AuditEvent, Consult, Patient, StaffRole
from dermaplan.records.schemas import ConsultDocument, PatientData

NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
KNOWLEDGE = "kb-test-0001"


def context(actor: str = "staff:test", now: dt.datetime = NOW) -> Context:
    return Context(actor=actor, now=now)


def patient_data(**fields: Any) -> PatientData:
    values: dict[str, Any] = {"family_name": "Moreau", "given_names": "Claire"} | fields
    return PatientData.parse(values)


TODAY = NOW.date()


def document(note: str = "first", consult_date: dt.date = TODAY) -> ConsultDocument:
    """A stand-in for the engine's output: the records layer stores it, never reads it."""
    return ConsultDocument(
        consult_date=consult_date,
        assessment_json=json.dumps({"consult_date": consult_date.isoformat(), "notes": note}),
        plan_json=json.dumps({"knowledge_version": KNOWLEDGE, "note": note}),
        knowledge_version=KNOWLEDGE,
    )


def make_clinic(engine: Engine) -> uuid.UUID:
    with transaction(engine) as session:
        return service.create_clinic(session, context(), "Clinique du Parc").id


def make_practitioner(
    engine: Engine, clinic_id: uuid.UUID, role: StaffRole = StaffRole.PRACTITIONER
) -> uuid.UUID:
    with transaction(engine) as session:
        return service.add_staff(session, context(), clinic_id, "Dr Ana Lima", role, "GMC 1234").id


def add_patient(engine: Engine, clinic_id: uuid.UUID, **fields: Any) -> uuid.UUID:
    with transaction(engine) as session:
        return service.create_patient(session, context(), clinic_id, patient_data(**fields)).id


def add_consult(engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> uuid.UUID:
    with transaction(engine) as session:
        return service.create_consult(session, context(), clinic_id, patient_id, document()).id


def counts(engine: Engine) -> tuple[int, int, int]:
    """(patients, consults, audit events) as committed."""
    with transaction(engine, write=False) as session:
        return (
            session.scalar(select(func.count()).select_from(Patient)) or 0,
            session.scalar(select(func.count()).select_from(Consult)) or 0,
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def events(engine: Engine) -> list[AuditEvent]:
    with transaction(engine, write=False) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
