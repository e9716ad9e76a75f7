"""Outcome scores: a scale from `records.scales`, a score in its range, by a member of staff
or reported by the patient, optionally linked to a session or consult of that patient.
Services never commit (see records.service)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from dermaplan.records.audit import AuditAction, record_event
from dermaplan.records.context import Context
from dermaplan.records.enums import OutcomeScale
from dermaplan.records.errors import InvalidInput, NotFound, required
from dermaplan.records.models import Outcome, new_id
from dermaplan.records.repository import (
    ClinicRepository,
    ConsultRepository,
    OutcomeRepository,
    PatientRepository,
    SessionRepository,
    StaffRepository,
)
from dermaplan.records.scales import score_problem
from dermaplan.records.schemas import OutcomeData


class OutcomeLine(NamedTuple):
    """A score as a patient's chart and scores read it: the columns of its row
    (OutcomeRepository.rows_of_patient) that they show, named as Outcome's; no ORM object."""

    id: uuid.UUID
    patient_id: uuid.UUID
    session_id: uuid.UUID | None
    consult_id: uuid.UUID | None
    scale: OutcomeScale
    score: float
    assessed_on: dt.date
    assessor_id: uuid.UUID | None
    patient_reported: bool
    notes: str | None
    created_by: str
    created_at: dt.datetime


def outcome_state(record: Outcome | OutcomeLine) -> dict[str, Any]:
    """Everything a score says, for the audit digests (of an Outcome or an OutcomeLine)."""
    return {
        "id": record.id,
        "patient_id": record.patient_id,
        "session_id": record.session_id,
        "consult_id": record.consult_id,
        "scale": record.scale,
        "score": record.score,
        "assessed_on": record.assessed_on,
        "assessor_id": record.assessor_id,
        "patient_reported": record.patient_reported,
        "notes": record.notes,
        "created_by": record.created_by,
    }


def record_outcome(
    session: Session, context: Context, clinic_id: uuid.UUID, data: OutcomeData
) -> Outcome:
    """Store a score, checked against its scale and what it refers to; audited."""
    problem = score_problem(data.scale, data.score)  # also checked by OutcomeData.parse
    if problem:
        raise InvalidInput.one(f"score: {problem}")
    if data.assessor is None and not data.patient_reported:
        raise InvalidInput.one(
            "assessor: give the assessor (a staff id), or patient_reported: true"
        )
    patient = required(
        PatientRepository(session, clinic_id).get(data.patient),
        f"patient: no patient {data.patient}",
    )
    if data.session is not None:
        treated = SessionRepository(session, clinic_id).get(data.session)
        if treated is None or treated.patient_id != patient.id:
            raise NotFound.one(f"session: no session {data.session} for this patient")
    if data.consult is not None:
        consult = ConsultRepository(session, clinic_id).get(data.consult)
        if consult is None or consult.patient_id != patient.id:
            raise NotFound.one(f"consult: no consult {data.consult} for this patient")
    if data.assessor is not None and StaffRepository(session, clinic_id).get(data.assessor) is None:
        raise NotFound.one(f"assessor: no member of staff {data.assessor}")
    if data.date > ClinicRepository(session).today(clinic_id, context.now):
        raise InvalidInput.one(f"date: {data.date} is in the future")
    record = Outcome(
        id=new_id(),
        patient_id=patient.id,
        session_id=data.session,
        consult_id=data.consult,
        scale=data.scale,
        score=data.score,
        assessed_on=data.date,
        assessor_id=data.assessor,
        patient_reported=data.patient_reported,
        notes=data.notes,
        created_by=context.actor,
        created_at=context.now,
        updated_at=context.now,
    )
    OutcomeRepository(session, clinic_id).add(record)
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.OUTCOME_CREATE,
        "outcome",
        record.id,
        patient_id=patient.id,
        after=outcome_state(record),
    )
    return record


def patient_outcome_lines(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> list[OutcomeLine]:
    """A patient's scores in date order, not audited: the caller audits its own read."""
    rows = OutcomeRepository(session, clinic_id).rows_of_patient(patient_id)
    return [OutcomeLine._make(map(row._mapping.__getitem__, OutcomeLine._fields)) for row in rows]


def patient_outcomes(
    session: Session, context: Context, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> list[OutcomeLine]:
    """A patient's scores in date order; the read is audited."""
    patient = required(
        PatientRepository(session, clinic_id).get(patient_id, include_deleted=True),
        f"no patient {patient_id}",
    )
    found = patient_outcome_lines(session, clinic_id, patient.id)
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.OUTCOME_READ,
        "patient",
        patient.id,
        patient_id=patient.id,
        after=[outcome_state(record) for record in found],
    )
    return found
