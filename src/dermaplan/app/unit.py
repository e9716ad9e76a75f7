"""The unit of work: one transaction, who is acting, and the clock, per command or request.

An `Application` is made once per process from the settings (the engine, the photo storage
and the clock live there); each command or request enters `application.unit(acting)` once:
the block commits when it ends and writes nothing when it raises. Use cases take the unit.
A unit that changes records holds its clinic's change lane from before the use case reads
anything (records.lanes), so two changes of one clinic cannot lose an update, while
changes of other clinics, and reads, go on beside it.

A front end that establishes who is asking from the records (a browser's session, an API
token) gives the unit that check (`Identify`) instead of a name: it runs first, inside the
unit's transaction, so a request is served in one transaction, the check included.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Concatenate, ParamSpec, Protocol, TypeVar

from dermaplan.app.principal import Access, Principal, Proof, refusal
from dermaplan.records.context import Context, utc_now
from dermaplan.records.enums import StaffRole
from dermaplan.records.errors import Forbidden, InvalidInput

P = ParamSpec("P")
R = TypeVar("R")

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from dermaplan.records.models import Staff
    from dermaplan.records.photos import PhotoStorage
    from dermaplan.records.settings import Settings


class Identify(Protocol):
    """Who is acting, found inside a unit of work from its session, its time and whether it
    writes (what may be noted then, such as a session's use): their member of staff, or
    Unauthenticated (app.logins); and how they showed it (`proof`)."""

    @property
    def proof(self) -> Proof: ...

    def __call__(self, session: Session, now: dt.datetime, writes: bool, /) -> Staff: ...


class Application:
    """What lives as long as the process: settings, the database engine, photo storage and
    the clock. The engine opens (and the schema is checked) on first use."""

    def __init__(self, settings: Settings, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.settings = settings
        self.clock = clock

    @cached_property
    def engine(self) -> Engine:
        from dermaplan.records.db import open_records

        return open_records(self.settings)

    @cached_property
    def photos(self) -> PhotoStorage:
        from dermaplan.records.photos import photo_storage

        return photo_storage(self.settings)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
            del self.__dict__["engine"]

    @contextmanager
    def unit(
        self, acting: str | Identify | None, *, access: Access = Access.CHANGE
    ) -> Iterator[UnitOfWork]:
        """One transaction acting as the member of staff named by `acting` (an id or a
        name, or the check that finds them; None: nobody, which only the first admin's
        creation accepts)."""
        from dermaplan.records.db import transaction
        from dermaplan.records.lanes import hold_changes, hold_setup

        writes = access is not Access.READ
        with transaction(self.engine, write=writes) as session:
            principal = _principal(session, acting, self.settings, self.clock(), writes)
            if access is Access.CHANGE:
                if principal is None:
                    hold_setup(session)
                else:
                    hold_changes(session, principal.clinic_id)
            context = Context(
                actor=self.settings.actor,
                now=self.clock(),
                staff_id=principal.staff_id if principal else None,
            )
            yield UnitOfWork(self, session, context, principal)

    def permit(self, acting: str | None, use_case: Callable[..., object]) -> None:
        """Refuse the member `acting` (Forbidden, in the use case's words) unless one of
        their roles may call `use_case`: for a front end about to read the input for it,
        which a member who may not call it is never told about (the web's sessions ask
        `logins.Member.permit`). The use case checks again when it runs."""
        from dermaplan.app.principal import USE_CASES, use_case_name

        name = use_case_name(use_case)
        with self.unit(acting, access=Access.READ) as uow:
            uow.require(USE_CASES[name], name)

    def run(
        self,
        acting: str | Identify | None,
        use_case: Callable[Concatenate[UnitOfWork, P], R],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """One use case in a unit of its own, with the access it declares (`allowed`), as
        the member `acting`: what every front end does for a command or a request."""
        from dermaplan.app.principal import ACCESS, use_case_name

        access = ACCESS.get(use_case_name(use_case), Access.CHANGE)
        with self.unit(acting, access=access) as uow:
            return use_case(uow, *args, **kwargs)


class UnitOfWork:
    def __init__(
        self,
        application: Application,
        session: Session,
        context: Context,
        principal: Principal | None,
    ) -> None:
        self.application = application
        self.session = session
        self.context = context
        self.principal = principal

    @cached_property
    def clinic_id(self) -> uuid.UUID:
        """The acting member's clinic; with nobody acting, the database's only clinic
        (made on first use)."""
        if self.principal is not None:
            return self.principal.clinic_id
        from dermaplan.records.service import default_clinic

        return default_clinic(self.session, self.context).id

    @property
    def zone(self) -> ZoneInfo:
        """The clinic's time zone: its days and its wall clock."""
        from dermaplan.records.repository import ClinicRepository

        return ClinicRepository(self.session).zone(self.clinic_id)

    def require(self, permitted: frozenset[StaffRole], name: str) -> Principal:
        """The acting member, if one of their roles is permitted; Forbidden otherwise."""
        principal = self.principal
        if principal is None or not principal.roles & permitted:
            raise refusal(principal, permitted, name)
        return principal

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """A part of the unit that may be refused: when it raises, what it wrote is undone,
        its audit events with it (a savepoint; the chain then goes on from the head before
        it, records.lanes), and the unit goes on."""
        with self.session.begin_nested():
            yield

    @property
    def acting(self) -> Principal:
        """The member acting, inside a use case that `allowed` has already let through
        (every such use case has one: nobody acting is refused before it runs)."""
        return self.require(frozenset(StaffRole), "acting")

    def in_own_name(self, field: str, named: uuid.UUID | None) -> uuid.UUID:
        """The member acting, for a record's `field` that says who did it: filled in when
        left out, refused at that field when it names anyone else (nobody records in
        another's name)."""
        principal = self.acting
        if named is not None and named != principal.staff_id:
            raise InvalidInput.one(
                f"{field}: {named} is not the member acting ({principal.name}, "
                f"{principal.staff_id}); leave {field} out, or record it acting as that member"
            )
        return principal.staff_id


def _principal(
    session: Session,
    acting: str | Identify | None,
    settings: Settings,
    now: dt.datetime,
    writes: bool,
) -> Principal | None:
    from dermaplan.records.repository import staff_named

    if not isinstance(acting, str | None):
        return _principal_of(acting(session, now, writes), settings, acting.proof)
    if acting is None or not acting.strip():
        return None
    found = staff_named(session, acting)
    if not found:
        raise Forbidden.one(f"acting as '{acting}': no active member of staff has that id or name")
    if len(found) > 1:
        raise Forbidden.one(
            f"acting as '{acting}': {len(found)} members of staff have that name; give the id"
        )
    return _principal_of(found[0], settings, Proof.OPERATOR)


def _principal_of(member: Staff, settings: Settings, proof: Proof) -> Principal:
    return Principal(
        member.id, member.clinic_id, member.name, frozenset({member.role}), settings.actor, proof
    )
