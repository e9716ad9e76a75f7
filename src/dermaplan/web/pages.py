"""The pages: signing in and out, Today, finding a patient, their details and their chart,
and the member's own account (API tokens). Each page calls one use case acting as the
member signed in, and renders what it returns; a refusal is the error page with its status.

No patient data goes into a URL (a patient is named by id; a search is posted) or a page
title.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dermaplan.app import logins, patients, today
from dermaplan.records.errors import Unauthenticated
from dermaplan.web.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    App,
    Browser,
    Changing,
    address,
    checked_login,
    cookie,
    forget_cookie,
    new_login_token,
    run,
    runs,
    set_cookie,
)
from dermaplan.web.views import render

router = APIRouter(include_in_schema=False)

SEARCH_RESULTS = 20
Text = Annotated[str, Form(max_length=1000)]


@router.get("/")
def home() -> Response:
    return RedirectResponse("/today", status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    return _login_form(request)


def _login_form(request: Request, message: str | None = None, status: int = 200) -> Response:
    token = cookie(request, LOGIN_COOKIE) or new_login_token()
    response = render(
        request, "login.html", status=status, title="Sign in", login_token=token, message=message
    )
    set_cookie(request, response, LOGIN_COOKIE, token)
    return response


@router.post("/login", dependencies=[Depends(checked_login)])
def login(request: Request, application: App, login: Text, password: Text) -> Response:
    """A right password opens a session (a new one: whatever session the browser had
    ends), which a member with a second factor completes on the next page."""
    try:
        step = logins.sign_in(
            application, login, password, address(request), cookie(request, SESSION_COOKIE)
        )
    except Unauthenticated as refused:
        return _login_form(request, str(refused), status=401)
    response = RedirectResponse("/login/code" if step.awaiting_code else "/today", 303)
    set_cookie(request, response, SESSION_COOKIE, step.token)
    if not step.awaiting_code:
        forget_cookie(request, response, LOGIN_COOKIE)
    return response


@router.get("/login/code")
def code_page(request: Request) -> Response:
    token = cookie(request, LOGIN_COOKIE)
    if token is None or cookie(request, SESSION_COOKIE) is None:
        return RedirectResponse("/login", status_code=303)
    return render(request, "code.html", title="Second factor", login_token=token, message=None)


@router.post("/login/code", dependencies=[Depends(checked_login)])
def code(request: Request, application: App, code: Text) -> Response:
    try:
        step = logins.second_factor(
            application, cookie(request, SESSION_COOKIE) or "", code, address(request)
        )
    except Unauthenticated as refused:
        token = cookie(request, LOGIN_COOKIE) or ""
        return render(
            request,
            "code.html",
            status=401,
            title="Second factor",
            login_token=token,
            message=str(refused),
        )
    response = RedirectResponse("/today", status_code=303)
    set_cookie(request, response, SESSION_COOKIE, step.token)
    forget_cookie(request, response, LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, application: App, session: Changing) -> Response:
    """End the session on the server, and forget its cookie."""
    logins.sign_out(application, cookie(request, SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    forget_cookie(request, response, SESSION_COOKIE)
    return response


@router.get("/today")
@runs(today.overview)
def today_page(request: Request, session: Browser) -> HTMLResponse:
    day = run(request, session, today.overview)
    return render(request, "today.html", session, title="Today", today=day)


@router.get("/patients")
def patients_page(request: Request, session: Browser) -> HTMLResponse:
    return render(request, "patients.html", session, title="Patients", query="", found=None)


@router.post("/patients/search")
@runs(patients.search)
def search(
    request: Request, session: Changing, query: Annotated[str, Form(max_length=200)] = ""
) -> HTMLResponse:
    """The patients whose name starts with what was typed: the results alone for htmx
    (search as you type), the whole page without it."""
    typed = query.strip()
    found = (
        run(request, session.member, patients.search, typed, limit=SEARCH_RESULTS)
        if typed
        else None
    )
    if request.headers.get("HX-Request"):
        return render(request, "patient_results.html", session, found=found, query=typed)
    return render(request, "patients.html", session, title="Patients", query=typed, found=found)


@router.get("/patients/{patient_id}")
@runs(patients.details)
def details_page(request: Request, session: Browser, patient_id: uuid.UUID) -> HTMLResponse:
    patient = run(request, session, patients.details, patient_id)
    return render(request, "details.html", session, title="Patient", patient=patient)


@router.get("/patients/{patient_id}/chart")
@runs(patients.timeline)
def chart_page(request: Request, session: Browser, patient_id: uuid.UUID) -> HTMLResponse:
    timeline = run(request, session, patients.timeline, patient_id)
    return render(request, "chart.html", session, title="Patient chart", timeline=timeline)


@router.get("/account")
@runs(logins.tokens)
def account_page(request: Request, session: Browser) -> HTMLResponse:
    tokens = run(request, session, logins.tokens)
    return render(request, "account.html", session, title="Account", tokens=tokens)


@router.post("/account/tokens")
@runs(logins.create_token)
def create_token(
    request: Request,
    session: Changing,
    name: Annotated[str, Form(max_length=100)],
    days: Annotated[int, Form(ge=1, le=365)] = 90,
) -> HTMLResponse:
    """A new personal API token, its secret shown on this page once."""
    new = run(request, session.member, logins.create_token, name, days)
    return render(request, "token.html", session, title="New API token", new=new)


@router.post("/account/tokens/{token_id}/revoke")
@runs(logins.revoke_token)
def revoke_token(request: Request, session: Changing, token_id: uuid.UUID) -> Response:
    run(request, session.member, logins.revoke_token, token_id)
    return RedirectResponse("/account", status_code=303)
