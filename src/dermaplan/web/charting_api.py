"""Session charting under /api/v1: what the charting pages do (web.charting_pages), for
programs. The use cases are a practitioner's: reception and admins are refused (403). A
session is recorded in the name of the token's member (who treated)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from dermaplan.app import sessions
from dermaplan.knowledge.schema import Modality
from dermaplan.records.schemas import SessionData
from dermaplan.web.api import PREFIX
from dermaplan.web.errors import RESPONSES, ErrorBody
from dermaplan.web.knowledge import Knowledge
from dermaplan.web.security import ApiToken, run, runs

router = APIRouter(prefix=f"{PREFIX}/sessions", responses=RESPONSES, tags=["sessions"])

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorBody,
        "description": "refused by the safety check (with no override), signed, or incomplete",
    }
}


class SessionIn(SessionData):
    """A session as charted; `practitioner` is the token's member when left out (a
    session is recorded by who treated, never in another's name)."""

    model_config = ConfigDict(  # built now, for FastAPI's schema (a deferred one warns)
        extra="forbid", str_strip_whitespace=True, frozen=True, defer_build=False
    )

    practitioner: uuid.UUID | None = None  # type: ignore[assignment]
    override: Annotated[str, Field(min_length=1, max_length=2000)] | None = Field(
        default=None,
        description="why it is recorded although the safety check refuses it (kept with the "
        "session and audited); refused when nothing is refused",
    )


class AmendmentIn(SessionIn):
    """A signed session's correction: the session as it should read, and why."""

    reason: Annotated[str, Field(min_length=1, max_length=2000)] = Field(
        description="why the signed session is corrected"
    )


class Signing(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)] | None = Field(
        default=None, description="why it is signed although the completeness check finds gaps"
    )


@router.get("/planned")
@runs(sessions.planned)
def planned_session(
    request: Request,
    member: ApiToken,
    consult: Annotated[uuid.UUID, Query(description="an approved consult")],
    modality: Modality | None = None,
) -> sessions.SessionPlan:
    """A session pre-filled from an approved plan (audited)."""
    return run(request, member, sessions.planned, consult, modality)


@router.post("", status_code=201, responses=CONFLICT)
@runs(sessions.record)
def record_session(
    request: Request, member: ApiToken, knowledge: Knowledge, given: SessionIn
) -> sessions.RecordedSession:
    """A draft, checked against safety first (an expired lot is refused at its product)."""
    return run(request, member, sessions.record, given, knowledge, given.override)


@router.get("/{session_id}")
@runs(sessions.chart)
def charted_session(
    request: Request, member: ApiToken, knowledge: Knowledge, session_id: uuid.UUID
) -> sessions.ChartedSession:
    """A session as charted, with what signing a draft still needs (audited)."""
    return run(request, member, sessions.chart, session_id, knowledge)


@router.put("/{session_id}", responses=CONFLICT)
@runs(sessions.revise)
def revise_session(
    request: Request,
    member: ApiToken,
    knowledge: Knowledge,
    session_id: uuid.UUID,
    given: SessionIn,
) -> sessions.RecordedSession:
    """A draft's content replaced, checked again; a signed session is refused (409)."""
    return run(request, member, sessions.revise, session_id, given, knowledge, given.override)


@router.post("/{session_id}/amendments", status_code=201, responses=CONFLICT)
@runs(sessions.amend)
def amend_session(
    request: Request,
    member: ApiToken,
    knowledge: Knowledge,
    session_id: uuid.UUID,
    given: AmendmentIn,
) -> sessions.RecordedSession:
    """A signed session corrected by a new draft that replaces it once signed (the signed
    one is kept); a draft or an already amended session is refused (422)."""
    return run(
        request, member, sessions.amend, session_id, given, knowledge, given.reason, given.override
    )


@router.post("/{session_id}/sign", responses=CONFLICT)
@runs(sessions.sign)
def sign_session(
    request: Request,
    member: ApiToken,
    knowledge: Knowledge,
    session_id: uuid.UUID,
    signing: Signing,
) -> sessions.SignedSession:
    """Signed as the token's member; with gaps, only with a reason (409 otherwise)."""
    return run(request, member, sessions.sign, session_id, knowledge, signing.reason)
