"""Consults: drafts change, approved plans are frozen, corrections supersede and link back."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from dermaplan.clinical.assessment import parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import plan_json
from dermaplan.knowledge import KnowledgeBase
from dermaplan.records import service
from dermaplan.records.db import transaction
from dermaplan.records.enums import ConsultStatus, StaffRole
from dermaplan.records.errors import ImmutableRecord, InvalidInput, NotFound
from dermaplan.records.repository import ConsultRepository
from dermaplan.records.schemas import ConsultDocument
from tests.conftest import healthy
from tests.records.factories import (
    NOW,
    add_consult,
    add_patient,
    context,
    counts,
    document,
    events,
    make_practitioner,
)


@pytest.fixture
def patient_id(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    return add_patient(engine, clinic_id)


@pytest.fixture
def practitioner_id(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    return make_practitioner(engine, clinic_id)


def approve(engine: Engine, clinic_id: uuid.UUID, consult_id: uuid.UUID, by: uuid.UUID) -> None:
    with transaction(engine) as session:
        service.approve_consult(session, context(), clinic_id, consult_id, by)


def status_of(engine: Engine, clinic_id: uuid.UUID, consult_id: uuid.UUID) -> ConsultStatus:
    with transaction(engine, write=False) as session:
        consult = ConsultRepository(session, clinic_id).get(consult_id)
        assert consult is not None
        return consult.status


def test_a_draft_can_be_revised_then_approved(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID
) -> None:
    consult_id = add_consult(engine, clinic_id, patient_id)
    with transaction(engine) as session:
        revised = service.revise_draft(
            session, context(), clinic_id, consult_id, document("second look")
        )
        assert json.loads(revised.plan_json)["note"] == "second look"
    approve(engine, clinic_id, consult_id, practitioner_id)
    with transaction(engine) as session:
        consult = service.read_consult(session, context(), clinic_id, consult_id)
        assert consult.status is ConsultStatus.APPROVED
        assert (consult.approved_by_id, consult.approved_at) == (practitioner_id, NOW)
    actions = [event.action for event in events(engine)[-4:]]
    assert actions == ["consult.create", "consult.update", "consult.approve", "consult.read"]


def test_an_approved_consult_cannot_be_changed(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID
) -> None:
    consult_id = add_consult(engine, clinic_id, patient_id)
    approve(engine, clinic_id, consult_id, practitioner_id)
    before = counts(engine)
    with (
        pytest.raises(ImmutableRecord, match="approved and cannot change; record a correction"),
        transaction(engine) as session,
    ):
        service.revise_draft(session, context(), clinic_id, consult_id, document("edited"))
    with pytest.raises(ImmutableRecord), transaction(engine) as session:
        service.approve_consult(session, context(), clinic_id, consult_id, practitioner_id)
    assert counts(engine) == before


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consult SET plan_json = '{}'",
        "UPDATE consult SET approved_at = NULL, approved_by_id = NULL, status = 'draft'",
        "UPDATE consult SET knowledge_version = 'other'",
        "DELETE FROM consult",
    ],
)
def test_the_database_itself_refuses_to_rewrite_an_approved_consult(
    engine: Engine,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    statement: str,
) -> None:
    consult_id = add_consult(engine, clinic_id, patient_id)
    approve(engine, clinic_id, consult_id, practitioner_id)
    with pytest.raises(DBAPIError, match="immutable"), engine.begin() as connection:
        connection.execute(text(statement))
    assert status_of(engine, clinic_id, consult_id) is ConsultStatus.APPROVED


def test_a_draft_may_change_in_sql_too(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    add_consult(engine, clinic_id, patient_id)
    with engine.begin() as connection:
        assert connection.execute(text("UPDATE consult SET plan_json = plan_json")).rowcount == 1


def test_a_correction_supersedes_the_approved_consult_once_approved(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID
) -> None:
    original = add_consult(engine, clinic_id, patient_id)
    approve(engine, clinic_id, original, practitioner_id)
    with transaction(engine) as session:
        correction = service.correct_consult(
            session, context(), clinic_id, original, document("right area"), "wrong area noted"
        ).id
    assert status_of(engine, clinic_id, original) is ConsultStatus.APPROVED  # still in force
    approve(engine, clinic_id, correction, practitioner_id)
    assert status_of(engine, clinic_id, original) is ConsultStatus.SUPERSEDED
    with transaction(engine) as session:
        patient = service.read_patient(session, context(), clinic_id, patient_id)
        history = [(c.id, c.status, c.supersedes_id, c.correction_reason) for c in patient.consults]
    assert history == [
        (original, ConsultStatus.SUPERSEDED, None, None),
        (correction, ConsultStatus.APPROVED, original, "wrong area noted"),
    ]
    superseded, approved = events(engine)[-3:-1]
    assert (superseded.action, superseded.record_id) == ("consult.supersede", str(original))
    assert (approved.action, approved.record_id) == ("consult.approve", str(correction))
    with pytest.raises(ImmutableRecord, match="superseded"), transaction(engine) as session:
        service.revise_draft(session, context(), clinic_id, original, document("late edit"))


def test_corrections_are_refused_when_they_make_no_sense(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID
) -> None:
    draft = add_consult(engine, clinic_id, patient_id)
    with pytest.raises(InvalidInput, match="is a draft: revise it"), transaction(engine) as session:
        service.correct_consult(session, context(), clinic_id, draft, document(), "why")
    approve(engine, clinic_id, draft, practitioner_id)
    with pytest.raises(InvalidInput, match="needs a reason"), transaction(engine) as session:
        service.correct_consult(session, context(), clinic_id, draft, document(), "  ")
    with transaction(engine) as session:
        pending = service.correct_consult(session, context(), clinic_id, draft, document(), "a")
    with (
        pytest.raises(InvalidInput, match=f"correction in progress: {pending.id}"),
        transaction(engine) as session,
    ):
        service.correct_consult(session, context(), clinic_id, draft, document(), "b")
    approve(engine, clinic_id, pending.id, practitioner_id)
    with (
        pytest.raises(InvalidInput, match=f"already superseded by {pending.id}"),
        transaction(engine) as session,
    ):
        service.correct_consult(session, context(), clinic_id, draft, document(), "c")


def test_only_an_active_practitioner_of_the_clinic_approves(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    consult_id = add_consult(engine, clinic_id, patient_id)
    receptionist = make_practitioner(engine, clinic_id, StaffRole.RECEPTION)
    with pytest.raises(InvalidInput, match="not an active practitioner"):
        approve(engine, clinic_id, consult_id, receptionist)
    with pytest.raises(NotFound, match="no member of staff"):
        approve(engine, clinic_id, consult_id, uuid.uuid4())
    assert status_of(engine, clinic_id, consult_id) is ConsultStatus.DRAFT


def test_a_plan_must_carry_the_knowledge_version_it_is_stored_with(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    bad = ConsultDocument(
        consult_date=NOW.date(),
        assessment_json="[]",
        plan_json='{"knowledge_version": "another"}',
        knowledge_version="kb-1",
    )
    before = counts(engine)
    with pytest.raises(InvalidInput) as raised, transaction(engine) as session:
        service.create_consult(session, context(), clinic_id, patient_id, bad)
    assert raised.value.problems == [
        "assessment_json: must be a JSON object",
        "plan_json: its knowledge_version is not the one given",
    ]
    assert counts(engine) == before


def test_the_engine_output_is_stored_byte_for_byte(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, kb: KnowledgeBase
) -> None:
    assessment = parse_assessment(healthy(kb), kb)
    plan = consult(assessment, kb)
    with transaction(engine) as session:
        stored = service.create_consult(
            session,
            context(),
            clinic_id,
            patient_id,
            ConsultDocument.from_engine(assessment, plan),
        ).id
    with transaction(engine) as session:
        record = service.read_consult(session, context(), clinic_id, stored)
        assert record.plan_json == plan_json(plan)
        assert record.knowledge_version == kb.version
        assert record.consult_date == assessment.consult_date
