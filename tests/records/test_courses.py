"""Courses: started only from an approved plan that lets the modality proceed, with the
plan's dates as planned sessions; cancelled with a reason; fulfilled by the same patient's
sessions; every change audited in the same transaction."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality
from dermaplan.records import courses, service, sessions
from dermaplan.records.db import transaction
from dermaplan.records.enums import CourseStatus
from dermaplan.records.errors import ImmutableRecord, InvalidInput
from dermaplan.records.models import Course, PlannedSession
from dermaplan.records.photos import PhotoStorage
from dermaplan.records.repository import SessionRepository
from dermaplan.records.schemas import ConsultDocument, SessionData
from tests.records.factories import (
    KNOWLEDGE,
    TODAY,
    add_consent,
    add_patient,
    add_photos,
    context,
    events,
    make_practitioner,
    session_data,
)

DATES = ["2026-11-09", "2026-12-07", "2027-01-04"]


def plan(microneedling: str = "recommended") -> dict[str, Any]:
    """The parts of the engine's plan a course reads."""
    return {
        "schema_version": "2",
        "knowledge_version": KNOWLEDGE,
        "decisions": [
            {"modality": "mesotherapy", "decision": "not_indicated"},
            {"modality": "microneedling", "decision": microneedling},
        ],
        "courses": [
            {
                "modality": "microneedling",
                "templates": ["acne_scars_microneedling"],
                "sessions": 3,
                "interval_days": 28,
                "interval_range_days": [28, 42],
                "dates": DATES,
                "judge_results_on": "2027-04-04",
                "maintenance": [],
                "notes": [],
                "sources": [],
            }
        ],
    }


