"""Putting a checked backup in place of the live database, safe to interrupt at any point.

Before a restore changes anything it writes a journal in its work folder (records.scratch):
which database it replaces, the restored log's heads for the anchor, and on SQLite which
file goes where. Every command that opens the database first finishes a restore whose
journal it finds (`finish_interrupted`), so a restore killed at any point leaves the old
database or the restored one, whole and anchored, never none:

- SQLite: the live file (with its -wal and -shm) is renamed aside, the checked copy renamed
  into its place, the anchor reset; whichever of these is not done yet is done from the
  journal, so the swap rolls forward.
- PostgreSQL: the backup is restored in one transaction; whether it committed is read from
  the log's heads (the restored log's, or still those of the log it replaced), so the swap
  rolls forward (the anchor is reset) or back (there is nothing to undo).

A journal that can be neither finished nor undone is an error saying what to do by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import uuid
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from dermaplan.records.anchor import Anchor, AnchoredHead, engine_anchor, reset_anchor
from dermaplan.records.errors import DatabaseError
from dermaplan.records.lanes import Chain, Head
from dermaplan.records.models import AuditEvent
from dermaplan.records.repository import AuditRepository
from dermaplan.records.scratch import (
    JOURNAL,
    PREFIX,
    holding,
    sweep,
    sync_folder,
    work_folders,
    write_durably,
)

_SIDE_FILES = ("-wal", "-shm")  # SQLite's, which belong to the file beside them


@dataclass(frozen=True, slots=True)
class Live:
    """The database a restore replaces: its SQLite file (None on PostgreSQL), what names it
    (the file's absolute path, or the URL without its password), and the folder its
    restores work and keep their journal in."""

    file: Path | None
    where: str
    folder: Path


@dataclass(frozen=True, slots=True)
class Journal:
    live: str  # Live.where
    source: str  # the backup, for a person
    database: uuid.UUID  # the restored database's id
    heads: dict[Chain, Head]  # the restored log's, to anchor
    replaced: dict[Chain, Head]  # PostgreSQL: the live log's before, to tell which is there
    copy: Path | None  # SQLite: the checked copy to put in place
    aside: Path  # where the replaced database is kept

    def write(self, folder: Path) -> None:
        """The point of no return on SQLite (a kill after it finishes the swap): flushed to
        disk, owner-only."""
        write_durably(folder / JOURNAL, json.dumps(_plain(self)))


def _plain(journal: Journal) -> dict[str, object]:
    def heads(found: dict[Chain, Head]) -> dict[str, list[object]]:
        return {chain.key: [seq, hash_] for chain, (seq, hash_) in found.items()}

    return {
        "live": journal.live,
        "source": journal.source,
        "database": str(journal.database),
        "heads": heads(journal.heads),
        "replaced": heads(journal.replaced),
        "copy": None if journal.copy is None else str(journal.copy),
        "aside": str(journal.aside),
    }


def _read(path: Path) -> Journal:
    def heads(raw: dict[str, list[object]]) -> dict[Chain, Head]:
        return {Chain.of_key(key): (int(str(seq)), str(hash_)) for key, (seq, hash_) in raw.items()}

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Journal(
            live=str(raw["live"]),
            source=str(raw["source"]),
            database=uuid.UUID(raw["database"]),
            heads=heads(raw["heads"]),
            replaced=heads(raw["replaced"]),
            copy=None if raw["copy"] is None else Path(raw["copy"]),
            aside=Path(raw["aside"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise DatabaseError(
            f"the journal of an interrupted restore, {path}, cannot be read ({error}); "
            f"check the database, then remove {path.parent}"
        ) from None


def finish_interrupted(engine: Engine, live: Live) -> None:
    """Finish, or on PostgreSQL undo, every restore of `live` that a killed process left
    half done (waiting for one still under way), and remove what killed backups and restores
    left in its folder; DatabaseError if a restore can be neither finished nor undone."""
    folders = work_folders(live.folder)
    if not folders:
        return  # the common case: one look at the folder
    for path in (folder / JOURNAL for folder in folders if (folder / JOURNAL).exists()):
        with holding(path.parent) as held:  # waits for a restore still under way
            if not held or not path.exists():
                continue  # its restore has ended meanwhile
            journal = _read(path)
            if journal.live == live.where:  # else another database's, in the same folder
                settle(engine, journal, path.parent)
    sweep(live.folder)


def settle(engine: Engine, journal: Journal, folder: Path) -> None:
    """Finish the restore whose journal is in `folder`, or undo it if it had not begun to
    change anything (PostgreSQL: the transaction never committed)."""
    if journal.copy is not None or restored(engine, journal, folder):
        complete(engine, journal, folder)
    else:
        journal.aside.unlink(missing_ok=True)  # a copy of the database, which stays as it is
        close(folder / JOURNAL)


def complete(
    engine: Engine, journal: Journal, folder: Path, step: Callable[[], None] = lambda: None
) -> None:
    """Do whatever the journal's restore has not done yet, each step once done reported
    to `step`: on SQLite, the live file set aside and the copy put in its place; then the
    anchor reset to the restored log; then the journal closed."""
    if journal.copy is not None:
        set_aside(journal, journal.copy, folder)
        step()
        put_in_place(journal, journal.copy, folder)
        step()
    anchor_restored(engine, journal)
    step()
    close(folder / JOURNAL)


def set_aside(journal: Journal, copy: Path, folder: Path) -> None:
    """SQLite: move the live file, with its -wal and -shm, to its name aside, unless the
    copy is in its place already."""
    live, aside = Path(journal.live), journal.aside
    if not copy.exists():
        return
    if live.exists():
        if os.path.lexists(aside):
            raise _unfinished(journal, folder, f"both {live} and {aside} exist")
        _checkpoint(live)
        live.rename(aside)
    for suffix in _SIDE_FILES:  # after the file: the WAL of a file being moved stays its own
        side = Path(f"{live}{suffix}")
        if side.exists():
            side.rename(Path(f"{aside}{suffix}"))
    sync_folder(live.parent)


def put_in_place(journal: Journal, copy: Path, folder: Path) -> None:
    """SQLite: rename the checked copy to the live file's name, unless it is there already."""
    live = Path(journal.live)
    if copy.exists():
        copy.rename(live)
        sync_folder(live.parent)
    elif not live.exists():
        raise _unfinished(journal, folder, f"the checked copy {copy} is gone")


def restored(engine: Engine, journal: Journal, folder: Path) -> bool:
    """PostgreSQL: whether the restore committed, read from the log's heads: the restored
    log's, or those of the log it replaced."""
    with Session(engine) as session:
        running = session.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": restorer(folder)},
        )
        if running:
            raise DatabaseError(
                f"a restore of {journal.source} into {journal.live} is still running (its "
                "pg_restore outlived the process that started it): try again once it has ended"
            )
        heads = chain_heads(session)
    if heads == journal.heads:
        return True
    if heads == journal.replaced:
        return False
    raise DatabaseError(
        f"a restore of {journal.source} into {journal.live} was interrupted, and the log is "
        "neither the restored one nor the one it replaced: it has been changed since; check "
        f"it with `dermaplan audit verify`, restore again if need be, then remove {folder}"
    )


