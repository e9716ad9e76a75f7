"""Today: each role reads only its lists, each list holds what waits in this clinic (never
another's), and the patients read are audited as one read."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select

from dermaplan.app import today
from dermaplan.app.unit import Application
from dermaplan.knowledge import KnowledgeBase
from dermaplan.records import sessions
from dermaplan.records.db import transaction
from dermaplan.records.enums import CourseStatus, StaffRole
from dermaplan.records.models import Course, PlannedSession, new_id
from dermaplan.vocabulary import Modality
from tests.app.conftest import clinic_with_staff
from tests.records.factories import NOW, add_consult, add_patient, context, events, session_data

A, P, R = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION


def plan_course(engine: Engine, clinic_id: object, patient: object, consult: object) -> object:
    """A course with its first session planned yesterday (not done), its second today and
    its third tomorrow; its id."""
    with transaction(engine) as session:
        course = Course(
            id=new_id(),
            clinic_id=clinic_id,
            patient_id=patient,
            consult_id=consult,
            modality=Modality.MICRONEEDLING,
            products=[],
            sessions_planned=3,
            interval_days=1,
            status=CourseStatus.PLANNED,
            created_by="staff:test",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(course)
        session.flush()
        for number in (1, 2, 3):
            session.add(
                PlannedSession(
                    id=new_id(),
                    course_id=course.id,
                    number=number,
                    planned_on=NOW.date() + dt.timedelta(days=number - 2),
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        return course.id


def busy_clinic(engine: Engine, kb: KnowledgeBase, name: str, family: str) -> dict[StaffRole, str]:
    clinic_id, staff = clinic_with_staff(engine, name)
    patient = add_patient(engine, clinic_id, family_name=family, given_names="Claire")
    consult = add_consult(engine, clinic_id, patient)  # a draft: a plan to approve
    plan_course(engine, clinic_id, patient, consult)
    expiring = {
        "product": "ha_skin_booster",
        "lot": "HB2391",
        "expiry": (NOW.date() + dt.timedelta(days=20)).isoformat(),
        "volumes_ml": {"cheeks": 1.0},
    }
    with transaction(engine) as session:  # two draft sessions, one with a lot expiring soon
        for products in ([], [expiring]):
            data = session_data(kb, patient, staff[P], products=products)
            sessions.record_session(session, context(), clinic_id, data, kb)
    return {role: str(member) for role, member in staff.items()}


def test_each_role_reads_its_part_of_the_day(
    engine: Engine, kb: KnowledgeBase, tmp_path: object
) -> None:
    ours = busy_clinic(engine, kb, "Parc", "Moreau")
    busy_clinic(engine, kb, "Lac", "Lacombe")
    application = Application(
        _settings(engine, tmp_path),
        clock=lambda: NOW,
    )
    try:
        seen = {role: application.run(ours[role], today.overview) for role in StaffRole}
    finally:
        application.close()
    practitioner = seen[P]
    assert practitioner.day == NOW.date()
    assert practitioner.planned is not None
    # the patient comes for the session the course is due for: the first not done,
    # overdue since yesterday, not the one dated today
    assert [
        (v.patient.family_name, v.number, v.of, v.planned_on) for v in practitioner.planned.items
    ] == [("Moreau", 1, 3, NOW.date() - dt.timedelta(days=1))]
    assert practitioner.to_approve is not None
    assert [p.patient.family_name for p in practitioner.to_approve.items] == ["Moreau"]
    assert practitioner.to_sign is not None
    assert practitioner.to_sign.total == 2
    assert {s.practitioner for s in practitioner.to_sign.items} == {"practitioner of Parc"}
    assert practitioner.adverse_events is not None
    assert practitioner.adverse_events.items == []
    assert practitioner.lots_expiring is not None
    assert [lot.lot for lot in practitioner.lots_expiring.items] == ["HB2391"]
    reception = seen[R]
    assert reception.planned == practitioner.planned
    assert (reception.to_approve, reception.to_sign, reception.adverse_events) == (None,) * 3
    assert reception.lots_expiring is None
    admin = seen[A]
    assert admin.planned is None
    assert admin.lots_expiring == practitioner.lots_expiring
    read = [e for e in events(engine) if e.action == "agenda.read"]
    assert len(read) == 2  # the admin's read no patient
    assert {str(e.staff_id) for e in read} == {ours[P], ours[R]}


def _settings(engine: Engine, tmp_path: object) -> object:
    from pathlib import Path

    from dermaplan.records.settings import Settings

    url = engine.url.render_as_string(hide_password=False)
    return Settings(home=Path(str(tmp_path)) / "data", database_url=url, actor="os:tester")


def test_a_course_is_due_for_its_first_session_not_done_once_its_day_has_come(
    engine: Engine, kb: KnowledgeBase, tmp_path: object
) -> None:
    clinic_id, staff = clinic_with_staff(engine, "Parc")
    patient = add_patient(engine, clinic_id, family_name="Moreau", given_names="Claire")
    course_id = plan_course(engine, clinic_id, patient, add_consult(engine, clinic_id, patient))
    with transaction(engine) as session:
        done = sessions.record_session(
            session, context(), clinic_id, session_data(kb, patient, staff[P]), kb
        )
        first = session.scalars(
            select(PlannedSession).where(
                PlannedSession.course_id == course_id, PlannedSession.number == 1
            )
        ).one()
        first.session_id = done.id
    # its first session done: due for the second today; two days before, for nothing yet
    for at, expected in ((NOW, [(2, NOW.date())]), (NOW - dt.timedelta(days=2), [])):
        application = Application(_settings(engine, tmp_path), clock=lambda at=at: at)
        try:
            due = application.run(str(staff[R]), today.overview).planned
        finally:
            application.close()
        assert due is not None
        assert [(v.number, v.planned_on) for v in due.items] == expected
