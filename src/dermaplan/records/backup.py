"""Backup and restore: an online copy for SQLite, a pg_dump archive for PostgreSQL, and
the photo files beside it.

A backup `PATH` has its photo files in the folder `PATH.photos`, under their storage keys:
every file a photo row of the copy refers to, checked against its SHA-256. Whatever is copied
is checked as `dermaplan audit verify` checks the live database (records.integrity: the
chains, every record against its audited state), all but the anchor, which is the live
database's: a backup after it is made, a restore before it replaces anything; a restore also
checks every photo row's file, in `PATH.photos` or already in the storage. A damaged file is
refused with one line naming it, whatever in it is damaged.

Both work in a folder of their own (records.scratch) beside what they make or replace,
removed as they end, and by the next one if they are killed; a backup puts its folder and
file in place only when both are whole, never over anything. A restore copies the backup
there and checks the copy, puts the photo files into the storage (never over an existing
one: a key names one content), then replaces the database through a journal
(records.swap), so a restore killed at any point is finished or undone by the next command;
the database it replaces is kept aside, never deleted. What either writes is readable by its
owner only (records.private).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dermaplan.records.anchor import database_id, identify
from dermaplan.records.db import (
    HEAD_REVISION,
    REVISION_QUERY,
    create_records_engine,
    live_database,
    sqlite_file,
    transaction,
)
from dermaplan.records.errors import BackupError
from dermaplan.records.integrity import verify_log
from dermaplan.records.keyring import Keyring, engine_keyring
from dermaplan.records.lanes import Chain, Head
from dermaplan.records.models import Photo
from dermaplan.records.photos import LocalFolderStorage, PhotoStorage
from dermaplan.records.private import create_private_file, private_folder
from dermaplan.records.scratch import publish, work_folder
from dermaplan.records.swap import Journal, chain_heads, complete, restorer, settle

if TYPE_CHECKING:
    from dermaplan.records.settings import Settings


# what a long backup or restore tells whoever waits: (stage, done, total), stage by stage
Progress = Callable[[str, int, int], None]
REPLACING = "replacing the database"
# SQLite: journal written, live file set aside, copy in place, anchored; PostgreSQL: live
# database kept aside, journal written, restored, anchored
REPLACING_STEPS = 4
# what reading a damaged copy raises: the database's errors (a malformed page, text that
# is not UTF-8), or a value Dermaplan never writes that does not parse
_DAMAGE = (SQLAlchemyError, sqlite3.Error, ValueError, LookupError, TypeError, ArithmeticError)


def quiet(stage: str, done: int, total: int) -> None:
    """No one is watching."""


@dataclass(frozen=True, slots=True)
class Verified:
    revision: str
    events: int
    heads: dict[Chain, Head]  # each chain's last event
    photo_files: dict[str, str]  # storage key → SHA-256, for every photo row of the copy
    database: uuid.UUID  # its id (records.models.DatabaseIdentity): a copy keeps it


@dataclass(frozen=True, slots=True)
class RestoreReport:
    verified: Verified
    kept_aside: Path  # the replaced database: the SQLite file, or a pg_dump archive of it
    photos_copied: int  # files put into the storage (the others were there already)


def default_target(settings: Settings) -> Path:
    """A new file in the backups folder (made if missing), named by the time in UTC."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return private_folder(settings.backups) / f"dermaplan-{stamp}.backup"


def photos_folder(path: Path) -> Path:
    """Where the photo files of the backup `path` are: `<path>.photos` beside it."""
    return path.with_name(f"{path.name}.photos")


def _printable(said: str) -> str:
    """What a damaged file made a check say, for one line: its first 200 printable
    characters (a damaged file's text may hold anything, terminal escapes included)."""
    return "".join(c if c.isprintable() else "?" for c in " ".join(said.split()))[:200]


def _shown(error: BaseException) -> str:
    """An error, the driver's own if it wraps one, as `_printable` gives it."""
    return _printable(str(getattr(error, "orig", None) or error))


def _keyring(engine: Engine) -> Keyring:
    """The keys that signed the live database's log, which signed its backups' too."""
    keys = engine_keyring(engine)
    found = keys.read() if keys is not None else None
    return found or Keyring(keys.where if keys else "(none set)", ())


