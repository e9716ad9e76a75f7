"""Courses: the sessions an approved plan schedules for one modality, and which were done.

A course is started only from an approved consult whose plan has a course for the modality
and decided it may proceed; its planned sessions are the plan's dates. A plan gives each
mesotherapy preparation its own course: where it has several, the course to start is named
by one of its products. Each planned session
is fulfilled by a recorded treatment session of the same patient and modality that gave
every product of the course's preparation (a session of another preparation is no session of
this course): recording a session under the course's consult fulfils the next open one of
the course it gives, and one can be linked by hand;
when all are, the course is completed. A planned session stays linked to the version of the
session that fulfilled it; an amendment replaces that version as the record of the same
treatment (reached through its `amends_id`), so it fulfils nothing twice. A cancellation
needs a reason. Services never commit (see records.service).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Row
from sqlalchemy.orm import Session

from dermaplan.clinical.plan import PROCEED
from dermaplan.knowledge.schema import Modality
from dermaplan.records.audit import AuditAction
from dermaplan.records.context import Context
from dermaplan.records.enums import ConsultStatus, CourseStatus, SessionStatus
from dermaplan.records.errors import InvalidInput, NotFound, required
from dermaplan.records.lifecycle import RecordKind, written_reason
from dermaplan.records.models import Course, PlannedSession, TreatmentSession, new_id
from dermaplan.records.plans import StoredPlan
from dermaplan.records.repository import (
    ConsultRepository,
    CourseRepository,
    SessionRepository,
    nested,
)

PROCEEDING = frozenset(decision.value for decision in PROCEED)


class PlannedLine(NamedTuple):
    """A planned session of a course as the timeline reads it."""

    number: int
    planned_on: dt.date
    session_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class CourseLine:
    """A course as the timeline reads it: its columns (named as Course's) and its planned
    sessions, by number; no ORM objects."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    consult_id: uuid.UUID
    modality: Modality
    products: list[str]
    sessions_planned: int
    interval_days: int
    status: CourseStatus
    created_by: str
    cancelled_at: dt.datetime | None
    cancelled_by: str | None
    cancellation_reason: str | None
    created_at: dt.datetime
    planned_sessions: list[PlannedLine]


def course_lines(rows: Iterable[Row[*tuple[Any, ...]]]) -> list[CourseLine]:
    """The courses of CourseRepository.rows_of_patient, a row per planned session."""
    return nested(
        rows,
        lambda row: CourseLine(
            row.id,
            row.clinic_id,
            row.patient_id,
            row.consult_id,
            row.modality,
            row.products,
            row.sessions_planned,
            row.interval_days,
            row.status,
            row.created_by,
            row.cancelled_at,
            row.cancelled_by,
            row.cancellation_reason,
            row.created_at,
            [],
        ),
        lambda row: (
            None
            if row.planned_number is None
            else PlannedLine(row.planned_number, row.planned_on, row.planned_session_id)
        ),
        lambda line: line.planned_sessions,
    )


def course_state(course: Course | CourseLine) -> dict[str, Any]:
    """Everything a course says, planned sessions included, for the audit digests (of a
    Course or a CourseLine)."""
    return {
        "id": course.id,
        "clinic_id": course.clinic_id,
        "patient_id": course.patient_id,
        "consult_id": course.consult_id,
        "modality": course.modality,
        # only when named, so a course from before revision 0008 keeps its audited digest
        **({"products": course.products} if course.products else {}),
        "sessions_planned": course.sessions_planned,
        "interval_days": course.interval_days,
        "status": course.status,
        "created_by": course.created_by,
        "cancelled_at": course.cancelled_at,
        "cancelled_by": course.cancelled_by,
        "cancellation_reason": course.cancellation_reason,
        "planned_sessions": [
            {"number": p.number, "planned_on": p.planned_on, "session_id": p.session_id}
            for p in course.planned_sessions
        ],
    }


# course_state also takes a CourseLine; the kind audits Courses only
_COURSE_STATE: Callable[[Course], dict[str, Any]] = course_state
_COURSES = RecordKind("course", "course", _COURSE_STATE)


def _course(repository: CourseRepository, course_id: uuid.UUID) -> Course:
    return required(repository.get(course_id), f"no course {course_id}")


def _planned_course(
    plan: StoredPlan, modality: Modality, product: str | None
) -> tuple[int, list[dt.date], list[str]]:
    """The plan's interval, dates and products for the modality's course (the one giving
    `product`, where the plan has several), or why a course cannot start."""
    decision = plan.decision(modality)
    if decision not in PROCEEDING:
        found = f"decided {decision}" if decision is not None else "made no decision"
        raise InvalidInput.one(
            f"the plan {found} for {modality.value}: a course needs it recommended, "
            "suitable or with caution"
        )
    entries = [c for c in plan.courses if c.modality is modality]
    if product is not None:
        entries = [c for c in entries if product in c.products]
    if not entries:
        giving = f" giving {product}" if product is not None else ""
        raise InvalidInput.one(f"the plan has no course of {modality.value}{giving}")
    if len(entries) > 1:
        named = "; ".join(", ".join(c.products) for c in entries)
        raise InvalidInput.one(
            f"the plan has {len(entries)} {modality.value} courses ({named}): name the one "
            "to start by a product it gives"
        )
    entry = entries[0]
    if not entry.dates:
        raise InvalidInput.one(
            f"the plan's {modality.value} course has no dates (a provisional plan, or no "
            "start date): answer its open questions and correct the consult"
        )
    return entry.interval_days, sorted(entry.dates), list(entry.products)


def start_course(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    consult_id: uuid.UUID,
    modality: Modality,
    product: str | None = None,
) -> Course:
    """A course of `modality` with the sessions the approved plan dates; `product` names
    which, where the plan has one for each of several preparations."""
    consult = required(
        ConsultRepository(session, clinic_id).get(consult_id), f"no consult {consult_id}"
    )
    if consult.status is not ConsultStatus.APPROVED:
        raise InvalidInput.one(
            f"consult {consult.id} is {consult.status.value}: "
            "a course starts only from an approved consult"
        )
    plan = StoredPlan.read(consult.plan_json, f"consult {consult.id}'s plan")
    interval, dates, products = _planned_course(plan, modality, product)
    courses = CourseRepository(session, clinic_id)
    for existing in courses.of_consult(consult.id):
        if (
            existing.modality is modality
            and existing.products == products
            and existing.status is not CourseStatus.CANCELLED
        ):
            raise InvalidInput.one(
                f"consult {consult.id} already has this {modality.value} course: {existing.id}"
            )
    course = Course(
        id=new_id(),
        clinic_id=clinic_id,
        patient_id=consult.patient_id,
        consult_id=consult.id,
        modality=modality,
        products=products,
        sessions_planned=len(dates),
        interval_days=interval,
        status=CourseStatus.PLANNED,
        created_by=context.actor,
        created_at=context.now,
        updated_at=context.now,
    )
    course.planned_sessions = [
        PlannedSession(
            id=new_id(),
            number=number,
            planned_on=day,
            created_at=context.now,
            updated_at=context.now,
        )
        for number, day in enumerate(dates, start=1)
    ]
    courses.add(course)
    _COURSES.audit(session, context, clinic_id, AuditAction.COURSE_CREATE, course)
    return course


def read_course(
    session: Session, context: Context, clinic_id: uuid.UUID, course_id: uuid.UUID
) -> Course:
    course = _course(CourseRepository(session, clinic_id), course_id)
    _COURSES.audit(session, context, clinic_id, AuditAction.COURSE_READ, course)
    return course


def _treatment(sessions: SessionRepository, session_id: uuid.UUID) -> TreatmentSession:
    return required(sessions.get(session_id), f"no session {session_id}")


def cancel_course(
    session: Session, context: Context, clinic_id: uuid.UUID, course_id: uuid.UUID, reason: str
) -> Course:
    written = written_reason(reason, "a cancellation")
    course = _course(CourseRepository(session, clinic_id), course_id)
    if course.status is not CourseStatus.PLANNED:
        raise _COURSES.frozen(course)
    with _COURSES.change(session, context, clinic_id, AuditAction.COURSE_CANCEL, course):
        course.status = CourseStatus.CANCELLED
        course.cancelled_at = context.now
        course.cancelled_by = context.actor
        course.cancellation_reason = written
    return course


def fulfil_planned_session(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    course_id: uuid.UUID,
    number: int,
    session_id: uuid.UUID,
) -> Course:
    """Link planned session `number` to the treatment session that fulfilled it; the
    course is completed when every planned session is fulfilled."""
    courses = CourseRepository(session, clinic_id)
    course = _course(courses, course_id)
    if course.status is not CourseStatus.PLANNED:
        raise _COURSES.frozen(course)
    planned = next((p for p in course.planned_sessions if p.number == number), None)
    if planned is None:
        raise NotFound.one(
            f"course {course.id} has no planned session {number} "
            f"(it has 1 to {course.sessions_planned})"
        )
    if planned.session_id is not None:
        raise InvalidInput.one(
            f"planned session {number} is already fulfilled by session {planned.session_id}"
        )
    sessions = SessionRepository(session, clinic_id)
    record = _treatment(sessions, session_id)
    if record.patient_id != course.patient_id:
        raise InvalidInput.one(f"session {record.id} is another patient's, not this course's")
    if record.modality is not course.modality:
        raise InvalidInput.one(
            f"session {record.id} is {record.modality.value}; the course is {course.modality.value}"
        )
    if not _gives(record, course):
        raise InvalidInput.one(
            f"session {record.id} did not give {', '.join(_missing(record, course))}: "
            f"the course is of {', '.join(course.products)}"
        )
    if record.status is SessionStatus.AMENDED:
        raise InvalidInput.one(f"session {record.id} was replaced by an amendment: link that")
    versions = [record]
    while versions[-1].amends_id is not None:
        versions.append(_treatment(sessions, versions[-1].amends_id))
    linked = courses.fulfilled_by([version.id for version in versions])
    if linked is not None:
        amends = "" if linked.session_id == record.id else f"amends {linked.session_id}, which "
        raise InvalidInput.one(
            f"session {record.id} {amends}already fulfils planned session {linked.number} "
            f"of course {linked.course_id}"
        )
    with _COURSES.change(session, context, clinic_id, AuditAction.COURSE_FULFIL, course):
        planned.session_id = record.id
        planned.updated_at = context.now
        if all(p.session_id is not None for p in course.planned_sessions):
            course.status = CourseStatus.COMPLETED
    return course


def fulfil_next_planned_session(
    session: Session, context: Context, clinic_id: uuid.UUID, record: TreatmentSession
) -> PlannedSession | None:
    """The next open planned session of the active course of `record`'s consult, modality
    and products, now fulfilled by `record`; None when there is no such course."""
    if record.consult_id is None:
        return None
    courses = CourseRepository(session, clinic_id)
    active = next(
        (
            course
            for course in courses.of_consult(record.consult_id)
            if course.modality is record.modality
            and course.status is CourseStatus.PLANNED
            and _gives(record, course)
        ),
        None,
    )
    if active is None:
        return None
    course = _course(courses, active.id)
    number = next(p.number for p in course.planned_sessions if p.session_id is None)
    fulfilled = fulfil_planned_session(session, context, clinic_id, course.id, number, record.id)
    return next(p for p in fulfilled.planned_sessions if p.number == number)


def _missing(record: TreatmentSession, course: Course) -> list[str]:
    """The products of the course's preparation that the session did not give."""
    given = {line.product for line in record.products}
    return [product for product in course.products if product not in given]


def _gives(record: TreatmentSession, course: Course) -> bool:
    return not _missing(record, course)


def fulfilment(
    session: Session, clinic_id: uuid.UUID, session_id: uuid.UUID
) -> PlannedSession | None:
    """The planned session this treatment session fulfils, if any."""
    return CourseRepository(session, clinic_id).fulfilled_by([session_id])
