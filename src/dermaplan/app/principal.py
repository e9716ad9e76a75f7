"""Who is acting, and which use cases each role may call.

Every use case is declared with `allowed(...)`: the roles that may call it, and what it does
to the records, so that its unit of work takes only the locks it needs. The check runs
before the use case does anything, and the declarations are kept in `USE_CASES` and
`ACCESS`, so a test can try every use case with every role.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
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


class Access(StrEnum):
    """What a unit of work does to the records, which decides the locks it takes."""

    READ = "read"  # reads nothing audited: no write transaction
    AUDITED_READ = "audited_read"  # reads patient data: appends its audit events, on any lane
    CHANGE = "change"  # changes records: holds its clinic's change lane (records.lanes)


# "module.function" of every use case: the roles that may call it, and its access (a front
# end enters a unit with that access for it; a use case not declared here changes records)
USE_CASES: dict[str, frozenset[StaffRole]] = {}
ACCESS: dict[str, Access] = {}


class Proof(StrEnum):
    """How the member acting showed who they are: what a credential of theirs may be
    changed with (app.logins)."""

    OPERATOR = "operator"  # the command line on the server, as the member it names (--as)
    SESSION = "session"  # a browser session: the password, and the second factor if enrolled
    TOKEN = "token"  # noqa: S105 (a name) - a personal API token: one secret, for a program


@dataclass(frozen=True, slots=True)
class Principal:
    """The member of staff acting, their clinic and roles, the operating-system user or
    service running the program (both go into the audit log), and how they showed who
    they are."""

    staff_id: uuid.UUID
    clinic_id: uuid.UUID
    name: str
    roles: frozenset[StaffRole]
    os_user: str
    proof: Proof = Proof.OPERATOR


def allowed(
    *roles: StaffRole, access: Access = Access.CHANGE
) -> Callable[[Callable[Concatenate[UnitOfWork, P], R]], Callable[Concatenate[UnitOfWork, P], R]]:
    """Declare the roles that may call a use case (anyone else is refused before it runs),
    and what it does to the records. What it returns comes with its times on the clinic's
    clock."""
    permitted = frozenset(roles)

    def declare(
        use_case: Callable[Concatenate[UnitOfWork, P], R],
    ) -> Callable[Concatenate[UnitOfWork, P], R]:
        name = use_case_name(use_case)
        USE_CASES[name] = permitted
        ACCESS[name] = access

        @functools.wraps(use_case)
        def checked(uow: UnitOfWork, /, *args: P.args, **kwargs: P.kwargs) -> R:
            uow.require(permitted, name)
            return on_clinic_clock(use_case(uow, *args, **kwargs), uow.zone)

        return checked

    return declare


def use_case_name(use_case: Callable[..., object]) -> str:
    """ "module.function", as USE_CASES and ACCESS know it."""
    return f"{use_case.__module__.rsplit('.', 1)[-1]}.{use_case.__name__}"


def runs_as_declared(declared: str, use_case: Callable[..., object]) -> None:
    """Refuse to run a use case that permits other roles than the one a front end declared
    it runs: its members were refused by the declared one's roles before their input was
    checked, so a mismatch would refuse by the wrong roles (a mistake in the code, 500)."""
    name = use_case_name(use_case)
    if USE_CASES[declared] != USE_CASES[name]:
        raise RuntimeError(f"the endpoint declares {declared} but runs {name}")


def refusal(principal: Principal | None, permitted: frozenset[StaffRole], name: str) -> Forbidden:
    what = name.replace("_", " ").replace(".", " ")
    if principal is None:
        return Forbidden.one(
            f"{what}: nobody is named as acting; give --as STAFF (an id or a name) or set "
            "DERMAPLAN_STAFF (the first admin is added with `dermaplan staff add NAME "
            "--role admin`)"
        )
    return refusal_of(principal.name, principal.roles, permitted, name)


def refusal_of(
    who: str, roles: frozenset[StaffRole], permitted: frozenset[StaffRole], name: str
) -> Forbidden:
    """The refusal of a member whose roles a use case does not permit, in its words."""
    what = name.replace("_", " ").replace(".", " ")
    held = ", ".join(sorted(r.value for r in roles))
    needed = " or ".join(sorted(r.value for r in permitted))
    return Forbidden.one(f"{what}: {who} ({held}) may not; it needs {needed}")
