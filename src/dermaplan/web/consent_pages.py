"""The consent pages: a patient's consents, the current text of a kind shown to them (the
exact version kept), signed with a finger or stylus on the signing pad (or by typing the
name, recorded as typed), photo-use scopes answered one by one, and withdrawal with a
reason. Each calls one use case of `app.consents` acting as the member signed in (the
front desk's: practitioners and reception).

Input the records refuse comes back as the form again, each problem by its field.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dermaplan.app import consents
from dermaplan.app.reads import Refused
from dermaplan.records.enums import ConsentKind, PhotoScope
from dermaplan.records.errors import InvalidInput, RecordsError
from dermaplan.web.forms import render_form
from dermaplan.web.security import Browser, Changing, PageSession, run, runs
from dermaplan.web.signatures import MAX_CHARS, drawn_signature
from dermaplan.web.views import render

router = APIRouter(include_in_schema=False)

Line = Annotated[str, Form(max_length=200)]
Answer = Annotated[str, Form(max_length=3)]  # "yes", "no", or "" (not answered)


def _consent(consent_id: uuid.UUID) -> Response:
    return RedirectResponse(f"/consents/{consent_id}", status_code=303)


def _consent_page(
    request: Request,
    session: PageSession,
    shown: consents.ShownConsent,
    refused: RecordsError | None = None,
    typed: dict[str, str] | None = None,
) -> HTMLResponse:
    return render_form(
        request,
        "consent.html",
        session,
        refused,
        title="Consent",
        shown=shown,
        scopes=PhotoScope,
        typed=typed or {},
        max_chars=MAX_CHARS,
    )


@router.get("/patients/{patient_id}/consents")
@runs(consents.desk)
def consents_page(
    request: Request, session: Browser, patient_id: uuid.UUID, kind: ConsentKind | None = None
) -> HTMLResponse:
    """`kind`: the consent a treatment needs, chosen first (from a session's missing items)."""
    desk = run(request, session, consents.desk, patient_id)
    return render(
        request,
        "consents.html",
        session,
        title="Consents",
        desk=desk,
        wanted=kind.value if kind else "",
    )


@router.post("/patients/{patient_id}/consents")
@runs(consents.open_consent)
def open_consent(
    request: Request,
    session: Changing,
    patient_id: uuid.UUID,
    kind: Annotated[ConsentKind, Form()],
) -> Response:
    """The current text of `kind` shown to the patient now: the version is kept with the
    consent, which counts for nothing until it is signed."""
    opened = run(request, session.member, consents.open_consent, patient_id, kind)
    return _consent(opened.id)


@router.get("/consents/{consent_id}")
@runs(consents.shown)
def consent_page(request: Request, session: Browser, consent_id: uuid.UUID) -> HTMLResponse:
    return _consent_page(request, session, run(request, session, consents.shown, consent_id))


def _scopes(answers: dict[PhotoScope, str]) -> dict[PhotoScope, bool] | None:
    """The photo-use scopes answered (a scope left unanswered is not granted silently: the
    records refuse a photo consent that leaves one out)."""
    given = {scope: answer == "yes" for scope, answer in answers.items() if answer}
    return given or None


@router.post("/consents/{consent_id}/sign")
@runs(consents.sign_or_show)
def sign_consent(
    request: Request,
    session: Changing,
    consent_id: uuid.UUID,
    signer: Line = "",
    signature_png: Annotated[str, Form(max_length=2 * MAX_CHARS)] = "",  # said at the field
    typed_signature: Line = "",
    scope_clinical_record: Answer = "",
    scope_teaching: Answer = "",
    scope_marketing: Answer = "",
) -> Response:
    """Signed in front of the member: by drawing on the pad, or (without a pointer) by
    typing the name, kept as a typed signature. Refused, the page again with why and what
    was typed, the consent read in the same unit of work (`consents.sign_or_show`); a
    drawing that is none is refused before anything runs, and the consent read to show it."""
    answers = {
        PhotoScope.CLINICAL_RECORD: scope_clinical_record,
        PhotoScope.TEACHING: scope_teaching,
        PhotoScope.MARKETING: scope_marketing,
    }
    kept = {"signer": signer, "typed_signature": typed_signature}
    kept |= {f"scope_{scope.value}": answer for scope, answer in answers.items()}
    try:
        drawn = drawn_signature(signature_png, from_pad=True) if signature_png.strip() else None
        typed = None if drawn else typed_signature.strip() or None
        if drawn is None and typed is None:
            raise InvalidInput.one("signature_png: sign in the box, or type the name instead")
    except InvalidInput as refused:
        shown = run(request, session.member, consents.shown, consent_id)
        return _consent_page(request, session, shown, refused, kept)
    signature = consents.DeskSignature(signer, typed, drawn, _scopes(answers))
    done = run(request, session.member, consents.sign_or_show, consent_id, signature)
    if isinstance(done, Refused):
        return _consent_page(request, session, done.shown, done.error, kept)
    return _consent(consent_id)


@router.post("/consents/{consent_id}/withdraw")
@runs(consents.withdraw_or_show)
def withdraw_consent(
    request: Request,
    session: Changing,
    consent_id: uuid.UUID,
    reason: Annotated[str, Form(max_length=2000)] = "",
    scope: Annotated[PhotoScope | None, Form()] = None,
) -> Response:
    """The whole consent withdrawn, or one photo-use scope; it stays on record. Refused, the
    page again with why (one use case)."""
    done = run(request, session.member, consents.withdraw_or_show, consent_id, reason, scope)
    if isinstance(done, Refused):
        return _consent_page(request, session, done.shown, done.error, {"reason": reason})
    return _consent(consent_id)
