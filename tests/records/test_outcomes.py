"""Outcome scores: checked against their scale's range, linked to the patient's own session
or consult, by an assessor or reported by the patient; audited."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from dermaplan.records import outcomes
from dermaplan.records.db import transaction
from dermaplan.records.enums import OutcomeScale
from dermaplan.records.errors import InvalidInput, NotFound
from dermaplan.records.models import Outcome
from dermaplan.records.scales import SCALES
from dermaplan.records.schemas import OutcomeData
from tests.records.factories import add_consult, add_patient, context, events, make_practitioner


@pytest.fixture
def assessor_id(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    return make_practitioner(engine, clinic_id)


@pytest.fixture
def patient_id(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    return add_patient(engine, clinic_id)


def fields(patient_id: uuid.UUID, **more: Any) -> dict[str, Any]:
    return {"patient": str(patient_id), "scale": "gais", "score": 2, "date": "2026-11-01"} | more


def record(engine: Engine, clinic_id: uuid.UUID, data: dict[str, Any]) -> Outcome:
    with transaction(engine) as session:
        return outcomes.record_outcome(session, context(), clinic_id, OutcomeData.parse(data))


def outcome_count(engine: Engine) -> int:
    with transaction(engine, write=False) as session:
        return session.scalar(select(func.count()).select_from(Outcome)) or 0


@pytest.mark.parametrize(
    ("scale", "score", "problem"),
    [
        ("gais", 0, "score: 0 is outside the GAIS range 1–5"),
        ("gais", 6, "score: 6 is outside the GAIS range 1–5"),
        ("gais", 2.5, "score: GAIS takes whole numbers, not 2.5"),
        ("goodman_baron_qualitative", 5, "outside the Goodman & Baron qualitative range 1–4"),
        ("patient_satisfaction", 11, "outside the patient satisfaction range 0–10"),
        ("mmasi", 24.5, "score: 24.5 is outside the mMASI range 0–24"),
        ("cr_smfrs", -1, "score: -1 is outside the CR-SMFRS range 0–4"),
    ],
)
def test_a_score_outside_its_scale_is_refused_and_located(
    scale: str, score: float, problem: str
) -> None:
    data = fields(uuid.uuid4(), scale=scale, score=score, patient_reported=True)
    with pytest.raises(InvalidInput) as raised:
        OutcomeData.parse(data, where="gais.yaml: ")
    [message] = raised.value.problems
    assert message.startswith("gais.yaml: score: ")
    assert problem in message


def test_every_scale_has_a_range_and_a_source() -> None:
    assert set(SCALES) == set(OutcomeScale)
    assert all(scale.source and scale.low < scale.high for scale in SCALES.values())


def test_the_service_checks_the_range_too(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    data = OutcomeData.model_construct(
        patient=patient_id, session=None, consult=None, scale=OutcomeScale.MMASI, score=30.0,
        date=context().now.date(), assessor=None, patient_reported=True, notes=None,
    )  # fmt: skip
    with pytest.raises(InvalidInput, match="score: 30 is outside"), transaction(engine) as s:
        outcomes.record_outcome(s, context(), clinic_id, data)
    assert outcome_count(engine) == 0


def test_an_assessed_and_a_patient_reported_score_are_recorded_and_audited(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, assessor_id: uuid.UUID
) -> None:
    consult_id = add_consult(engine, clinic_id, patient_id)
    by_staff = record(
        engine, clinic_id, fields(patient_id, assessor=str(assessor_id), consult=str(consult_id))
    )
    assert events(engine)[-1].action == "outcome.create"
    assert events(engine)[-1].record_id == str(by_staff.id)
    record(engine, clinic_id, fields(patient_id, scale="mmasi", score=6.6, patient_reported=True))
    with transaction(engine) as session:
        found = outcomes.patient_outcomes(session, context(), clinic_id, patient_id)
        assert [(o.scale, o.score, o.patient_reported) for o in found] == [
            (OutcomeScale.GAIS, 2, False),
            (OutcomeScale.MMASI, 6.6, True),
        ]
        assert found[0].consult_id == consult_id
    assert events(engine)[-1].action == "outcome.read"


def test_who_assessed_must_be_said_once(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    with pytest.raises(InvalidInput, match="not both"):
        OutcomeData.parse(fields(patient_id, assessor=str(uuid.uuid4()), patient_reported=True))
    # a file may leave the assessor out for the application to fill in; the records never do
    with pytest.raises(InvalidInput, match="assessor: give the assessor"):
        record(engine, clinic_id, fields(patient_id))
    assert outcome_count(engine) == 0


def test_references_must_be_the_patients_own(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, assessor_id: uuid.UUID
) -> None:
    other = add_patient(engine, clinic_id, family_name="Lima")
    consult_id = add_consult(engine, clinic_id, other)
    before = len(events(engine))
    with pytest.raises(NotFound, match="consult: no consult"):
        record(
            engine, clinic_id, fields(patient_id, consult=str(consult_id), patient_reported=True)
        )
    with pytest.raises(NotFound, match="session: no session"):
        record(
            engine, clinic_id, fields(patient_id, session=str(uuid.uuid4()), patient_reported=True)
        )
    with pytest.raises(NotFound, match="assessor: no member of staff"):
        record(engine, clinic_id, fields(patient_id, assessor=str(uuid.uuid4())))
    assert (outcome_count(engine), len(events(engine))) == (0, before)


def test_the_database_requires_an_assessor_or_the_patient(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    stored = record(engine, clinic_id, fields(patient_id, patient_reported=True))
    with (
        pytest.raises(DBAPIError, match=r"(?i)check constraint"),
        engine.begin() as connection,
    ):
        connection.execute(
            text("UPDATE outcome SET patient_reported = :no WHERE id = :id"),
            {"no": False, "id": stored.id.hex},
        )
