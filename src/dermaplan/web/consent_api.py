"""Consents under /api/v1: what the consent pages do (web.consent_pages), for programs. The
use cases are the front desk's (practitioners and reception); an admin is refused (403).
A drawn signature is sent as base64 PNG and checked as the pages check it (not blank, not
larger than a signature may be)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from dermaplan.app import consents
from dermaplan.app.patients import ConsentEntry, Withdrawal
from dermaplan.records.enums import ConsentKind, PhotoScope
from dermaplan.web.api import PREFIX
from dermaplan.web.errors import RESPONSES, ErrorBody
from dermaplan.web.security import ApiToken, run, runs
from dermaplan.web.signatures import MAX_CHARS, drawn_signature

router = APIRouter(prefix=PREFIX, responses=RESPONSES, tags=["consents"])

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "already signed, or already withdrawn"}
}
Line = Annotated[str, Field(min_length=1, max_length=200)]


class ConsentOpening(BaseModel):
    kind: ConsentKind


class ConsentSignature(BaseModel):
    """The patient's name and their signature: typed (`signature`) or drawn
    (`signature_png`, base64 PNG), exactly one; a photo consent answers every scope."""

    signer: Line
    signature: Line | None = None
    signature_png: Annotated[str, Field(min_length=1, max_length=MAX_CHARS)] | None = None
    scopes: dict[PhotoScope, bool] | None = None


class ConsentWithdrawal(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    scope: PhotoScope | None = Field(default=None, description="one photo scope; none: all")


@router.get("/patients/{patient_id}/consents")
@runs(consents.desk)
def patient_consents(
    request: Request, member: ApiToken, patient_id: uuid.UUID
) -> consents.ConsentDesk:
    """A patient's consents, and the current version of each kind (audited)."""
    return run(request, member, consents.desk, patient_id)


@router.post("/patients/{patient_id}/consents", status_code=201)
@runs(consents.open_consent)
def open_consent(
    request: Request, member: ApiToken, patient_id: uuid.UUID, opening: ConsentOpening
) -> ConsentEntry:
    """The current text of a kind shown to the patient now (audited); sign it next."""
    return run(request, member, consents.open_consent, patient_id, opening.kind)


@router.get("/consents/{consent_id}")
@runs(consents.shown)
def consent(request: Request, member: ApiToken, consent_id: uuid.UUID) -> consents.ShownConsent:
    """A consent with the exact text of its version and its signature (audited)."""
    return run(request, member, consents.shown, consent_id)


@router.post("/consents/{consent_id}/sign", responses=CONFLICT)
@runs(consents.sign_shown)
def sign_consent(
    request: Request, member: ApiToken, consent_id: uuid.UUID, signed: ConsentSignature
) -> ConsentEntry:
    """Sign an opened consent now (audited); a signed consent never changes (409)."""
    drawn = None if signed.signature_png is None else drawn_signature(signed.signature_png)
    signature = consents.DeskSignature(signed.signer, signed.signature, drawn, signed.scopes)
    return run(request, member, consents.sign_shown, consent_id, signature)


@router.post("/consents/{consent_id}/withdraw", responses=CONFLICT)
@runs(consents.withdraw)
def withdraw_consent(
    request: Request, member: ApiToken, consent_id: uuid.UUID, withdrawal: ConsentWithdrawal
) -> Withdrawal:
    """Withdraw a signed consent, or one photo scope; it stays on record (audited)."""
    return run(request, member, consents.withdraw, consent_id, withdrawal.reason, withdrawal.scope)
