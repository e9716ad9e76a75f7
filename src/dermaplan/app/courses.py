"""Courses: started from an approved plan with its dates, followed session by session,
cancelled with a reason. A practitioner's work."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

from dermaplan.app.principal import PRACTITIONER, Access, allowed
from dermaplan.app.reads import ReadModel
from dermaplan.app.unit import UnitOfWork
from dermaplan.knowledge.schema import Modality

if TYPE_CHECKING:
    from dermaplan.records.models import Course


class PlannedVisit(ReadModel):
    number: int
    planned_on: dt.date
    session_id: uuid.UUID | None  # the treatment session that fulfilled it


class CourseView(ReadModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    consult_id: uuid.UUID
    modality: Modality
    products: list[str]
    status: str
    sessions_planned: int
    interval_days: int
    cancelled_at: dt.datetime | None
    cancellation_reason: str | None
    planned: list[PlannedVisit]

    @classmethod
    def of(cls, course: Course) -> CourseView:
        """A course with its planned sessions loaded."""
        return cls(
            id=course.id,
            patient_id=course.patient_id,
            consult_id=course.consult_id,
            modality=course.modality,
            products=list(course.products),
            status=course.status.value,
            sessions_planned=course.sessions_planned,
            interval_days=course.interval_days,
            cancelled_at=course.cancelled_at,
            cancellation_reason=course.cancellation_reason,
            planned=[
                PlannedVisit(number=p.number, planned_on=p.planned_on, session_id=p.session_id)
                for p in course.planned_sessions
            ],
        )


@allowed(PRACTITIONER)
def start(
    uow: UnitOfWork, consult_id: uuid.UUID, modality: Modality, product: str | None = None
) -> CourseView:
    """A course of `modality` with the sessions the approved plan dates (`product` names
    which, where the plan has one for each of several preparations)."""
    from dermaplan.records.courses import start_course

    course = start_course(uow.session, uow.context, uow.clinic_id, consult_id, modality, product)
    return CourseView.of(course)


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def show(uow: UnitOfWork, course_id: uuid.UUID) -> CourseView:
    """A course's planned dates and which are done; the reading is audited."""
    from dermaplan.records.courses import read_course

    return CourseView.of(read_course(uow.session, uow.context, uow.clinic_id, course_id))


@allowed(PRACTITIONER)
def cancel(uow: UnitOfWork, course_id: uuid.UUID, reason: str) -> CourseView:
    from dermaplan.records.courses import cancel_course

    return CourseView.of(cancel_course(uow.session, uow.context, uow.clinic_id, course_id, reason))


@allowed(PRACTITIONER)
def fulfil(uow: UnitOfWork, course_id: uuid.UUID, number: int, session_id: uuid.UUID) -> CourseView:
    """Link a planned session to the treatment session that fulfilled it."""
    from dermaplan.records.courses import fulfil_planned_session

    course = fulfil_planned_session(
        uow.session, uow.context, uow.clinic_id, course_id, number, session_id
    )
    return CourseView.of(course)