def _verify(url: str, name: str, keyring: Keyring) -> Verified:
    """Check a copy as `audit verify` checks the live database, all but the anchor (it has
    none of its own) and the photo files (checked as they are copied), at this schema
    revision; a BackupError naming `name` (the backup, not
    the copy being checked) says what is wrong."""
    engine = create_records_engine(url)
    try:
        with transaction(engine, write=False) as session:
            revision = session.execute(text(REVISION_QUERY)).scalar_one()
            if revision != HEAD_REVISION:
                raise BackupError(
                    f"{name}: at schema revision {revision}, this Dermaplan needs {HEAD_REVISION}"
                )
            report = verify_log(session, None, keyring=keyring, photos=None)
            rows = session.execute(select(Photo.storage_key, Photo.sha256).distinct())
            files = dict(rows.all())
            database = database_id(session)
    except _DAMAGE as error:
        raise BackupError(f"{name}: damaged, or not a Dermaplan backup ({_shown(error)})") from None
    finally:
        engine.dispose()
    if not report.intact:
        problems = report.problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BackupError(f"{name}: fails the audit check: {_printable(problems[0])}{more}")
    return Verified(revision, report.chain.events, report.chain.heads, files, database)


def _integrity(copy: Path, name: str) -> None:
    """SQLite's own check of every page, before anything reads the rows."""
    if copy.stat().st_size == 0:
        raise BackupError(f"{name}: an empty file, not a backup")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{copy}?mode=ro", uri=True)) as db:
            result = db.execute("PRAGMA integrity_check").fetchone()
    except (sqlite3.Error, UnicodeDecodeError) as error:  # a report naming garbled names
        raise BackupError(f"{name}: not a readable SQLite database ({_shown(error)})") from None
    if result is None or result[0] != "ok":
        found = _printable(str(result[0]) if result else "no answer")
        raise BackupError(f"{name}: damaged (SQLite's integrity check: {found})")


def _check_copy(engine: Engine, copy: Path, name: str) -> Verified:
    """The whole check of a copy of the database of `engine`'s kind, the copy named `name`
    in what it says."""
    if engine.url.get_backend_name() == "sqlite":
        _integrity(copy, name)
        return _verify(f"sqlite:///{copy}", name, _keyring(engine))
    _pg("pg_restore", None, "--list", str(copy), about=f"{name}: not a PostgreSQL backup")
    with _scratch_database(engine.url) as scratch:
        _pg(
            "pg_restore",
            scratch,
            "--single-transaction",
            "--no-owner",
            str(copy),
            about=f"{name}: damaged, or not a Dermaplan backup",
        )
        return _verify(scratch.render_as_string(hide_password=False), name, _keyring(engine))


def _flushed(path: Path) -> None:
    with path.open("rb+") as stream:
        os.fsync(stream.fileno())


def _content(storage: PhotoStorage, key: str, sha256: str, where: str) -> bytes | None:
    """The file under `key`, or None if there is none; BackupError if it is not the one
    recorded (same key, other bytes: altered)."""
    try:
        content = storage.get(key)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise BackupError(f"photo file {key} in {where}: cannot be read ({error})") from None
    if hashlib.sha256(content).hexdigest() != sha256:
        raise BackupError(
            f"photo file {key} in {where}: altered (its SHA-256 is not the one recorded)"
        )
    return content


def _copy_photos(
    files: dict[str, str], storage: PhotoStorage, folder: Path, progress: Progress
) -> None:
    """Copy the files from the storage into a new folder, each checked."""
    copy = LocalFolderStorage(private_folder(folder))
    for done, (key, sha256) in enumerate(sorted(files.items()), start=1):
        content = _content(storage, key, sha256, "the storage")
        if content is None:
            raise BackupError(f"photo file {key}: missing from the storage")
        copy.put(key, content)
        progress("copying the photo files", done, len(files))


def _refuse_target(target: Path) -> None:
    """BackupError unless `target` can be a new file, and `target`.photos a new folder."""
    if not target.name or target.name in (".", ".."):
        raise BackupError(f"'{target}': a backup is a new file; give its name, not a folder")
    if not target.parent.is_dir():
        raise BackupError(f"{target}: not a new file in an existing folder")
    for path in (target, photos_folder(target)):
        try:
            os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as error:  # a name too long, a folder that cannot be searched …
            raise BackupError(f"{path}: cannot be written ({error.strerror})") from None
        raise BackupError(f"{path}: already exists; nothing was overwritten")


