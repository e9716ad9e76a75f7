"""Backup and restore: an online copy for SQLite, a pg_dump archive for PostgreSQL, and
the photo files beside it.

A backup `PATH` has its photo files in the folder `PATH.photos`, under their storage keys:
every file a photo row of the copy refers to, checked against its SHA-256. A restore is
checked in full on a scratch copy — it opens, it is at this schema revision, its audit
chain is whole, every photo row's file is in `PATH.photos` or already in the storage with
that SHA-256 — before it touches the live database; the files go into the storage first
(never over an existing one: a key names one content), then the database is replaced; the
SQLite file it replaces is kept aside, never deleted. A backup never overwrites an existing
file or folder; what it writes is readable by its owner only (records.private), and so is a
restored database.
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.engine import URL

from dermaplan.records.anchor import (
    Anchor,
    AnchoredHead,
    database_id,
    engine_anchor,
    identify,
    reset_anchor,
)
from dermaplan.records.audit import check_chain
from dermaplan.records.db import (
    HEAD_REVISION,
    create_records_engine,
    schema_state,
    sqlite_file,
    transaction,
)
from dermaplan.records.errors import DatabaseError
from dermaplan.records.keyring import Keyring, engine_keyring
from dermaplan.records.lanes import Chain, Head
from dermaplan.records.models import Photo
from dermaplan.records.photos import LocalFolderStorage, PhotoStorage
from dermaplan.records.private import create_private_file, private_folder

if TYPE_CHECKING:
    from dermaplan.records.settings import Settings


# what a long backup or restore tells whoever waits: (stage, done, total), stage by stage
Progress = Callable[[str, int, int], None]


def quiet(stage: str, done: int, total: int) -> None:
    """No one is watching."""


class BackupError(DatabaseError):
    """A backup or restore that cannot be done; nothing was changed."""


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


def _keyring(engine: Engine) -> Keyring:
    """The keys that signed the live database's log, which signed its backups' too."""
    keys = engine_keyring(engine)
    found = keys.read() if keys is not None else None
    return found or Keyring(keys.where if keys else "(none set)", ())


def _verify(url: str, keyring: Keyring) -> Verified:
    """The checks a copy must pass before it is trusted: schema revision and audit chain."""
    engine = create_records_engine(url)
    try:
        state = schema_state(engine)
        if state.revision != HEAD_REVISION:
            raise BackupError(
                f"the copy is at schema revision {state.revision}, this Dermaplan needs "
                f"{HEAD_REVISION}"
            )
        with transaction(engine, write=False) as session:
            report = check_chain(session, keyring)
            rows = session.execute(select(Photo.storage_key, Photo.sha256).distinct())
            files = dict(rows.all())
            database = database_id(session)
        if report.broken is not None:
            raise BackupError(f"the copy's audit log is broken: {report.broken.reason}")
        return Verified(state.revision, report.events, report.heads, files, database)
    finally:
        engine.dispose()


def _integrity(path: Path) -> None:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            result = db.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path}: not a readable SQLite database ({error})") from None
    if result is None or result[0] != "ok":
        raise BackupError(f"{path}: the integrity check failed ({result})")


def _publish(partial: Path, target: Path) -> None:
    """Make a finished file visible under its name, atomically and never over another."""
    with partial.open("rb+") as stream:
        os.fsync(stream.fileno())
    try:
        os.link(partial, target)
    except FileExistsError:
        raise BackupError(f"{target}: already exists; nothing was overwritten") from None
    finally:
        partial.unlink()


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
    """Copy the files from the storage into a new folder, each checked, the folder published
    whole (renamed into place) or not at all."""
    if folder.exists():
        raise BackupError(f"{folder}: already exists; nothing was overwritten")
    partial = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}.partial")
    try:
        copy = LocalFolderStorage(private_folder(partial))
        for done, (key, sha256) in enumerate(sorted(files.items()), start=1):
            content = _content(storage, key, sha256, "the storage")
            if content is None:
                raise BackupError(f"photo file {key}: missing from the storage")
            copy.put(key, content)
            progress("copying the photo files", done, len(files))
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def backup(
    engine: Engine, target: Path, storage: PhotoStorage, progress: Progress = quiet
) -> Verified:
    """Copy the live database to `target` (a new file) and check the copy; copy the photo
    files its rows refer to from `storage` into `target`.photos (a new folder)."""
    for path in (target, photos_folder(target)):
        if path.exists():
            raise BackupError(f"{path}: already exists; nothing was overwritten")
    if not target.name or not target.parent.is_dir():
        raise BackupError(f"{target}: not a new file in an existing folder")
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    copied = False
    try:
        create_private_file(partial)
        sqlite = engine.url.get_backend_name() == "sqlite"
        progress("copying the database", 0, 1)
        if sqlite:
            try:
                with (
                    contextlib.closing(sqlite3.connect(sqlite_file(engine))) as live,
                    contextlib.closing(sqlite3.connect(partial)) as copy,
                ):
                    # online and in one step: readers and writers carry on meanwhile (in
                    # steps, every write elsewhere would restart the copy)
                    live.backup(copy)
            except sqlite3.Error as error:
                raise BackupError(f"{target}: cannot be written: {error}") from None
        else:
            _pg("pg_dump", engine.url, "--format=custom", f"--file={partial}")
        progress("copying the database", 1, 1)
        progress("checking the copy", 0, 1)
        if sqlite:
            _integrity(partial)
            verified = _verify(f"sqlite:///{partial}", _keyring(engine))
        else:
            _pg("pg_restore", None, "--list", str(partial))
            verified = _verify_pg_archive(engine.url, partial, _keyring(engine))
        progress("checking the copy", 1, 1)
        _copy_photos(verified.photo_files, storage, photos_folder(target), progress)
        copied = True
        _publish(partial, target)
        copied = False  # published with its database: theirs now
    finally:
        partial.unlink(missing_ok=True)
        if copied:
            shutil.rmtree(photos_folder(target), ignore_errors=True)
    return verified


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
    engine: Engine, source: Path, storage: PhotoStorage, progress: Progress = quiet
) -> RestoreReport:
    """Replace the live database with a backup, and bring its photo files into `storage`,
    once the backup has passed every check; the audit anchor then records the restored
    log's heads (records.anchor)."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    report = (
        _restore_sqlite(engine, source, storage, progress)
        if engine.url.get_backend_name() == "sqlite"
        else _restore_pg(engine, source, storage, progress)
    )
    verified = report.verified
    identify(engine, verified.database)
    store = engine_anchor(engine)
    if store is not None:
        now = dt.datetime.now(dt.UTC)
        heads = {chain: AnchoredHead(*head, now) for chain, head in verified.heads.items()}
        reset_anchor(store, Anchor(verified.database, heads))
    return report


