"""The clinic's day at a glance: the sessions due today, and the work waiting for
someone - plans to approve, sessions to sign, adverse events still open - with the product
lots about to expire. Each list is one query scoped to the clinic, at most `LIMIT` rows
in the order they are best worked through; reading the patients' part is audited once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, and_, func, select
from sqlalchemy.orm import Session

from dermaplan.records.audit import AuditAction, record_event
from dermaplan.records.context import Context
from dermaplan.records.enums import (
    AdverseEventStatus,
    ConsultStatus,
    CourseStatus,
    SessionStatus,
)
from dermaplan.records.models import (
    AdverseEvent,
    Consult,
    Course,
    Patient,
    PlannedSession,
    ProductLot,
    Staff,
    TreatmentSession,
)
from dermaplan.records.repository import ClinicRepository

LIMIT = 100  # rows of one list; the count says how many there are in all
EXPIRY_HORIZON = dt.timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Listed:
    """Up to LIMIT rows of one list, and how many there are."""

    rows: Sequence[Row[Any]]
    total: int


class AgendaRepository:
    def __init__(self, session: Session, clinic_id: uuid.UUID) -> None:
        self.session = session
        self.clinic_id = clinic_id

    def _listed(self, statement: Select[*tuple[Any, ...]]) -> Listed:
        total = self.session.scalar(select(func.count()).select_from(statement.subquery())) or 0
        return Listed(self.session.execute(statement.limit(LIMIT)).all(), total)

    def planned(self, day: dt.date) -> Listed:
        """The session each course under way is due for by `day`: its first planned session
        not yet done, when that was planned for `day` or before (an overdue one first: the
        patient comes for it, not for the one dated today, which a session recorded
        under the course would not fulfil first). (planned session, course, patient), the
        longest overdue first, then by patient name."""
        first_open = (
            select(PlannedSession.course_id, func.min(PlannedSession.number).label("number"))
            .join(Course, Course.id == PlannedSession.course_id)
            .where(
                Course.clinic_id == self.clinic_id,
                Course.status == CourseStatus.PLANNED,
                PlannedSession.session_id.is_(None),
            )
            .group_by(PlannedSession.course_id)
            .subquery()
        )
        return self._listed(
            select(PlannedSession, Course, Patient)
            .join(
                first_open,
                and_(
                    first_open.c.course_id == PlannedSession.course_id,
                    first_open.c.number == PlannedSession.number,
                ),
            )
            .join(Course, Course.id == PlannedSession.course_id)
            .join(Patient, Patient.id == Course.patient_id)
            .where(
                Course.clinic_id == self.clinic_id,
                Course.status == CourseStatus.PLANNED,
                PlannedSession.planned_on <= day,
                Patient.deleted_at.is_(None),
            )
            .order_by(PlannedSession.planned_on, Patient.search_name, PlannedSession.id)
        )

    def drafts_to_approve(self) -> Listed:
        """(consult, patient) of every draft consult, oldest first."""
        return self._listed(
            select(Consult, Patient)
            .join(Patient, Patient.id == Consult.patient_id)
            .where(
                Patient.clinic_id == self.clinic_id,
                Consult.status == ConsultStatus.DRAFT,
                Patient.deleted_at.is_(None),
            )
            .order_by(Consult.consult_date, Consult.id)
        )

    def sessions_to_sign(self) -> Listed:
        """(session, patient, practitioner) of every draft session, oldest first."""
        return self._listed(
            select(TreatmentSession, Patient, Staff)
            .join(Patient, Patient.id == TreatmentSession.patient_id)
            .join(Staff, Staff.id == TreatmentSession.practitioner_id)
            .where(
                Patient.clinic_id == self.clinic_id,
                TreatmentSession.status == SessionStatus.DRAFT,
            )
            .order_by(TreatmentSession.performed_at, TreatmentSession.id)
        )

    def open_adverse_events(self) -> Listed:
        """(event, patient) of the adverse events still open, most severe first."""
        return self._listed(
            select(AdverseEvent, Patient)
            .join(Patient, Patient.id == AdverseEvent.patient_id)
            .where(
                Patient.clinic_id == self.clinic_id,
                AdverseEvent.status == AdverseEventStatus.OPEN,
            )
            .order_by(AdverseEvent.onset_date, AdverseEvent.id)
        )

    def lots_expiring(self, day: dt.date) -> Listed:
        """(lot,) of the clinic's lots that expire from `day` to the horizon, soonest first."""
        return self._listed(
            select(ProductLot)
            .where(
                ProductLot.clinic_id == self.clinic_id,
                ProductLot.expiry_date >= day,
                ProductLot.expiry_date <= day + EXPIRY_HORIZON,
            )
            .order_by(ProductLot.expiry_date, ProductLot.product, ProductLot.lot_number)
        )


@dataclass(frozen=True, slots=True)
class Agenda:
    day: dt.date  # today, in the clinic
    planned: Listed
    to_approve: Listed | None  # None: not read (clinical work, for practitioners)
    to_sign: Listed | None
    adverse_events: Listed | None
    lots_expiring: Listed | None


def read_agenda(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    *,
    calendar: bool,
    clinical: bool,
    stock: bool,
) -> Agenda:
    """The lists asked for: the `calendar` (today's planned sessions), the `clinical` work
    waiting, the `stock` about to expire. Patients read are audited as one read."""
    day = ClinicRepository(session).today(clinic_id, context.now)
    repository = AgendaRepository(session, clinic_id)
    empty = Listed((), 0)
    agenda = Agenda(
        day=day,
        planned=repository.planned(day) if calendar else empty,
        to_approve=repository.drafts_to_approve() if clinical else None,
        to_sign=repository.sessions_to_sign() if clinical else None,
        adverse_events=repository.open_adverse_events() if clinical else None,
        lots_expiring=repository.lots_expiring(day) if stock else None,
    )
    patients = sorted(
        {
            str(entity.id)
            for listed in (agenda.planned, agenda.to_approve, agenda.to_sign, agenda.adverse_events)
            if listed is not None
            for row in listed.rows
            for entity in row
            if isinstance(entity, Patient)
        }
    )
    if patients:
        record_event(
            session,
            context,
            clinic_id,
            AuditAction.AGENDA_READ,
            "agenda",
            None,
            after={"day": day, "patients": patients},
        )
    return agenda