def backup(
    engine: Engine, target: Path, storage: PhotoStorage, progress: Progress = quiet
) -> Verified:
    """Copy the live database to `target` (a new file) and check the copy; copy the photo
    files its rows refer to from `storage` into `target`.photos (a new folder). Both appear
    whole, or neither."""
    _refuse_target(target)
    try:
        with work_folder(target.parent) as work:
            copy = create_private_file(work / "backup")
            progress("copying the database", 0, 1)
            if engine.url.get_backend_name() == "sqlite":
                _copy_sqlite(sqlite_file(engine), copy, target)
            else:
                _pg("pg_dump", engine.url, "--format=custom", f"--file={copy}", about=str(target))
            progress("copying the database", 1, 1)
            progress("checking the copy", 0, 1)
            verified = _check_copy(engine, copy, str(target))
            progress("checking the copy", 1, 1)
            _copy_photos(verified.photo_files, storage, work / "photos", progress)
            _flushed(copy)
            publish(work, [(work / "photos", photos_folder(target)), (copy, target)])
    except FileExistsError as error:
        raise BackupError(f"{error.filename}: already exists; nothing was overwritten") from None
    except OSError as error:
        raise BackupError(f"{target}: cannot be written ({error.strerror})") from None
    return verified


def _copy_sqlite(live: Path, copy: Path, target: Path) -> None:
    try:
        with (
            contextlib.closing(sqlite3.connect(live)) as source,
            contextlib.closing(sqlite3.connect(copy)) as made,
        ):
            # online and in one step: readers and writers carry on meanwhile (in steps, every
            # write elsewhere would restart the copy)
            source.backup(made)
    except sqlite3.Error as error:
        raise BackupError(f"{target}: cannot be written: {error}") from None


def _photos_to_restore(
    files: dict[str, str], source: Path, storage: PhotoStorage
) -> dict[str, bytes]:
    """The backup's photo files the storage lacks, each checked; BackupError listing every
    file that is in neither place as recorded."""
    saved = LocalFolderStorage(photos_folder(source))
    wanted: dict[str, bytes] = {}
    problems = []
    for key, sha256 in sorted(files.items()):
        try:
            if _content(storage, key, sha256, "the storage") is not None:
                continue
            content = _content(saved, key, sha256, str(saved.root))
        except BackupError as error:
            problems.append(str(error))
            continue
        if content is None:
            problems.append(f"photo file {key}: missing from {saved.root}")
        else:
            wanted[key] = content
    if problems:
        raise BackupError(
            f"{len(problems)} of the backup's {len(files)} photo files cannot be restored, "
            f"nothing was replaced: {'; '.join(problems)}"
        )
    return wanted


def _put_photos(wanted: dict[str, bytes], storage: PhotoStorage, progress: Progress) -> int:
    """Before the database is replaced: a file without its row is harmless, not the reverse."""
    for done, (key, content) in enumerate(wanted.items(), start=1):
        storage.put(key, content)
        progress("copying the photo files", done, len(wanted))
    return len(wanted)


