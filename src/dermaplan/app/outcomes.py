"""Outcome scores: recorded and read by practitioners; a score they assess is in their own
name, never another's (a patient-reported score names no assessor)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

from dermaplan.app.adverse import AdverseEventEntry, current_events
from dermaplan.app.principal import PRACTITIONER, Access, allowed
from dermaplan.app.reads import ReadModel
from dermaplan.app.unit import UnitOfWork
from dermaplan.records.enums import OutcomeScale

if TYPE_CHECKING:
    from dermaplan.records.models import Outcome
    from dermaplan.records.outcomes import OutcomeLine
    from dermaplan.records.schemas import OutcomeData


class OutcomeEntry(ReadModel):
    """A score with its scale's label, who assessed it and what it follows."""

    id: uuid.UUID
    patient_id: uuid.UUID
    scale: OutcomeScale
    label: str  # the scale as people name it: GAIS, CR-SMFRS, ...
    score: float
    assessed_on: dt.date
    assessor_id: uuid.UUID | None  # None: patient-reported
    assessor: str | None  # their name
    patient_reported: bool
    session_id: uuid.UUID | None
    consult_id: uuid.UUID | None
    notes: str | None

    @classmethod
    def of(cls, outcome: Outcome | OutcomeLine, names: dict[uuid.UUID, str]) -> OutcomeEntry:
        """`names`: the clinic's staff by id, to name the assessor."""
        from dermaplan.records.scales import SCALES

        return cls(
            id=outcome.id,
            patient_id=outcome.patient_id,
            scale=outcome.scale,
            label=SCALES[outcome.scale].label,
            score=outcome.score,
            assessed_on=outcome.assessed_on,
            assessor_id=outcome.assessor_id,
            assessor=names.get(outcome.assessor_id) if outcome.assessor_id else None,
            patient_reported=outcome.patient_reported,
            session_id=outcome.session_id,
            consult_id=outcome.consult_id,
            notes=outcome.notes,
        )


class OutcomeSeries(ReadModel):
    """A patient's scores on one scale, in date order, with the scale's range and which end
    of it is better (the records' scales), to draw them over time."""

    scale: OutcomeScale
    label: str
    low: float
    high: float
    better: str  # "lower" or "higher"
    scores: list[OutcomeEntry]


class FollowUp(ReadModel):
    """How a patient has done: their scores scale by scale, and their adverse events as they
    stand."""

    patient_id: uuid.UUID
    series: list[OutcomeSeries]
    adverse_events: list[AdverseEventEntry]


@allowed(PRACTITIONER)
def record(uow: UnitOfWork, data: OutcomeData) -> OutcomeEntry:
    """Store a score, checked against its scale: assessed by the practitioner acting, or
    reported by the patient."""
    from dermaplan.records.outcomes import record_outcome

    if not data.patient_reported:
        data = data.model_copy(update={"assessor": uow.in_own_name("assessor", data.assessor)})
    stored = record_outcome(uow.session, uow.context, uow.clinic_id, data)
    return OutcomeEntry.of(stored, {uow.acting.staff_id: uow.acting.name})


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def of_patient(uow: UnitOfWork, patient_id: uuid.UUID) -> list[OutcomeEntry]:
    """A patient's scores in date order; the reading is audited."""
    return _scores(uow, patient_id)


def _scores(uow: UnitOfWork, patient_id: uuid.UUID) -> list[OutcomeEntry]:
    from dermaplan.records.outcomes import patient_outcomes
    from dermaplan.records.service import clinic_staff

    found = patient_outcomes(uow.session, uow.context, uow.clinic_id, patient_id)
    names = {member.id: member.name for member in clinic_staff(uow.session, uow.clinic_id)}
    return [OutcomeEntry.of(outcome, names) for outcome in found]


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def follow_up(uow: UnitOfWork, patient_id: uuid.UUID) -> FollowUp:
    """A patient's scores by scale and adverse events; both readings are audited."""
    from dermaplan.records.scales import SCALES

    scores = _scores(uow, patient_id)
    series = [
        OutcomeSeries(
            scale=scale,
            label=SCALES[scale].label,
            low=SCALES[scale].low,
            high=SCALES[scale].high,
            better=SCALES[scale].better,
            scores=[entry for entry in scores if entry.scale is scale],
        )
        for scale in OutcomeScale
        if any(entry.scale is scale for entry in scores)
    ]
    events = current_events(uow.session, uow.context, uow.clinic_id, patient_id)
    return FollowUp(patient_id=patient_id, series=series, adverse_events=events)
