"""The admin's pages: staff and their roles, passwords and second factors; the clinic's
name and time zone; the consent texts; the audit log and `audit verify`. Each calls one
use case acting as the member signed in: the use cases are an admin's, so anyone else is
refused by them (403), as from the command line.

A change is a posted form (its CSRF token checked) answered by a redirect to its page, or
by a page showing what only this answer may show (a new second factor's secret).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dermaplan.app import clinic, consents, logins, records_admin, staff
from dermaplan.records.enums import ConsentKind, StaffRole
from dermaplan.web.admin_api import AuditQuery
from dermaplan.web.security import Browser, Changing, run, runs
from dermaplan.web.views import render

router = APIRouter(prefix="/admin", include_in_schema=False)

Line = Annotated[str, Form(max_length=200)]


def _back(path: str) -> Response:
    return RedirectResponse(f"/admin/{path}", status_code=303)


def _given(value: str) -> str | None:
    """An optional field left empty is not given."""
    return value.strip() or None


@router.get("")
def admin_home() -> Response:
    return _back("staff")


@router.get("/staff")
@runs(staff.accounts)
def staff_page(request: Request, session: Browser) -> HTMLResponse:
    accounts = run(request, session, staff.accounts)
    return render(
        request,
        "admin_staff.html",
        session,
        section="staff",
        title="Staff",
        accounts=accounts,
        roles=StaffRole,
    )


@router.post("/staff")
@runs(staff.add)
def add_member(
    request: Request,
    session: Changing,
    name: Line,
    role: Annotated[StaffRole, Form()],
    registration: Line = "",
) -> Response:
    run(request, session.member, staff.add, name, role, _given(registration))
    return _back("staff")


@router.post("/staff/{staff_id}/role")
@runs(staff.change_role)
def change_role(
    request: Request, session: Changing, staff_id: uuid.UUID, role: Annotated[StaffRole, Form()]
) -> Response:
    run(request, session.member, staff.change_role, staff_id, role)
    return _back("staff")


@router.post("/staff/{staff_id}/active")
@runs(staff.set_active)
def set_active(
    request: Request, session: Changing, staff_id: uuid.UUID, active: Annotated[bool, Form()]
) -> Response:
    run(request, session.member, staff.set_active, str(staff_id), active)
    return _back("staff")


@router.post("/staff/{staff_id}/password")
@runs(logins.set_password)
def reset_password(
    request: Request,
    session: Changing,
    staff_id: uuid.UUID,
    password: Annotated[str, Form(max_length=1000)],
    login: Line = "",
    current_password: Annotated[str, Form(max_length=1000)] = "",
) -> HTMLResponse:
    """A new password (typed by the admin, given to the member in person; one's own with
    the current one); the member's sessions end and their tokens are revoked."""
    done = run(
        request,
        session.member,
        logins.set_password,
        str(staff_id),
        password,
        _given(login),
        current_password or None,
    )
    return render(
        request, "admin_password.html", session, section="staff", title="Password set", done=done
    )


@router.post("/staff/{staff_id}/totp")
@runs(logins.enrol_totp)
def reset_second_factor(
    request: Request,
    session: Changing,
    staff_id: uuid.UUID,
    current_password: Annotated[str, Form(max_length=1000)] = "",
) -> HTMLResponse:
    """A new TOTP second factor (one's own with the current password), its secret shown on
    this page once; the member's sessions end and their tokens are revoked."""
    new = run(
        request,
        session.member,
        logins.enrol_totp,
        str(staff_id),
        current_password=current_password or None,
    )
    return render(
        request, "admin_totp.html", session, section="staff", title="New second factor", new=new
    )


@router.get("/tokens")
@runs(logins.clinic_tokens)
def tokens_page(request: Request, session: Browser) -> HTMLResponse:
    """Every member's API tokens, to revoke one that may have leaked."""
    tokens = run(request, session, logins.clinic_tokens)
    return render(
        request, "admin_tokens.html", session, section="tokens", title="API tokens", tokens=tokens
    )


@router.post("/tokens/{token_id}/revoke")
@runs(logins.revoke_member_token)
def revoke_token(request: Request, session: Changing, token_id: uuid.UUID) -> Response:
    run(request, session.member, logins.revoke_member_token, token_id)
    return _back("tokens")


@router.get("/clinic")
@runs(clinic.settings)
def clinic_page(request: Request, session: Browser) -> HTMLResponse:
    settings = run(request, session, clinic.settings)
    return render(
        request, "admin_clinic.html", session, section="clinic", title="Clinic", settings=settings
    )


@router.post("/clinic")
@runs(clinic.configure)
def configure_clinic(
    request: Request, session: Changing, name: Line, time_zone: Annotated[str, Form(max_length=64)]
) -> Response:
    run(request, session.member, clinic.configure, name=name, time_zone=time_zone.strip())
    return _back("clinic")


@router.get("/consents")
@runs(consents.texts)
def consents_page(request: Request, session: Browser) -> HTMLResponse:
    texts = run(request, session, consents.texts)
    return render(
        request,
        "admin_consents.html",
        session,
        section="consents",
        title="Consent templates",
        texts=texts,
        kinds=ConsentKind,
    )


@router.post("/consents")
@runs(consents.publish)
def publish_consent(
    request: Request,
    session: Changing,
    kind: Annotated[ConsentKind, Form()],
    text: Annotated[str, Form(max_length=consents.MAX_TEMPLATE_CHARS)],
) -> Response:
    run(request, session.member, consents.publish, kind, text)
    return _back("consents")


@router.get("/audit")
@runs(records_admin.audit_log)
def audit_page(request: Request, session: Browser, wanted: AuditQuery) -> HTMLResponse:
    """The log, narrowed by the filter form (a GET: its fields are ids, an action and a
    day, never a patient's name); an empty field lets every event by."""
    log = run(request, session, records_admin.audit_log, **wanted.arguments())
    return render(
        request,
        "admin_audit.html",
        session,
        section="audit",
        title="Audit log",
        log=log,
        wanted=wanted.kept(),
    )


@router.post("/audit/verify")
@runs(records_admin.verify)
def verify_audit(request: Request, session: Changing) -> HTMLResponse:
    """`audit verify`, run now: a post, so that no link or prefetch runs it by accident."""
    report = run(request, session.member, records_admin.verify)
    return render(
        request, "admin_verify.html", session, section="audit", title="Audit verify", report=report
    )
