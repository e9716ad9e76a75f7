"""Adverse events: recorded, followed up, closed and reported by practitioners; each
version is reported by the practitioner who records it, never in another's name."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from dermaplan.app.principal import PRACTITIONER, Access, allowed
from dermaplan.app.reads import ReadModel
from dermaplan.app.unit import UnitOfWork
from dermaplan.records.enums import AdverseEventStatus

if TYPE_CHECKING:
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
