"""The JSON API under /api/v1: the use cases the pages call, for programs, authenticated
by a personal access token (`Authorization: Bearer dpat_...`) that acts as the member who
made it, in their role. A token is made, and a password or second factor changed, only by a
member signed in to the pages: a token alone (one secret) never makes another or takes over
an account. Its OpenAPI document is /api/v1/openapi.json.

A patient's name never goes into a URL: a search is a POST. A refusal is JSON with each
problem at its location (web.errors): 401 without a valid token, 403 for a role that may
not, 404 for what the member's clinic does not have, 409 for a record that cannot change
so, 422 for input that does not validate.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from dermaplan.app import consults, logins, patients, today
from dermaplan.web.errors import RESPONSES
from dermaplan.web.security import ApiToken, run, runs

PREFIX = "/api/v1"
router = APIRouter(prefix=PREFIX, responses=RESPONSES)


class Health(BaseModel):
    status: str


class PatientSearch(BaseModel):
    """A search by the start of a patient's "family given" name, ignoring case and accents."""

    query: Annotated[str, Field(min_length=1, max_length=200)]
    limit: Annotated[int, Field(ge=1, le=100)] = 20


@router.get("/health", responses={})
def health() -> Health:
    """Whether the app answers (no token needed, nothing read)."""
    return Health(status="ok")


@router.get("/me")
def me(member: ApiToken) -> logins.Member:
    """The member the token acts as (the token checked on its own: no use case runs)."""
    return member.member


@router.get("/today")
@runs(today.overview)
def today_overview(request: Request, member: ApiToken) -> today.Today:
    """The day in the clinic: the lists the member's role may see (audited)."""
    return run(request, member, today.overview)


@router.post("/patients/search")
@runs(patients.search)
def search_patients(
    request: Request, member: ApiToken, search: PatientSearch
) -> list[patients.PatientLine]:
    """Patients whose name starts with the query (audited)."""
    return run(request, member, patients.search, search.query, limit=search.limit)


@router.get("/patients/{patient_id}")
@runs(patients.details)
def patient_details(
    request: Request, member: ApiToken, patient_id: uuid.UUID
) -> patients.PatientDetails:
    """A patient's details and contact, nothing clinical (audited)."""
    return run(request, member, patients.details, patient_id)


@router.get("/patients/{patient_id}/chart")
@runs(patients.chart)
def patient_chart(
    request: Request, member: ApiToken, patient_id: uuid.UUID
) -> patients.PatientChart:
    """The chart: details, history, allergies, consults and consents (audited)."""
    return run(request, member, patients.chart, patient_id)


@router.get("/patients/{patient_id}/timeline")
@runs(patients.timeline)
def patient_timeline(
    request: Request, member: ApiToken, patient_id: uuid.UUID
) -> patients.PatientTimeline:
    """Everything recorded for the patient, in date order (audited)."""
    return run(request, member, patients.timeline, patient_id)


@router.get("/consults/{consult_id}")
@runs(consults.show)
def stored_consult(
    request: Request, member: ApiToken, consult_id: uuid.UUID
) -> consults.StoredConsult:
    """A stored consult: its approval, its corrections and its plan (audited)."""
    return run(request, member, consults.show, consult_id)


@router.get("/tokens")
@runs(logins.tokens)
def list_tokens(request: Request, member: ApiToken) -> list[logins.TokenLine]:
    """The member's own tokens, newest first; secrets are never shown again."""
    return run(request, member, logins.tokens)


@router.delete("/tokens/{token_id}")
@runs(logins.revoke_token)
def revoke_token(request: Request, member: ApiToken, token_id: uuid.UUID) -> logins.TokenLine:
    """Revoke one of the member's tokens (this one included)."""
    return run(request, member, logins.revoke_token, token_id)