@pytest.fixture
def practitioner_id(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    return make_practitioner(engine, clinic_id)


@pytest.fixture
def patient_id(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    patient_id = add_patient(engine, clinic_id, allergies=[])
    add_consent(engine, clinic_id, patient_id)
    return patient_id


def make_consult(
    engine: Engine,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID | None,
    document: dict[str, Any],
) -> uuid.UUID:
    """A consult with this plan, approved by the practitioner (a draft without one)."""
    stored = ConsultDocument(
        consult_date=TODAY,
        assessment_json=json.dumps({"consult_date": TODAY.isoformat()}),
        plan_json=json.dumps(document),
        knowledge_version=KNOWLEDGE,
    )
    with transaction(engine) as session:
        consult = service.create_consult(session, context(), clinic_id, patient_id, stored)
        if practitioner_id is not None:
            service.approve_consult(session, context(), clinic_id, consult.id, practitioner_id)
        return consult.id


def start(engine: Engine, clinic_id: uuid.UUID, consult_id: uuid.UUID) -> uuid.UUID:
    with transaction(engine) as session:
        return courses.start_course(
            session, context(), clinic_id, consult_id, Modality.MICRONEEDLING
        ).id


def course_counts(engine: Engine) -> tuple[int, int, int]:
    """(courses, planned sessions, audit events) as committed."""
    with transaction(engine, write=False) as session:
        return (
            session.scalar(select(func.count()).select_from(Course)) or 0,
            session.scalar(select(func.count()).select_from(PlannedSession)) or 0,
            len(events(engine)),
        )


def record_session(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> uuid.UUID:
    data = session_data(kb, patient_id, practitioner_id)
    with transaction(engine) as session:
        return sessions.record_session(session, context(), clinic_id, data, kb).id


def test_a_course_from_an_approved_consult_gets_the_plans_dates(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID
) -> None:
    consult_id = make_consult(engine, clinic_id, patient_id, practitioner_id, plan())
    course_id = start(engine, clinic_id, consult_id)
    with transaction(engine) as session:
        course = courses.read_course(session, context(), clinic_id, course_id)
        assert course.status is CourseStatus.PLANNED
        assert (course.patient_id, course.consult_id) == (patient_id, consult_id)
        assert (course.sessions_planned, course.interval_days) == (3, 28)
        assert [(p.number, p.planned_on.isoformat()) for p in course.planned_sessions] == [
            (1, DATES[0]),
            (2, DATES[1]),
            (3, DATES[2]),
        ]
        assert all(p.session_id is None for p in course.planned_sessions)
    actions = [(e.action, e.record_id, e.patient_id) for e in events(engine)[-2:]]
    assert actions == [
        ("course.create", str(course_id), patient_id),
        ("course.read", str(course_id), patient_id),
    ]


def test_a_draft_consult_is_refused_and_nothing_written(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    consult_id = make_consult(engine, clinic_id, patient_id, None, plan())
    before = course_counts(engine)
    with pytest.raises(InvalidInput, match="is draft: a course starts only from an approved"):
        start(engine, clinic_id, consult_id)
    assert course_counts(engine) == before


@pytest.mark.parametrize("decision", ["contraindicated", "deferred", "not_indicated"])
def test_a_modality_the_plan_does_not_proceed_with_is_refused(
    engine: Engine,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    decision: str,
) -> None:
    consult_id = make_consult(engine, clinic_id, patient_id, practitioner_id, plan(decision))
    before = course_counts(engine)
    with pytest.raises(InvalidInput, match=f"the plan decided {decision} for microneedling"):
        start(engine, clinic_id, consult_id)
    assert course_counts(engine) == before


def test_a_plan_without_a_course_of_the_modality_is_refused(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID
) -> None:
    consult_id = make_consult(
        engine, clinic_id, patient_id, practitioner_id, plan() | {"courses": []}
    )
    with pytest.raises(InvalidInput, match="no course of microneedling"):
        start(engine, clinic_id, consult_id)


def test_a_second_course_of_the_same_modality_is_refused(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID
) -> None:
    consult_id = make_consult(engine, clinic_id, patient_id, practitioner_id, plan())
    first = start(engine, clinic_id, consult_id)
    with pytest.raises(InvalidInput, match=f"already has this microneedling course: {first}"):
        start(engine, clinic_id, consult_id)


def _meso_course(products: list[str], sessions: int, interval: int) -> dict[str, Any]:
    dates = [
        (dt.date(2026, 12, 1) + dt.timedelta(days=interval * i)).isoformat()
        for i in range(sessions)
    ]
    return {
        "modality": "mesotherapy",
        "products": products,
        "sessions": sessions,
        "dates": dates,
        "interval_days": interval,
    }


def two_preparations(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID
) -> uuid.UUID:
    """An approved consult whose plan has a mesotherapy course for each of two
    preparations: a skin booster (3 sessions) and tranexamic acid (6)."""
    document = plan()
    document["decisions"][0]["decision"] = "suitable"
    document["courses"] = [
        _meso_course(["ha_skin_booster"], 3, 28),
        _meso_course(["txa_4mg_ml"], 6, 14),
    ]
    return make_consult(engine, clinic_id, patient_id, practitioner_id, document)


def test_a_plan_with_a_course_per_preparation_starts_the_one_named(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID
) -> None:
    consult_id = two_preparations(engine, clinic_id, patient_id, practitioner_id)
    with (
        pytest.raises(InvalidInput, match=r"2 mesotherapy courses .*name the one to start"),
        transaction(engine) as session,
    ):
        courses.start_course(session, context(), clinic_id, consult_id, Modality.MESOTHERAPY)
    with transaction(engine) as session:
        started = courses.start_course(
            session, context(), clinic_id, consult_id, Modality.MESOTHERAPY, "txa_4mg_ml"
        )
        assert (started.products, started.sessions_planned, started.interval_days) == (
            ["txa_4mg_ml"],
            6,
            14,
        )
        other = courses.start_course(
            session, context(), clinic_id, consult_id, Modality.MESOTHERAPY, "ha_skin_booster"
        )
        assert other.sessions_planned == 3
    with (
        pytest.raises(InvalidInput, match="already has this mesotherapy course"),
        transaction(engine) as session,
    ):
        courses.start_course(
            session, context(), clinic_id, consult_id, Modality.MESOTHERAPY, "txa_4mg_ml"
        )
    with (
        pytest.raises(InvalidInput, match="no course of mesotherapy giving vitamin_c"),
        transaction(engine) as session,
    ):
        courses.start_course(
            session, context(), clinic_id, consult_id, Modality.MESOTHERAPY, "vitamin_c"
        )


def _meso_session(
    kb: KnowledgeBase, patient_id: uuid.UUID, practitioner_id: uuid.UUID, consult: uuid.UUID,
    *products: str,
) -> SessionData:  # fmt: skip
    """A mesotherapy session under the consult, giving `products` on the cheeks."""
    return session_data(
        kb, patient_id, practitioner_id, consult=str(consult), modality="mesotherapy",
        areas=["cheeks"], device=None, needle_cartridge=None, depths_mm={}, passes={},
        deviations=[],
        products=[
            {"product": name, "lot": f"L{index}", "expiry": "2027-03-31",
             "volumes_ml": {"cheeks": 1.0}}
            for index, name in enumerate(products)
        ],
    )  # fmt: skip


def test_a_session_fulfils_only_the_course_of_the_preparation_it_gave(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:
    """Two courses from one plan, one per preparation: a session of tranexamic acid (with
    an additive) counts for the tranexamic acid course, never for the skin booster's; one
    of a preparation the plan has no course for counts for none, and is refused when linked
    by hand."""
    consult_id = two_preparations(engine, clinic_id, patient_id, practitioner_id)
    with transaction(engine) as session:
        booster, txa = (
            courses.start_course(
                session, context(), clinic_id, consult_id, Modality.MESOTHERAPY, product
            ).id
            for product in ("ha_skin_booster", "txa_4mg_ml")
        )
    given = _meso_session(
        kb, patient_id, practitioner_id, consult_id, "txa_4mg_ml", "lidocaine_additive"
    )
    other = _meso_session(kb, patient_id, practitioner_id, consult_id, "vitamin_c_brightening")
    with transaction(engine) as session:
        first = sessions.record_session(session, context(), clinic_id, given, kb).id
        stray = sessions.record_session(session, context(), clinic_id, other, kb).id
    assert fulfilled(engine, txa)[:2] == [first, None]
    assert fulfilled(engine, booster) == [None, None, None]
    with transaction(engine, write=False) as session:
        assert courses.fulfilment(session, clinic_id, stray) is None
    for course_id in (booster, txa):
        with (
            pytest.raises(InvalidInput, match=r"did not give .*: the course is of"),
            transaction(engine) as session,
        ):
            courses.fulfil_planned_session(session, context(), clinic_id, course_id, 2, stray)
    # and before it is signed, the check lists it as given beyond the approved plan
    with transaction(engine, write=False) as session:
        found = SessionRepository(session, clinic_id).get(stray)
        assert found is not None
        assert (
            "products[0]: vitamin_c_brightening is not in the approved plan the session "
            "follows, which gives ha_skin_booster, txa_4mg_ml for mesotherapy"
        ) in sessions.completeness(session, clinic_id, found, kb)


def test_cancel_needs_a_reason_and_freezes_the_course(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID
) -> None:
    course_id = start(
        engine, clinic_id, make_consult(engine, clinic_id, patient_id, practitioner_id, plan())
    )
    before = course_counts(engine)
    with (
        pytest.raises(InvalidInput, match="a cancellation needs a reason"),
        transaction(engine) as session,
    ):
        courses.cancel_course(session, context(), clinic_id, course_id, "  ")
    assert course_counts(engine) == before
    later = context(now=context().now + dt.timedelta(days=3))
    with transaction(engine) as session:
        cancelled = courses.cancel_course(session, later, clinic_id, course_id, "moved abroad")
        assert cancelled.status is CourseStatus.CANCELLED
        assert cancelled.cancellation_reason == "moved abroad"
        assert cancelled.cancelled_at == later.now
    assert events(engine)[-1].action == "course.cancel"
    assert events(engine)[-1].before_digest is not None
    with (
        pytest.raises(ImmutableRecord, match="is cancelled and cannot change"),
        transaction(engine) as session,
    ):
        courses.cancel_course(session, context(), clinic_id, course_id, "again")


def test_fulfilling_every_planned_session_completes_the_course(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:
    course_id = start(
        engine, clinic_id, make_consult(engine, clinic_id, patient_id, practitioner_id, plan())
    )
    for number in (1, 2, 3):
        treated = record_session(engine, clinic_id, kb, patient_id, practitioner_id)
        with transaction(engine) as session:
            course = courses.fulfil_planned_session(
                session, context(), clinic_id, course_id, number, treated
            )
            assert course.planned_sessions[number - 1].session_id == treated
        assert events(engine)[-1].action == "course.fulfil"
    assert course.status is CourseStatus.COMPLETED


def test_linking_a_session_of_another_patient_is_refused(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:
    course_id = start(
        engine, clinic_id, make_consult(engine, clinic_id, patient_id, practitioner_id, plan())
    )
    other = add_patient(engine, clinic_id, family_name="Durand", allergies=[])
    add_consent(engine, clinic_id, other)
    theirs = record_session(engine, clinic_id, kb, other, practitioner_id)
    before = course_counts(engine)
    with pytest.raises(InvalidInput, match="is another patient's"), transaction(engine) as session:
        courses.fulfil_planned_session(session, context(), clinic_id, course_id, 1, theirs)
    assert course_counts(engine) == before
    with transaction(engine, write=False) as session:
        planned = session.scalars(select(PlannedSession.session_id)).all()
        assert planned == [None, None, None]


def test_the_cli_starts_and_shows_a_course(
    engine: Engine,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from dermaplan.cli import app

    monkeypatch.setenv("DERMAPLAN_DATABASE_URL", database_url)
    monkeypatch.setenv("DERMAPLAN_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("DERMAPLAN_STAFF", str(practitioner_id))
    consult_id = make_consult(engine, clinic_id, patient_id, practitioner_id, plan())
    runner = CliRunner()
    started = runner.invoke(app, ["courses", "start", str(consult_id), "microneedling"])
    assert started.exit_code == 0, started.stderr
    course_id = started.stdout.split()[1]
    shown = runner.invoke(app, ["courses", "show", course_id])
    assert shown.exit_code == 0, shown.stderr
    assert "microneedling  planned" in shown.stdout
    for number, day in enumerate(DATES, start=1):
        assert f"  {number}  {day}  to do" in shown.stdout
    refused = runner.invoke(app, ["courses", "start", str(consult_id), "mesotherapy"])
    assert refused.exit_code == 2
    assert "the plan decided not_indicated for mesotherapy" in refused.stderr


def record_under(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    consult_id: uuid.UUID,
) -> uuid.UUID:
    # needling alone, as the plan's microneedling course gives no product
    data = session_data(kb, patient_id, practitioner_id, consult=str(consult_id), products=[])
    with transaction(engine) as session:
        return sessions.record_session(session, context(), clinic_id, data, kb).id


def fulfilled(engine: Engine, course_id: uuid.UUID) -> list[uuid.UUID | None]:
    with transaction(engine, write=False) as session:
        return list(
            session.scalars(
                select(PlannedSession.session_id)
                .where(PlannedSession.course_id == course_id)
                .order_by(PlannedSession.number)
            )
        )


def test_a_session_under_the_courses_consult_fulfils_the_next_planned_session(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:
    consult_id = make_consult(engine, clinic_id, patient_id, practitioner_id, plan())
    course_id = start(engine, clinic_id, consult_id)
    treated = [
        record_under(engine, clinic_id, kb, patient_id, practitioner_id, consult_id)
        for _ in range(3)
    ]
    assert fulfilled(engine, course_id) == treated
    actions = [(e.action, e.record_id) for e in events(engine)[-2:]]
    assert actions == [("session.create", str(treated[2])), ("course.fulfil", str(course_id))]
    with transaction(engine, write=False) as session:
        assert session.get_one(Course, course_id).status is CourseStatus.COMPLETED
    # the course is completed: a fourth session is recorded as any other
    fourth = record_under(engine, clinic_id, kb, patient_id, practitioner_id, consult_id)
    assert events(engine)[-1].action == "session.create"
    with transaction(engine, write=False) as session:
        assert courses.fulfilment(session, clinic_id, fourth) is None


def test_a_session_with_no_active_course_is_recorded_as_before(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:
    consult_id = make_consult(engine, clinic_id, patient_id, practitioner_id, plan())
    course_id = start(engine, clinic_id, consult_id)
    record_session(engine, clinic_id, kb, patient_id, practitioner_id)  # under no consult
    with transaction(engine) as session:
        courses.cancel_course(session, context(), clinic_id, course_id, "moved away")
    record_under(engine, clinic_id, kb, patient_id, practitioner_id, consult_id)
    assert events(engine)[-1].action == "session.create"
    assert fulfilled(engine, course_id) == [None, None, None]


def test_an_amendment_keeps_the_fulfilment_of_the_session_it_replaces(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    storage: PhotoStorage,
) -> None:
    consult_id = make_consult(engine, clinic_id, patient_id, practitioner_id, plan())
    course_id = start(engine, clinic_id, consult_id)
    original = record_under(engine, clinic_id, kb, patient_id, practitioner_id, consult_id)
    add_photos(engine, clinic_id, storage, patient_id, "forehead", "cheeks")
    fixed = session_data(
        kb, patient_id, practitioner_id, consult=str(consult_id), notes="fixed", products=[]
    )
    with transaction(engine) as session:
        sessions.sign_session(session, context(), clinic_id, original, kb)
        amendment = sessions.amend_session(
            session, context(), clinic_id, original, fixed, kb, "wrong notes"
        ).id
        sessions.sign_session(session, context(), clinic_id, amendment, kb)
    assert fulfilled(engine, course_id) == [original, None, None]
    before = course_counts(engine)
    with (
        pytest.raises(
            InvalidInput,
            match=f"session {amendment} amends {original}, which already fulfils planned "
            f"session 1 of course {course_id}",
        ),
        transaction(engine) as session,
    ):
        courses.fulfil_planned_session(session, context(), clinic_id, course_id, 2, amendment)
    assert course_counts(engine) == before


def test_a_session_fulfils_one_planned_session_across_every_course(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:
    first = start(
        engine, clinic_id, make_consult(engine, clinic_id, patient_id, practitioner_id, plan())
    )
    second = start(
        engine, clinic_id, make_consult(engine, clinic_id, patient_id, practitioner_id, plan())
    )
    treated = record_session(engine, clinic_id, kb, patient_id, practitioner_id)
    with transaction(engine) as session:
        courses.fulfil_planned_session(session, context(), clinic_id, first, 2, treated)
    before = course_counts(engine)
    for course_id in (first, second):
        with (
            pytest.raises(
                InvalidInput,
                match=f"^session {treated} already fulfils planned session 2 of course {first}$",
            ),
            transaction(engine) as session,
        ):
            courses.fulfil_planned_session(session, context(), clinic_id, course_id, 1, treated)
    assert course_counts(engine) == before
