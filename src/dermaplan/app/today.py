"""Today: what the clinic has on, for whoever opens the day. Reception sees the calendar
(the sessions planned for today); a practitioner sees it too, with the clinical work
waiting (plans to approve, sessions to sign, adverse events still open); practitioners and
admins see the product lots about to expire. Each role gets only its part: the lists a
role may not see are not read at all."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from dermaplan.app.principal import ADMIN, EVERYONE, FRONT_DESK, PRACTITIONER, Access, allowed
from dermaplan.app.reads import ReadModel
from dermaplan.app.unit import UnitOfWork

if TYPE_CHECKING:
    from collections.abc import Callable

    from dermaplan.records.agenda import Listed
    from dermaplan.records.models import Patient

T = TypeVar("T")


class PatientRef(ReadModel):
    id: uuid.UUID
    family_name: str
    given_names: str

    @classmethod
    def of(cls, patient: Patient) -> PatientRef:
        return cls(id=patient.id, family_name=patient.family_name, given_names=patient.given_names)


class Section(ReadModel, Generic[T]):
    """Up to a hundred items of a list, and how many there are in all."""

    items: list[T]
    total: int


class PlannedVisit(ReadModel):
    patient: PatientRef
    course_id: uuid.UUID
    modality: str
    number: int  # the planned session's place in its course
    of: int  # the course's planned sessions
    planned_on: dt.date  # the day it was planned for: the day of `Today`, or before (overdue)


class PlanToApprove(ReadModel):
    patient: PatientRef
    consult_id: uuid.UUID
    date: dt.date


class SessionToSign(ReadModel):
    patient: PatientRef
    session_id: uuid.UUID
    performed_at: dt.datetime
    practitioner: str


class OpenAdverseEvent(ReadModel):
    patient: PatientRef
    event_id: uuid.UUID
    onset_date: dt.date
    event_type: str
    severity: str


class ExpiringLot(ReadModel):
    product: str
    lot: str
    expiry_date: dt.date


class Today(ReadModel):
    """The day in the clinic; a list left out (None) is not the member's to see."""

    day: dt.date
    planned: Section[PlannedVisit] | None
    to_approve: Section[PlanToApprove] | None
    to_sign: Section[SessionToSign] | None
    adverse_events: Section[OpenAdverseEvent] | None
    lots_expiring: Section[ExpiringLot] | None


def _section(listed: Listed | None, item: Callable[[Any], T]) -> Section[T] | None:
    if listed is None:
        return None
    return Section[T](items=[item(row) for row in listed.rows], total=listed.total)


@allowed(*EVERYONE, access=Access.AUDITED_READ)
def overview(uow: UnitOfWork) -> Today:
    """The day's lists the member's role may see; the patients read are audited."""
    from dermaplan.records.agenda import read_agenda

    roles = uow.acting.roles
    calendar = bool(roles & FRONT_DESK)
    agenda = read_agenda(
        uow.session,
        uow.context,
        uow.clinic_id,
        calendar=calendar,
        clinical=PRACTITIONER in roles,
        stock=bool(roles & {ADMIN, PRACTITIONER}),
    )
    return Today(
        day=agenda.day,
        planned=_section(
            agenda.planned if calendar else None,
            lambda row: PlannedVisit(
                patient=PatientRef.of(row.Patient),
                course_id=row.Course.id,
                modality=row.Course.modality.value,
                number=row.PlannedSession.number,
                of=row.Course.sessions_planned,
                planned_on=row.PlannedSession.planned_on,
            ),
        ),
        to_approve=_section(
            agenda.to_approve,
            lambda row: PlanToApprove(
                patient=PatientRef.of(row.Patient),
                consult_id=row.Consult.id,
                date=row.Consult.consult_date,
            ),
        ),
        to_sign=_section(
            agenda.to_sign,
            lambda row: SessionToSign(
                patient=PatientRef.of(row.Patient),
                session_id=row.TreatmentSession.id,
                performed_at=row.TreatmentSession.performed_at,
                practitioner=row.Staff.name,
            ),
        ),
        adverse_events=_section(
            agenda.adverse_events,
            lambda row: OpenAdverseEvent(
                patient=PatientRef.of(row.Patient),
                event_id=row.AdverseEvent.id,
                onset_date=row.AdverseEvent.onset_date,
                event_type=row.AdverseEvent.event_type.value,
                severity=row.AdverseEvent.severity.value,
            ),
        ),
        lots_expiring=_section(
            agenda.lots_expiring,
            lambda row: ExpiringLot(
                product=row.ProductLot.product,
                lot=row.ProductLot.lot_number,
                expiry_date=row.ProductLot.expiry_date,
            ),
        ),
    )
