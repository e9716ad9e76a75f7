"""The admin's API under /api/v1/admin: what the admin's pages do (web.admin_pages), for
programs, but for passwords and second factors, which no API token changes (app.logins).
The use cases are an admin's: a token of any other role is refused (403)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, BeforeValidator, Field

from dermaplan.app import clinic, consents, logins, records_admin, staff
from dermaplan.records.enums import ConsentKind, StaffRole
from dermaplan.web.api import PREFIX
from dermaplan.web.errors import RESPONSES, ErrorBody
from dermaplan.web.security import ApiToken, run, runs

router = APIRouter(prefix=f"{PREFIX}/admin", responses=RESPONSES, tags=["admin"])

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "the record cannot change so"}
}
Line = Annotated[str, Field(min_length=1, max_length=200)]


class NewMember(BaseModel):
    name: Line
    role: StaffRole
    registration: Line | None = None


class RoleChange(BaseModel):
    role: StaffRole


class Activity(BaseModel):
    active: bool = Field(description="false: they cannot sign in; their sessions and tokens end")


class ClinicChange(BaseModel):
    """What to change; a field left out stays as it is."""

    name: Line | None = None
    time_zone: (
        Annotated[str, Field(min_length=1, max_length=64, examples=["Europe/Paris"])] | None
    ) = None


class ConsentText(BaseModel):
    kind: ConsentKind
    text: Annotated[str, Field(min_length=1, max_length=consents.MAX_TEMPLATE_CHARS)]


@router.get("/staff")
@runs(staff.accounts)
def staff_accounts(request: Request, member: ApiToken) -> list[staff.StaffAccount]:
    """The clinic's staff with their login names and whether they have a second factor."""
    return run(request, member, staff.accounts)


@router.post("/staff", status_code=201)
@runs(staff.add)
def add_member(request: Request, member: ApiToken, new: NewMember) -> staff.StaffMember:
    """A new member of staff (audited); they sign in once a password is set."""
    return run(request, member, staff.add, new.name, new.role, new.registration)


@router.put("/staff/{staff_id}/role", responses=CONFLICT)
@runs(staff.change_role)
def change_role(
    request: Request, member: ApiToken, staff_id: uuid.UUID, change: RoleChange
) -> staff.StaffMember:
    """A member's new role (audited); the clinic's last active admin stays one (409)."""
    return run(request, member, staff.change_role, staff_id, change.role)


@router.put("/staff/{staff_id}/active", responses=CONFLICT)
@runs(staff.set_active)
def set_active(
    request: Request, member: ApiToken, staff_id: uuid.UUID, change: Activity
) -> staff.StaffMember:
    """Deactivate a member (their sessions end, their tokens are revoked) or reactivate them
    (audited); the clinic's last active admin stays active (409)."""
    return run(request, member, staff.set_active, str(staff_id), change.active)


@router.get("/tokens")
@runs(logins.clinic_tokens)
def clinic_tokens(request: Request, member: ApiToken) -> list[logins.MemberToken]:
    """Every member's API tokens with whose each is, newest first; secrets never shown."""
    return run(request, member, logins.clinic_tokens)


@router.post("/tokens/{token_id}/revoke")
@runs(logins.revoke_member_token)
def revoke_token(request: Request, member: ApiToken, token_id: uuid.UUID) -> logins.TokenLine:
    """Revoke any member's token (audited); it opens nothing from now on."""
    return run(request, member, logins.revoke_member_token, token_id)


@router.get("/clinic")
@runs(clinic.settings)
def clinic_settings(request: Request, member: ApiToken) -> clinic.ClinicSettings:
    """The clinic's name and time zone, and the time zones it may choose from."""
    return run(request, member, clinic.settings)


@router.patch("/clinic")
@runs(clinic.configure)
def configure_clinic(request: Request, member: ApiToken, change: ClinicChange) -> clinic.ClinicView:
    """Rename the clinic or set its IANA time zone (audited)."""
    return run(request, member, clinic.configure, name=change.name, time_zone=change.time_zone)


@router.get("/consents")
@runs(consents.texts)
def consent_texts(request: Request, member: ApiToken) -> list[consents.TemplateText]:
    """Every published version of every consent text, with the text."""
    return run(request, member, consents.texts)


@router.post("/consents", status_code=201)
@runs(consents.publish)
def publish_consent(
    request: Request, member: ApiToken, published: ConsentText
) -> consents.TemplateVersion:
    """The next version of a kind's consent text (audited); published versions never change."""
    return run(request, member, consents.publish, published.kind, published.text)


def _blank_is_none(value: object) -> object:
    """A filter field left empty in a form is not given."""
    return None if isinstance(value, str) and not value.strip() else value


class AuditFilter(BaseModel):
    """Which events to show: one member, one action, one patient, one day of the clinic's
    (each optional), and the page."""

    model_config = {"extra": "forbid"}

    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    member: Annotated[uuid.UUID | None, BeforeValidator(_blank_is_none)] = None
    action: Annotated[
        Annotated[str, Field(max_length=50)] | None,
        BeforeValidator(_blank_is_none),
        Field(examples=["patient.read"]),
    ] = None
    patient: Annotated[uuid.UUID | None, BeforeValidator(_blank_is_none)] = None
    day: Annotated[dt.date | None, BeforeValidator(_blank_is_none)] = None

    def arguments(self) -> dict[str, Any]:
        return self.model_dump()

    def kept(self) -> dict[str, str]:
        """The filter given, for the links to other pages of the same events."""
        given = self.model_dump(exclude={"page"}, exclude_none=True)
        return {name: str(value) for name, value in given.items()}


AuditQuery = Annotated[AuditFilter, Query()]


@router.get("/audit")
@runs(records_admin.audit_log)
def audit_log(request: Request, member: ApiToken, wanted: AuditQuery) -> records_admin.AuditLogPage:
    """A page of the clinic's audit log (50 events), the latest first, narrowed by any of
    `member`, `action`, `patient` and `day` (the clinic's); the reading is audited."""
    return run(request, member, records_admin.audit_log, **wanted.arguments())


@router.post("/audit/verify")
@runs(records_admin.verify)
def verify_audit(request: Request, member: ApiToken) -> records_admin.AuditReport:
    """`audit verify`: the chains, their anchor, every record and photo file against the log."""
    return run(request, member, records_admin.verify)
