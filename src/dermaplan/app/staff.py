"""The clinic's staff: who may act, in which role.

An admin adds members; in a database with no staff at all, the first member may be added
by nobody in particular, as an admin: that is how a clinic starts.
"""

from __future__ import annotations

import uuid

from dermaplan.app.principal import ADMIN, EVERYONE, USE_CASES, Access, allowed
from dermaplan.app.reads import ReadModel
from dermaplan.app.unit import UnitOfWork
from dermaplan.records.enums import StaffRole
from dermaplan.records.errors import Forbidden

USE_CASES["staff.add"] = frozenset({ADMIN})


class StaffMember(ReadModel):
    id: uuid.UUID
    name: str
    role: StaffRole
    registration: str | None
    active: bool


def add(
    uow: UnitOfWork, name: str, role: StaffRole, registration: str | None = None
) -> StaffMember:
    """Add a member (an admin's use case; the first admin of an empty database needs none)."""
    from dermaplan.records.repository import any_staff
    from dermaplan.records.service import add_staff

    if uow.principal is None and not any_staff(uow.session):
        if role is not StaffRole.ADMIN:
            raise Forbidden.one(
                "staff add: the first member of staff is the clinic's admin (--role admin)"
            )
    else:
        uow.require(frozenset({ADMIN}), "staff.add")
    member = add_staff(uow.session, uow.context, uow.clinic_id, name, role, registration)
    return StaffMember.model_validate(member)


@allowed(*EVERYONE, access=Access.READ)
def members(uow: UnitOfWork) -> list[StaffMember]:
    """The clinic's staff in name order (identities, not patient data: not audited)."""
    from dermaplan.records.service import clinic_staff

    return [
        _member(m.id, m.name, m.role, m.registration, m.active)
        for m in clinic_staff(uow.session, uow.clinic_id)
    ]


class StaffAccount(StaffMember):
    """A member as an admin manages them: how they sign in, if they can."""

    login: str | None  # None: no password set yet, they cannot sign in
    second_factor: bool


@allowed(ADMIN, access=Access.READ)
def accounts(uow: UnitOfWork) -> list[StaffAccount]:
    """The clinic's staff in name order, with their login name and whether they have a
    second factor (never a password hash or a secret)."""
    from dermaplan.records.repository import LoginRepository
    from dermaplan.records.service import clinic_staff

    credentials = {
        c.staff_id: c for c in LoginRepository(uow.session).credentials_of_clinic(uow.clinic_id)
    }
    found = []
    for m in clinic_staff(uow.session, uow.clinic_id):
        credential = credentials.get(m.id)
        found.append(
            StaffAccount(
                **_member(m.id, m.name, m.role, m.registration, m.active).model_dump(),
                login=credential.login if credential else None,
                second_factor=credential is not None and credential.totp_secret is not None,
            )
        )
    return found


@allowed(ADMIN)
def change_role(uow: UnitOfWork, staff_id: uuid.UUID, role: StaffRole) -> StaffMember:
    """Give a member another role (audited); it holds from their next request, on every
    session and token they have. The clinic's last active admin stays one."""
    from dermaplan.records.service import change_staff_role

    member = change_staff_role(uow.session, uow.context, uow.clinic_id, staff_id, role)
    return StaffMember.model_validate(member)


@allowed(ADMIN)
def set_active(uow: UnitOfWork, member: str, active: bool) -> StaffMember:
    """Deactivate a member who has left (or reactivate one who is back): an inactive member
    cannot sign in, their open sessions end and their API tokens are revoked at once, and
    their records keep their name. The clinic's last active admin stays active."""
    from dermaplan.records.service import set_staff_active

    staff_id = member_named(uow, member, "active")
    changed = set_staff_active(uow.session, uow.context, uow.clinic_id, staff_id, active)
    return StaffMember.model_validate(changed)


def member_named(uow: UnitOfWork, reference: str, what: str) -> uuid.UUID:
    """The id of the clinic's member named by id or name; a member other than the one
    acting only for an admin."""
    from dermaplan.records.errors import InvalidInput, NotFound
    from dermaplan.records.service import clinic_staff

    acting = uow.acting
    wanted = reference.strip()
    found = [
        m for m in clinic_staff(uow.session, uow.clinic_id)
        if str(m.id) == wanted or m.name.casefold() == wanted.casefold()
    ]  # fmt: skip
    if not found:
        raise NotFound.one(f"staff: no member of this clinic has the id or name '{wanted}'")
    if len(found) > 1:
        raise InvalidInput.one(f"staff: {len(found)} members are named '{wanted}'; give the id")
    if found[0].id != acting.staff_id and ADMIN not in acting.roles:
        raise Forbidden.one(f"{what}: {acting.name} may set only their own; an admin sets others'")
    return found[0].id


def _member(
    member_id: uuid.UUID, name: str, role: StaffRole, registration: str | None, active: bool
) -> StaffMember:
    return StaffMember(id=member_id, name=name, role=role, registration=registration, active=active)
