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


def _member(
    member_id: uuid.UUID, name: str, role: StaffRole, registration: str | None, active: bool
) -> StaffMember:
    return StaffMember(id=member_id, name=name, role=role, registration=registration, active=active)
