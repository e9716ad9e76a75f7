"""Adverse events: recorded, followed up, closed and reported by practitioners; each
version is reported by the practitioner who records it, never in another's name."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from dermaplan.app.principal import PRACTITIONER, Access, allowed
from dermaplan.app.reads import ReadModel
from dermaplan.app.unit import UnitOfWork
from dermaplan.records.enums import (
    AdverseEventStatus,
    AdverseEventType,
    Causality,
    EventOutcome,
    Severity,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dermaplan.records.context import Context
    from dermaplan.records.schemas import AdverseEventData


class AdverseEventVersion(ReadModel):
    """One version of an event: its status, who reported it and what it follows."""

    id: uuid.UUID
    patient_id: uuid.UUID
    status: AdverseEventStatus
    reporter_id: uuid.UUID
    follows_id: uuid.UUID | None
    follow_up_reason: str | None
    closed_at: dt.datetime | None


class InvolvedLot(ReadModel):
    product: str
    lot: str


class AdverseEventEntry(ReadModel):
    """An event as it stands (its latest version), with what a follow-up starts from."""

    id: uuid.UUID
    patient_id: uuid.UUID
    session_id: uuid.UUID | None
    status: AdverseEventStatus
    type: AdverseEventType
    severity: Severity
    onset: dt.date
    causality: Causality
    treatment: str | None
    outcome: EventOutcome
    description: str
    follows_id: uuid.UUID | None
    follow_up_reason: str | None
    closed_at: dt.datetime | None
    lots: list[InvolvedLot]


class AdverseEventReport(ReadModel):
    """The report for a manufacturer or regulator (records.adverse's document, format
    dermaplan.adverse_event_report/1): the patient as initials, age and sex only."""

    id: uuid.UUID
    document: dict[str, Any]


def _reported(uow: UnitOfWork, data: AdverseEventData) -> AdverseEventData:
    return data.model_copy(update={"reporter": uow.in_own_name("reporter", data.reporter)})


@allowed(PRACTITIONER)
def record(uow: UnitOfWork, data: AdverseEventData) -> AdverseEventVersion:
    """Store an event reported by the practitioner acting, open (or closed at once)."""
    from dermaplan.records.adverse import record_adverse_event

    stored = record_adverse_event(uow.session, uow.context, uow.clinic_id, _reported(uow, data))
    return AdverseEventVersion.model_validate(stored)


@allowed(PRACTITIONER)
def follow_up(
    uow: UnitOfWork, event_id: uuid.UUID, data: AdverseEventData, reason: str
) -> AdverseEventVersion:
    """A new version of an event, reported by the practitioner acting; the one it follows
    is kept, superseded."""
    from dermaplan.records.adverse import follow_up_adverse_event

    stored = follow_up_adverse_event(
        uow.session, uow.context, uow.clinic_id, event_id, _reported(uow, data), reason
    )
    return AdverseEventVersion.model_validate(stored)


@allowed(PRACTITIONER)
def close(uow: UnitOfWork, event_id: uuid.UUID) -> AdverseEventVersion:
    """Freeze an open event; from then on it changes only by a follow-up."""
    from dermaplan.records.adverse import close_adverse_event

    closed = close_adverse_event(uow.session, uow.context, uow.clinic_id, event_id)
    return AdverseEventVersion.model_validate(closed)


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def report(uow: UnitOfWork, event_id: uuid.UUID) -> AdverseEventReport:
    """The de-identified report of one version; producing it is audited."""
    from dermaplan.records.adverse import adverse_event_report

    document = adverse_event_report(uow.session, uow.context, uow.clinic_id, event_id)
    return AdverseEventReport(id=event_id, document=document)


def current_events(
    session: Session, context: Context, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> list[AdverseEventEntry]:
    """A patient's events as they stand (superseded versions left out), oldest onset first;
    the reading is audited. For the use cases that show a patient's follow-up."""
    from dermaplan.records.adverse import adverse_event_lines
    from dermaplan.records.audit import AuditAction, record_event
    from dermaplan.records.errors import required
    from dermaplan.records.repository import AdverseEventRepository, PatientRepository

    patient = required(
        PatientRepository(session, clinic_id).get(patient_id, include_deleted=True),
        f"no patient {patient_id}",
    )
    rows = AdverseEventRepository(session, clinic_id).rows_of_patient(patient.id)
    found = [
        event
        for event in adverse_event_lines(rows)
        if event.status is not AdverseEventStatus.SUPERSEDED
    ]
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.ADVERSE_EVENT_READ,
        "patient",
        patient.id,
        patient_id=patient.id,
        after={"adverse_events": [str(event.id) for event in found]},
    )
    return [
        AdverseEventEntry(
            id=event.id,
            patient_id=event.patient_id,
            session_id=event.session_id,
            status=event.status,
            type=event.event_type,
            severity=event.severity,
            onset=event.onset_date,
            causality=event.causality,
            treatment=event.treatment_given,
            outcome=event.outcome,
            description=event.description,
            follows_id=event.follows_id,
            follow_up_reason=event.follow_up_reason,
            closed_at=event.closed_at,
            lots=[InvolvedLot(product=lot.product, lot=lot.lot_number) for lot in event.lots],
        )
        for event in found
    ]
