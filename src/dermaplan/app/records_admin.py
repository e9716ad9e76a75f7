"""Looking after the records: checking the audit log, backing up and restoring. An
admin's work."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import computed_field

from dermaplan.app.principal import ADMIN, Access, allowed
from dermaplan.app.reads import ReadModel
from dermaplan.app.unit import Application, UnitOfWork
from dermaplan.records.errors import InvalidInput

if TYPE_CHECKING:
    from dermaplan.records.backup import Progress
    from dermaplan.records.settings import Settings


class AuditReport(ReadModel):
    events: int  # events that verify, up to the first broken link if any
    chains: int  # the chains they are on (records.lanes)
    broken: str | None  # the first broken link of a chain
    cut: str | None  # why a chain no longer reaches its anchor
    changed: list[str]  # records and photo files that do not match the log
    ahead: list[str]  # chains with events the anchor does not hold yet: a warning
    anchor: str  # where the anchor is kept, for a person
    anchored: int | None  # the chains the anchor records; None: no anchor yet
    keyring: str  # where the audit keys are kept, for a person

    @computed_field  # type: ignore[prop-decorator]
    @property
    def intact(self) -> bool:
        return self.broken is None and self.cut is None and not self.changed


class BackupMade(ReadModel):
    path: Path
    revision: str
    events: int
    photo_files: int
    photos: Path


class Restored(ReadModel):
    path: Path
    events: int
    photo_files: int
    photos_copied: int
    kept_aside: Path


@allowed(ADMIN, access=Access.READ)
def verify(uow: UnitOfWork) -> AuditReport:
    """The audit log checked: its hash chains and their keys, their anchor, every record
    against what the log says of it, and the photo files."""
    from dermaplan.records.anchor import anchor_store
    from dermaplan.records.integrity import verify_log
    from dermaplan.records.keyring import Keyring, keyring_file

    settings = uow.application.settings
    anchor, keys = anchor_store(settings), keyring_file(settings)
    keyring = keys.read() or Keyring(keys.where, ())
    report = verify_log(uow.session, anchor, keyring=keyring, photos=uow.application.photos)
    chain, anchored = report.chain, report.anchor
    assert anchored is not None  # an anchor was given
    return AuditReport(
        events=chain.events,
        chains=len(chain.heads),
        broken=chain.broken.reason if chain.broken else None,
        cut=anchored.cut,
        changed=list(report.changed),
        ahead=report.ahead,
        anchor=anchor.where,
        anchored=len(anchored.anchor.heads) if anchored.anchor else None,
        keyring=keys.where,
    )


class AuditLine(ReadModel):
    """One event of the log, as a person reads it: when, who, what, on which record."""

    at: dt.datetime
    action: str
    record_type: str
    record_id: str | None
    patient_id: uuid.UUID | None  # an id: the log names no patient
    staff_id: uuid.UUID | None
    staff: str | None  # the member's name; None for the program's own events
    actor: str  # the operating-system user or service that ran the program


class AuditLogPage(ReadModel):
    events: list[AuditLine]
    page: int  # from 1
    pages: int
    total: int  # of the events that meet the filter
    members: dict[uuid.UUID, str]  # the clinic's staff by id, to filter by
    actions: list[str]  # every action the log knows, to filter by


AUDIT_PAGE_SIZE = 50


@allowed(ADMIN, access=Access.AUDITED_READ)
def audit_log(
    uow: UnitOfWork,
    page: int = 1,
    *,
    member: uuid.UUID | None = None,
    action: str | None = None,
    patient: uuid.UUID | None = None,
    day: dt.date | None = None,
) -> AuditLogPage:
    """A page of the clinic's audit log, the latest event first, narrowed to one member,
    one action, one patient or one day of the clinic's (any of them); the reading is
    audited."""
    from dermaplan.records.audit import AuditAction, LogFilter, read_log
    from dermaplan.records.clinics import day_starts
    from dermaplan.records.service import clinic_staff

    problems = []
    if page < 1:
        problems.append(f"page: {page} is not a page; pages count from 1")
    actions = [a.value for a in AuditAction]
    if action is not None and action not in actions:
        problems.append(f"action: '{action}' is not an action of the log (e.g. patient.read)")
    names = {m.id: m.name for m in clinic_staff(uow.session, uow.clinic_id)}
    if member is not None and member not in names:
        problems.append(f"member: no member of this clinic has the id {member}")
    if problems:
        raise InvalidInput(problems)
    since, before = day_starts(day, uow.zone) if day is not None else (None, None)
    wanted = LogFilter(member, AuditAction(action) if action else None, patient, since, before)
    offset = (page - 1) * AUDIT_PAGE_SIZE
    total, events = read_log(
        uow.session, uow.context, uow.clinic_id, offset, AUDIT_PAGE_SIZE, wanted
    )
    return AuditLogPage(
        events=[
            AuditLine(
                at=event.occurred_at,
                action=event.action,
                record_type=event.record_type,
                record_id=event.record_id,
                patient_id=event.patient_id,
                staff_id=event.staff_id,
                staff=names.get(event.staff_id) if event.staff_id else None,
                actor=event.actor,
            )
            for event in events
        ],
        page=page,
        pages=max(1, -(-total // AUDIT_PAGE_SIZE)),
        total=total,
        members=names,
        actions=actions,
    )


class KeyRotated(ReadModel):
    key: str  # the key that signs from now on
    retired: str  # the key it replaces, kept to verify what it signed
    keys: int  # the keys the keyring holds
    keyring: Path


@allowed(ADMIN)
def rotate_key(uow: UnitOfWork) -> KeyRotated:
    """A new audit key signs from now on, this rotation's event first; the keys before it
    stay in the keyring to verify what they signed."""
    from dermaplan.records.audit import rotate_audit_key
    from dermaplan.records.keyring import keyring_file

    keys = keyring_file(uow.application.settings)
    rotated = rotate_audit_key(uow.session, uow.context, uow.clinic_id, keys)
    return KeyRotated(
        key=rotated.keys[-1].id,
        retired=rotated.keys[-2].id,
        keys=len(rotated.keys),
        keyring=keys.path,
    )


@allowed(ADMIN, access=Access.READ)
def backup(
    uow: UnitOfWork, path: Path | None = None, progress: Progress | None = None
) -> BackupMade:
    """An online copy of the database at `path` (by default a new file in the backups
    folder) and its photo files beside it, checked (run in a unit that reads only: the
    copy is taken while the clinic works)."""
    from dermaplan.records.backup import backup as make_backup
    from dermaplan.records.backup import default_target, photos_folder, quiet
    from dermaplan.records.errors import BackupError

    application = uow.application
    path = path or default_target(application.settings)
    try:
        verified = make_backup(application.engine, path, application.photos, progress or quiet)
    except BackupError as error:
        raise InvalidInput.one(str(error)) from None
    return BackupMade(
        path=path,
        revision=verified.revision,
        events=verified.events,
        photo_files=len(verified.photo_files),
        photos=photos_folder(path),
    )


def restore(
    application: Application, acting: str | None, path: Path, progress: Progress | None = None
) -> Restored:
    """Replace the database with a checked backup. The one use case that takes the
    application rather than a unit: it replaces the database a unit would run in, so it
    checks who is acting in a unit of its own, then restores outside it."""
    from dermaplan.records.backup import quiet
    from dermaplan.records.backup import restore as restore_backup
    from dermaplan.records.errors import BackupError

    with application.unit(acting, access=Access.READ) as uow:
        uow.require(frozenset({ADMIN}), "restore")
    try:
        report = restore_backup(
            application.engine,
            path,
            application.photos,
            application.settings.home,
            progress or quiet,
        )
    except BackupError as error:
        raise InvalidInput.one(str(error)) from None
    return Restored(
        path=path,
        events=report.verified.events,
        photo_files=len(report.verified.photo_files),
        photos_copied=report.photos_copied,
        kept_aside=report.kept_aside,
    )


class Initialised(ReadModel):
    where: str  # the database, for a person
    before: str | None  # its schema revision before; None: made now
    revision: str  # its schema revision now: this version's
    home: Path
    anchor: Path
    keyring: Path


def initialise(settings: Settings, *, upgrade_schema: bool = False) -> Initialised:
    """Make the home folder, the database at this version's schema, its audit keyring and
    anchor, whichever are missing (`upgrade_schema`: also bring an older schema to this version).
    Before any clinic or staff exists, so nobody acts: it takes the settings alone."""
    from dermaplan.records.db import HEAD_REVISION
    from dermaplan.records.db import initialise as make

    done = make(settings, upgrade_schema=upgrade_schema)
    return Initialised(
        where=done.where,
        before=done.before,
        revision=HEAD_REVISION,
        home=settings.home,
        anchor=settings.audit_anchor,
        keyring=settings.audit_keyring,
    )
