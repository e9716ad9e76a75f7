"""Backup and restore: an online copy for SQLite, a pg_dump archive for PostgreSQL.

A restore is checked in full on a scratch copy — it opens, it is at this schema revision,
its audit chain is whole — before it touches the live database; the SQLite file it replaces
is kept aside, never deleted. A backup never overwrites an existing file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from dermaplan.records.anchor import Anchor, anchor_path, reset_anchor
from dermaplan.records.audit import check_chain
from dermaplan.records.db import create_records_engine, head_revision, schema_state, transaction
from dermaplan.records.errors import DatabaseError


class BackupError(DatabaseError):
    """A backup or restore that cannot be done; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Verified:
    revision: str
    events: int
    head: str  # the hash of its last event


@dataclass(frozen=True, slots=True)
class RestoreReport:
    verified: Verified
    kept_aside: Path  # the replaced database: the SQLite file, or a pg_dump archive of it


def _verify(url: str) -> Verified:
    """The checks a copy must pass before it is trusted: schema revision and audit chain."""
    engine = create_records_engine(url)
    try:
        state = schema_state(engine)
        if state.revision != head_revision():
            raise BackupError(
                f"the copy is at schema revision {state.revision}, this Dermaplan needs "
                f"{head_revision()}"
            )
        with transaction(engine, write=False) as session:
            report = check_chain(session)
        if report.broken is not None:
            raise BackupError(
                f"the copy's audit chain is broken at event {report.broken.seq}: "
                f"{report.broken.reason}"
            )
        return Verified(state.revision, report.events, report.head)
    finally:
        engine.dispose()


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(database)


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


def backup(engine: Engine, target: Path) -> Verified:
    """Copy the live database to `target` (a new file) and check the copy."""
    if target.exists():
        raise BackupError(f"{target}: already exists; nothing was overwritten")
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    try:
        if engine.url.get_backend_name() == "sqlite":
            with (
                contextlib.closing(sqlite3.connect(_sqlite_path(engine))) as live,
                contextlib.closing(sqlite3.connect(partial)) as copy,
            ):
                live.backup(copy)  # online: readers and writers carry on meanwhile
            _integrity(partial)
            verified = _verify(f"sqlite:///{partial}")
        else:
            _pg("pg_dump", engine.url, "--format=custom", f"--file={partial}")
            _pg("pg_restore", None, "--list", str(partial))
            verified = _verify_pg_archive(engine.url, partial)
        _publish(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return verified


def restore(engine: Engine, source: Path) -> RestoreReport:
    """Replace the live database with a backup, once the backup has passed every check;
    the audit anchor then records the restored log's head (records.anchor)."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    report = (
        _restore_sqlite(engine, source)
        if engine.url.get_backend_name() == "sqlite"
        else _restore_pg(engine, source)
    )
    anchor = anchor_path(engine)
    if anchor is not None:
        events, head = report.verified.events, report.verified.head
        reset_anchor(anchor, Anchor(events, head, dt.datetime.now(dt.UTC)) if events else None)
    return report


def _restore_pg(engine: Engine, source: Path) -> RestoreReport:
    _pg("pg_restore", None, "--list", str(source))
    verified = _verify_pg_archive(engine.url, source)
    engine.dispose()
    # what is replaced is kept, unverified on purpose: a damaged database is what one restores
    aside = source.with_name(f"replaced-{uuid.uuid4().hex[:8]}.backup")
    _pg("pg_dump", engine.url, "--format=custom", f"--file={aside}")
    _pg("pg_restore", engine.url, "--clean", "--if-exists", "--single-transaction", str(source))
    return RestoreReport(verified, aside)


def _restore_sqlite(engine: Engine, source: Path) -> RestoreReport:
    live = _sqlite_path(engine)
    scratch = live.with_name(f".{live.name}.{uuid.uuid4().hex}.restore")
    try:
        shutil.copyfile(source, scratch)
        _integrity(scratch)
        verified = _verify(f"sqlite:///{scratch}")
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
        return RestoreReport(verified, aside)
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


def _verify_pg_archive(url: URL, archive: Path) -> Verified:
    """Restore the archive into a scratch database and check it there."""
    with _scratch_database(url) as scratch:
        _pg("pg_restore", scratch, "--single-transaction", "--no-owner", str(archive))
        return _verify(scratch.render_as_string(hide_password=False))
