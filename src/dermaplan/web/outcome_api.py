"""The outcome API under /api/v1: a patient's scores and adverse events, a score recorded,
adverse events recorded, followed up and closed, and a lot's recall; what the outcome pages
do (web.outcome_pages). The bodies are the records' own (the outcome and adverse event
files of the command line), checked as the command line checks them."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from dermaplan.app import adverse, outcomes, sessions
from dermaplan.records.schemas import AdverseEventData, OutcomeData
from dermaplan.web.api import PREFIX
from dermaplan.web.errors import RESPONSES, ErrorBody
from dermaplan.web.security import ApiToken, run, runs

router = APIRouter(prefix=PREFIX, responses=RESPONSES, tags=["outcomes"])

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "the event is closed or superseded"}
}


class OutcomeBody(OutcomeData):
    """A score, as the command line's outcome file has it (its schema built at once: a
    request body's may not be deferred)."""

    model_config = OutcomeData.model_config | ConfigDict(defer_build=False)


class EventBody(AdverseEventData):
    """An adverse event, as the command line's adverse event file has it."""

    model_config = AdverseEventData.model_config | ConfigDict(defer_build=False)


class EventFollowUp(BaseModel):
    event: EventBody
    reason: Annotated[str, Field(min_length=1, max_length=2000, description="why it changes")]


@router.get("/patients/{patient_id}/outcomes")
@runs(outcomes.follow_up)
def patient_follow_up(
    request: Request, member: ApiToken, patient_id: uuid.UUID
) -> outcomes.FollowUp:
    """A patient's scores scale by scale, and their adverse events as they stand (audited)."""
    return run(request, member, outcomes.follow_up, patient_id)


@router.post("/outcomes", status_code=201)
@runs(outcomes.record)
def record_outcome(request: Request, member: ApiToken, score: OutcomeBody) -> outcomes.OutcomeEntry:
    """A score on its scale, assessed by the member (or `patient_reported`); audited."""
    data = OutcomeData.parse(score.model_dump(mode="json"))
    return run(request, member, outcomes.record, data)


@router.post("/adverse-events", status_code=201)
@runs(adverse.record)
def record_event(
    request: Request, member: ApiToken, event: EventBody
) -> adverse.AdverseEventVersion:
    """An adverse event reported by the member, open unless `closed` (audited)."""
    data = AdverseEventData.parse(event.model_dump(mode="json"))
    return run(request, member, adverse.record, data)


@router.post("/adverse-events/{event_id}/follow-up", status_code=201, responses=CONFLICT)
@runs(adverse.follow_up)
def follow_up_event(
    request: Request, member: ApiToken, event_id: uuid.UUID, follow: EventFollowUp
) -> adverse.AdverseEventVersion:
    """A new version of an event, with the reason; the one it follows is kept (audited)."""
    data = AdverseEventData.parse(follow.event.model_dump(mode="json"))
    return run(request, member, adverse.follow_up, event_id, data, follow.reason)


@router.post("/adverse-events/{event_id}/close", responses=CONFLICT)
@runs(adverse.close)
def close_event(
    request: Request, member: ApiToken, event_id: uuid.UUID
) -> adverse.AdverseEventVersion:
    """Freeze an open event; from then on it changes only by a follow-up (audited)."""
    return run(request, member, adverse.close, event_id)


@router.get("/recall")
@runs(sessions.recall)
def recall_lot(
    request: Request,
    member: ApiToken,
    lot: Annotated[str, Query(min_length=1, max_length=100)],
) -> sessions.LotRecall:
    """The sessions that used a lot, with the patients' contact, and the adverse events it
    was involved in (audited)."""
    return run(request, member, sessions.recall, lot)
