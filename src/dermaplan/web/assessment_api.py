"""The API of the assessment pages (web.assessment_pages), for programs: a patient added,
assessment drafts started, saved, resumed and stored as a consult, a stored consult
reviewed, approved or corrected, and the knowledge's sources. The use cases are a
practitioner's (adding a patient reception's too; a source an admin's too): anyone else
is refused (403)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from dermaplan.app import assessments, consults, patients, references
from dermaplan.app.patients import ConsultEntry
from dermaplan.records.errors import InvalidInput
from dermaplan.records.schemas import PatientData
from dermaplan.web.admin_api import CONFLICT
from dermaplan.web.api import PREFIX
from dermaplan.web.errors import RESPONSES
from dermaplan.web.knowledge import Knowledge
from dermaplan.web.security import ApiToken, run, runs

router = APIRouter(prefix=PREFIX, responses=RESPONSES, tags=["assessments"])


class NewPatient(PatientData):
    """A patient's register entry (PatientData), built when the API is: as a request body
    its schema is needed at once."""

    model_config = ConfigDict(defer_build=False)


class StoreRequest(BaseModel):
    """Store a draft as a consult: as sent here, or (no `assessment`) as last saved."""

    assessment: assessments.DraftAssessment | None = None
    reason: Annotated[str, Field(min_length=1, max_length=1000)] | None = Field(
        default=None, description="what a correction changes (required for one)"
    )


class Discard(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=1000, description="why it is set aside")]


class StoredAssessment(BaseModel):
    consult_id: uuid.UUID
    patient_id: uuid.UUID
    corrects: uuid.UUID | None
    filled: list[str] = Field(description="what the patient's record filled in")


def _data(assessment: assessments.DraftAssessment) -> dict[str, Any]:
    return assessment.model_dump(mode="json", exclude_none=True)


@router.post("/patients", status_code=201)
@runs(patients.add)
def add_patient(request: Request, member: ApiToken, patient: NewPatient) -> patients.PatientLine:
    """A new patient in the register (audited)."""
    return run(request, member, patients.add, patient)


@router.get("/patients/{patient_id}/assessments")
@runs(assessments.drafts)
def patient_drafts(
    request: Request, member: ApiToken, patient_id: uuid.UUID
) -> list[assessments.DraftLine]:
    """A patient's assessment drafts not yet stored, the latest saved first (audited)."""
    return run(request, member, assessments.drafts, patient_id)


@router.post("/patients/{patient_id}/assessments", status_code=201)
@runs(assessments.start)
def start_assessment(
    request: Request, member: ApiToken, patient_id: uuid.UUID
) -> assessments.DraftLine:
    """A new assessment draft for the patient, dated the clinic's today (audited)."""
    return run(request, member, assessments.start, patient_id)


@router.get("/assessments/{draft_id}")
@runs(assessments.resume)
def resume_assessment(
    request: Request, member: ApiToken, draft_id: uuid.UUID, knowledge: Knowledge
) -> assessments.DraftPage:
    """A draft as left: its safety questions (those its concerns need first) and the plan
    the engine makes of it on the patient's record, once a concern is placed (audited)."""
    return run(request, member, assessments.resume, draft_id, knowledge)


@router.put("/assessments/{draft_id}", responses=CONFLICT)
@runs(assessments.save)
def save_assessment(
    request: Request,
    member: ApiToken,
    draft_id: uuid.UUID,
    assessment: assessments.DraftAssessment,
    knowledge: Knowledge,
) -> assessments.DraftPage:
    """Keep the assessment as the draft; a safety answer left out is unknown, never no.
    Input that does not validate keeps nothing (422, each problem at its field); a draft
    already stored does not change (409)."""
    page = run(request, member, assessments.save, draft_id, _data(assessment), knowledge)
    if page.problems:
        raise InvalidInput([problem.problem() for problem in page.problems])
    return page


@router.post("/assessments/{draft_id}/consult", status_code=201, responses=CONFLICT)
@runs(assessments.store)
def store_assessment(
    request: Request,
    member: ApiToken,
    draft_id: uuid.UUID,
    stored: StoreRequest,
    knowledge: Knowledge,
) -> StoredAssessment:
    """Store the draft as a consult, a draft plan to approve (or, for a draft that corrects
    a consult, its correction, with the reason); the draft then changes no more (409).
    Refused, nothing changes, the draft included (the page keeps it as sent: a program
    keeps it with PUT)."""
    data = None if stored.assessment is None else _data(stored.assessment)
    saved = run(request, member, assessments.store, draft_id, knowledge, data, stored.reason)
    return StoredAssessment(
        consult_id=saved.consult_id,
        patient_id=saved.patient_id,
        corrects=saved.corrects,
        filled=saved.filled,
    )


@router.get("/consults/{consult_id}/review")
@runs(consults.review)
def review_consult(
    request: Request, member: ApiToken, consult_id: uuid.UUID
) -> consults.ConsultReview:
    """A stored consult with its patient and its whole plan (audited)."""
    return run(request, member, consults.review, consult_id)


@router.post("/consults/{consult_id}/approve", responses=CONFLICT)
@runs(consults.approve)
def approve_consult(request: Request, member: ApiToken, consult_id: uuid.UUID) -> ConsultEntry:
    """Approve a draft consult as the member the token acts as; it cannot change after
    (409 for one approved already)."""
    return run(request, member, consults.approve, consult_id)


@router.post("/consults/{consult_id}/discard", responses=CONFLICT)
@runs(consults.discard)
def discard_consult(
    request: Request, member: ApiToken, consult_id: uuid.UUID, discard: Discard
) -> ConsultEntry:
    """Discard a draft consult as the member the token acts as, with the reason: kept,
    never approved (409 for one that is not a draft)."""
    return run(request, member, consults.discard, consult_id, discard.reason)


@router.post("/consults/{consult_id}/corrections", status_code=201)
@runs(assessments.start_correction)
def correct_consult(
    request: Request, member: ApiToken, consult_id: uuid.UUID
) -> assessments.DraftLine:
    """A draft that corrects the consult, filled in with its assessment: save it, then
    store it with the reason."""
    return run(request, member, assessments.start_correction, consult_id)


@router.get("/knowledge/sources/{source_id}")
@runs(references.source)
def knowledge_source(
    request: Request,
    member: ApiToken,
    source_id: Annotated[str, Path(max_length=100)],
    knowledge: Knowledge,
) -> references.SourceEntry:
    """A source of the knowledge: its citation and the entries that cite it."""
    return run(request, member, references.source, source_id, knowledge)