def chain_heads(session: Session) -> dict[Chain, Head]:
    """Each chain's last event, read by index (no walk of the log)."""
    events = AuditRepository(session)
    heads: dict[Chain, Head] = {}
    lanes = select(AuditEvent.clinic_id, AuditEvent.lane).group_by(
        AuditEvent.clinic_id, AuditEvent.lane
    )
    for clinic_id, lane in session.execute(lanes):
        head = events.head(clinic_id, lane)
        if head is not None:
            heads[Chain(clinic_id, lane)] = (head[0], head[1])
    return heads


def anchor_restored(engine: Engine, journal: Journal) -> None:
    """Anchor the restored log's heads (the old anchor is the replaced log's)."""
    store = engine_anchor(engine)
    if store is not None:
        now = dt.datetime.now(dt.UTC)
        heads = {
            chain: AnchoredHead(seq, hash_, now) for chain, (seq, hash_) in journal.heads.items()
        }
        reset_anchor(store, Anchor(journal.database, heads))


def close(path: Path) -> None:
    """The restore is whole: its journal goes."""
    path.unlink()
    sync_folder(path.parent)


def restorer(folder: Path) -> str:
    """The name a restore's pg_restore gives the server (application_name), by which an
    interrupted restore is told apart from one still running."""
    return f"dermaplan-restore-{folder.name.removeprefix(PREFIX)}"


def _checkpoint(database: Path) -> None:
    """Bring the WAL's pages into the file, so the file set aside holds everything on its
    own; a file too damaged for that is moved with its WAL instead."""
    try:
        with closing(sqlite3.connect(database)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error:
        return


def _unfinished(journal: Journal, folder: Path, why: str) -> DatabaseError:
    live, aside = Path(journal.live), journal.aside
    back = (
        f"to go back to the database it replaced, move {aside} to {live}"
        if aside.exists()
        else f"run `dermaplan init` and restore {journal.source} again"
    )
    return DatabaseError(
        f"a restore of {journal.source} into {live} was interrupted and cannot be finished: "
        f"{why}; {back}, then remove {folder}"
    )