def _restore_pg(
    engine: Engine, source: Path, storage: PhotoStorage, progress: Progress
) -> RestoreReport:
    progress("checking the backup", 0, 1)
    _pg("pg_restore", None, "--list", str(source))
    verified = _verify_pg_archive(engine.url, source, _keyring(engine))
    progress("checking the backup", 1, 1)
    wanted = _photos_to_restore(verified.photo_files, source, storage)
    copied = _put_photos(wanted, storage, progress)
    progress("replacing the database", 0, 1)
    engine.dispose()
    # what is replaced is kept, unverified on purpose: a damaged database is what one restores
    aside = create_private_file(source.with_name(f"replaced-{uuid.uuid4().hex[:8]}.backup"))
    _pg("pg_dump", engine.url, "--format=custom", f"--file={aside}")
    _pg("pg_restore", engine.url, "--clean", "--if-exists", "--single-transaction", str(source))
    progress("replacing the database", 1, 1)
    return RestoreReport(verified, aside, copied)


def _restore_sqlite(
    engine: Engine, source: Path, storage: PhotoStorage, progress: Progress
) -> RestoreReport:
    live = sqlite_file(engine)
    scratch = live.with_name(f".{live.name}.{uuid.uuid4().hex}.restore")
    private_folder(live.parent)
    try:
        progress("checking the backup", 0, 1)
        shutil.copyfile(source, create_private_file(scratch))  # the copy keeps the file's mode
        _integrity(scratch)
        verified = _verify(f"sqlite:///{scratch}", _keyring(engine))
        progress("checking the backup", 1, 1)
        wanted = _photos_to_restore(verified.photo_files, source, storage)
        copied = _put_photos(wanted, storage, progress)
        progress("replacing the database", 0, 1)
        engine.dispose()
        aside = live.with_name(f"{live.name}.replaced-{uuid.uuid4().hex[:8]}")
        if live.exists():
            with contextlib.closing(sqlite3.connect(live)) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the main file holds everything
            os.replace(live, aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{live}{suffix}").unlink(missing_ok=True)
        with scratch.open("rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(scratch, live)
        progress("replacing the database", 1, 1)
        return RestoreReport(verified, aside, copied)
    finally:
        scratch.unlink(missing_ok=True)


# -- PostgreSQL ------------------------------------------------------------------------


def _schema_of(url: URL) -> str | None:
    """The schema a URL selects through `options=-csearch_path=…`, if any."""
    options = url.query.get("options")
    text = options if isinstance(options, str) else " ".join(options or ())
    for part in text.split():
        if part.startswith("-csearch_path="):
            return part.removeprefix("-csearch_path=")
    return None


def _pg(tool: str, url: URL | None, *args: str) -> None:
    """Run pg_dump or pg_restore against `url` (None: no connection), or raise."""
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (it comes with the PostgreSQL client)")
    command = [tool, *args]
    env = dict(os.environ)
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
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        problem = " ".join(result.stderr.split()) or f"exit code {result.returncode}"
        raise BackupError(f"{tool} failed: {problem}")


@contextlib.contextmanager
def _scratch_database(url: URL) -> Iterator[URL]:
    """A new, empty database on the same server, dropped afterwards."""
    name = f"dermaplan_restore_check_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as error:  # no CREATEDB right, server gone …
        admin.dispose()
        raise BackupError(
            f"cannot create a scratch database to check the backup: {error}"
        ) from None
    try:
        yield url.set(database=name)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _verify_pg_archive(url: URL, archive: Path, keyring: Keyring) -> Verified:
    """Restore the archive into a scratch database and check it there."""
    with _scratch_database(url) as scratch:
        _pg("pg_restore", scratch, "--single-transaction", "--no-owner", str(archive))
        return _verify(scratch.render_as_string(hide_password=False), keyring)