def restore(
    engine: Engine, source: Path, storage: PhotoStorage, home: Path, progress: Progress = quiet
) -> RestoreReport:
    """Replace the live database with a backup, and bring its photo files into `storage`,
    once a copy of the backup has passed every check; the audit anchor then records the
    restored log's heads (records.anchor). `home` is where a PostgreSQL restore keeps its
    journal (a SQLite one keeps it beside the database)."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    live = live_database(engine, home)
    try:
        with work_folder(live.folder) as work:
            copy = create_private_file(work / "restored")
            progress("checking the backup", 0, 1)
            shutil.copyfile(source, copy)  # the copy keeps the file's mode
            verified = _check_copy(engine, copy, str(source))
            progress("checking the backup", 1, 1)
            wanted = _photos_to_restore(verified.photo_files, source, storage)
            copied = _put_photos(wanted, storage, progress)
            progress(REPLACING, 0, REPLACING_STEPS)
            engine.dispose()
            # what is replaced is kept, unchecked on purpose: a damaged database is what one
            # restores over; on SQLite the checked copy takes the live file's place
            unique = uuid.uuid4().hex[:8]
            if live.file is not None:
                aside = live.file.with_name(f"{live.file.name}.replaced-{unique}")
            else:
                aside = source.with_name(f"replaced-{unique}.backup")
            journal = Journal(
                live=live.where,
                source=str(source),
                database=verified.database,
                heads=verified.heads,
                replaced={},
                copy=copy if live.file is not None else None,
                aside=aside,
            )
            if journal.copy is not None:
                _flushed(copy)
                _swap_sqlite(engine, journal, work, progress)
            else:
                _swap_pg(engine, journal, copy, work, progress)
    except OSError as error:
        raise BackupError(f"{source}: cannot be restored ({_shown(error)})") from None
    identify(engine, verified.database)
    return RestoreReport(verified, aside, copied)


def _steps(progress: Progress) -> Callable[[], None]:
    """Report each step of replacing the database as it is done."""
    done = [0]

    def step() -> None:
        done[0] += 1
        progress(REPLACING, done[0], REPLACING_STEPS)

    return step


def _swap_sqlite(engine: Engine, journal: Journal, work: Path, progress: Progress) -> None:
    step = _steps(progress)
    journal.write(work)
    step()
    complete(engine, journal, work, step)


def _swap_pg(engine: Engine, journal: Journal, copy: Path, work: Path, progress: Progress) -> None:
    with Session(engine) as session:
        journal = replace(journal, replaced=chain_heads(session))
    step = _steps(progress)
    journal.write(work)
    step()
    try:
        with work_folder(journal.aside.parent) as beside:
            dump = create_private_file(beside / "replaced")
            _pg(
                "pg_dump", engine.url, "--format=custom", f"--file={dump}", about=str(journal.aside)
            )
            _flushed(dump)
            publish(beside, [(dump, journal.aside)])
        step()
        _pg(
            "pg_restore",
            engine.url,
            "--clean",
            "--if-exists",
            "--single-transaction",
            str(copy),
            about=f"{journal.source}: cannot be restored into {journal.live}",
            name=restorer(work),
        )
    except (BackupError, OSError):
        settle(engine, journal, work)  # never committed: undone, the copy kept aside too
        raise
    step()
    complete(engine, journal, work, step)


# -- PostgreSQL ------------------------------------------------------------------------

SCRATCH = "dermaplan_scratch_"  # the databases a backup is checked in, each dropped after


def _schema_of(url: URL) -> str | None:
    """The schema a URL selects through `options=-csearch_path=…`, if any."""
    options = url.query.get("options")
    text_ = options if isinstance(options, str) else " ".join(options or ())
    for part in text_.split():
        if part.startswith("-csearch_path="):
            return part.removeprefix("-csearch_path=")
    return None


def _pg(tool: str, url: URL | None, *args: str, about: str, name: str | None = None) -> None:
    """Run pg_dump or pg_restore against `url` (None: no connection), as `name` to the
    server (application_name); BackupError starting with `about` if it fails."""
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (it comes with the PostgreSQL client)")
    command = [tool, *args]
    env = dict(os.environ)
    if name is not None:
        env["PGAPPNAME"] = name
    if url is not None:
        command += [
            f"--host={url.host or 'localhost'}",
            f"--port={url.port or 5432}",
            f"--username={url.username or 'postgres'}",
            f"--dbname={url.database}",
        ]
        schema = _schema_of(url)
        if schema and tool == "pg_dump":
            command.append(f"--schema={schema}")
        if url.password:
            env["PGPASSWORD"] = str(url.password)
    result = subprocess.run(command, capture_output=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        said = result.stderr.decode("utf-8", "replace")
        problem = _printable(said) or f"exit code {result.returncode}"
        raise BackupError(f"{about}: {tool} failed: {problem}")


def scratch_lock(name: str) -> int:
    """The advisory lock that holds a scratch database while its process lives."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], signed=True)


@contextlib.contextmanager
def _scratch_database(url: URL) -> Iterator[URL]:
    """A new, empty database on the same server, dropped afterwards. The session that made
    it holds an advisory lock named after it until then: one whose process died (its session
    ends with it) is dropped by the next."""
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"{SCRATCH}{uuid.uuid4().hex[:16]}"
    try:
        connection = admin.connect()
        _drop_abandoned(connection)
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": scratch_lock(name)})
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except SQLAlchemyError as error:  # no CREATEDB right, server gone …
        admin.dispose()
        raise BackupError(
            f"cannot create a scratch database to check the backup: {_shown(error)}"
        ) from None
    try:
        yield url.set(database=name)
    finally:
        with contextlib.suppress(SQLAlchemyError):  # else the next one drops it
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.close()
        admin.dispose()


def _drop_abandoned(connection: Connection) -> None:
    """Drop the scratch databases whose lock nobody holds: their process died."""
    found = connection.execute(
        text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
        {"prefix": SCRATCH},
    )
    for name in found.scalars().all():
        key = {"key": scratch_lock(name)}
        if connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar():
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
