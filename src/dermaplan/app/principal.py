"""Who is acting, and which use cases each role may call.

Every use case is declared with `allowed(...)`: the roles that may call it. The check runs
before the use case does anything, and the declarations are kept in `USE_CASES`, so a test
can try every use case with every role.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from dermaplan.app.reads import on_clinic_clock
from dermaplan.records.enums import StaffRole
from dermaplan.records.errors import Forbidden

if TYPE_CHECKING:
    from dermaplan.app.unit import UnitOfWork

P = ParamSpec("P")
R = TypeVar("R")

ADMIN, PRACTITIONER, RECEPTION = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION
CLINICAL = frozenset({PRACTITIONER})
FRONT_DESK = frozenset({PRACTITIONER, RECEPTION})
EVERYONE = frozenset(StaffRole)

# "module.function" of every use case: the roles that may call it
USE_CASES: dict[str, frozenset[StaffRole]] = {}
# the use cases that need no write transaction (a front end enters a reading unit for them)
READING: set[str] = set()


@dataclass(frozen=True, slots=True)
class Principal:
    """The member of staff acting, their clinic and roles, and the operating-system user
    or service running the program (both go into the audit log)."""

    staff_id: uuid.UUID
    clinic_id: uuid.UUID
    name: str
    roles: frozenset[StaffRole]
    os_user: str


def allowed(
    *roles: StaffRole, writes: bool = True
) -> Callable[[Callable[Concatenate[UnitOfWork, P], R]], Callable[Concatenate[UnitOfWork, P], R]]:
    """Declare the roles that may call a use case (anyone else is refused before it runs),
    and whether it writes. What it returns comes with its times on the clinic's clock."""
    permitted = frozenset(roles)

    def declare(
        use_case: Callable[Concatenate[UnitOfWork, P], R],
    ) -> Callable[Concatenate[UnitOfWork, P], R]:
        name = use_case_name(use_case)
        USE_CASES[name] = permitted
        if not writes:
            READING.add(name)

        @functools.wraps(use_case)
        def checked(uow: UnitOfWork, /, *args: P.args, **kwargs: P.kwargs) -> R:
            uow.require(permitted, name)
            return on_clinic_clock(use_case(uow, *args, **kwargs), uow.zone)

        return checked

    return declare


def use_case_name(use_case: Callable[..., object]) -> str:
    """ "module.function", as USE_CASES and READING know it."""
    return f"{use_case.__module__.rsplit('.', 1)[-1]}.{use_case.__name__}"


def refusal(principal: Principal | None, permitted: frozenset[StaffRole], name: str) -> Forbidden:
    what = name.replace("_", " ").replace(".", " ")
    if principal is None:
        return Forbidden.one(
            f"{what}: nobody is named as acting; give --as STAFF (an id or a name) or set "
            "DERMAPLAN_STAFF (the first admin is added with `dermaplan staff add NAME "
            "--role admin`)"
        )
    roles = ", ".join(sorted(r.value for r in principal.roles))
    needed = " or ".join(sorted(r.value for r in permitted))
    return Forbidden.one(f"{what}: {principal.name} ({roles}) may not; it needs {needed}")
