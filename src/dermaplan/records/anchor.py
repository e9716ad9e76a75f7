"""The audit chain's head, kept outside the database, so a log cut short is detected.

The hash chain shows an event altered, inserted or removed in the middle, but not the last
events deleted: what is left is still a valid chain. So after every commit that appended
events, the head (sequence number and hash) is written to a file (`audit-head.json` in the
data directory, or `DERMAPLAN_AUDIT_ANCHOR`), atomically, and only ever forward: writers
commit in chain order but may write the file in any order, so a lower head never replaces a
higher one. The file is written after the commit, so a crash in between leaves it behind the
log, never ahead; a log that ends before the anchor, or differs at the anchored event, has
been cut.

Any transaction of `records.db.transaction` on an engine given an anchor (`anchor_engine`)
writes it: the services only flag that they appended (`mark_appended`), so no caller has to
remember.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from dermaplan.records.errors import DatabaseError
from dermaplan.records.models import AuditEvent
from dermaplan.records.repository import AuditRepository

ANCHOR_OPTION = "dermaplan_audit_anchor"
_PATH = "dermaplan.anchor_path"
_APPENDED = "dermaplan.audit_appended"
_PENDING = "dermaplan.anchor_pending"


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    hash: str
    written_at: dt.datetime


def anchor_engine(engine: Engine, path: Path) -> None:
    """Make every transaction on `engine` keep the chain's head in `path`."""
    engine.update_execution_options(**{ANCHOR_OPTION: str(path)})


def anchor_path(engine: Engine) -> Path | None:
    path = engine.get_execution_options().get(ANCHOR_OPTION)
    return Path(path) if path else None


def watch(session: Session, engine: Engine) -> None:
    """Have this session write the anchor after it commits events (see module doc)."""
    path = anchor_path(engine)
    if path is not None:
        session.info[_PATH] = path


def mark_appended(session: Session, appended: AuditEvent) -> None:
    session.info[_APPENDED] = appended


@event.listens_for(Session, "before_commit")
def _head_before_commit(session: Session) -> None:
    appended = session.info.pop(_APPENDED, None)
    if appended is None or _PATH not in session.info:
        return
    session.flush()
    # The event this transaction appended last is the head it commits: the chain is locked
    # (records.audit.lock_chain). From the identity map, so no query, unless a savepoint
    # dropped it; then the head is read.
    head = session.get(AuditEvent, appended.seq) or AuditRepository(session).head()
    if head is not None:
        session.info[_PENDING] = (head.seq, head.hash)


@event.listens_for(Session, "after_commit")
def _anchor_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is None:
        return
    seq, hash_ = pending
    advance_anchor(session.info[_PATH], Anchor(seq, hash_, dt.datetime.now(dt.UTC)))


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, _previous: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_APPENDED, None)
        session.info.pop(_PENDING, None)


def read_anchor(path: Path) -> Anchor | None:
    """The anchor in `path`, None if there is none; an unreadable one is an error."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Anchor(
            seq=int(raw["seq"]),
            hash=str(raw["hash"]),
            written_at=dt.datetime.fromisoformat(raw["written_at"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatabaseError(f"the audit anchor {path} cannot be read: {error}") from None


def advance_anchor(path: Path, anchor: Anchor) -> None:
    """Write `anchor` unless the file already holds a later (or the same) event."""
    with _locked(path):
        current = read_anchor(path)
        if current is None or current.seq < anchor.seq:
            _write(path, anchor)


def reset_anchor(path: Path, anchor: Anchor | None) -> None:
    """Anchor to `anchor` whatever the file held (a restored database); None: no events."""
    with _locked(path):
        if anchor is None:
            path.unlink(missing_ok=True)
        else:
            _write(path, anchor)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Exclusive among the processes writing the anchor; the lock file stays beside it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(f".{path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
    except OSError as error:
        raise DatabaseError(
            f"the audit anchor {path} cannot be written ({error}); what was committed stays "
            "committed, and `dermaplan audit verify` checks the log"
        ) from None


def _write(path: Path, anchor: Anchor) -> None:
    """Temporary file, fsync, rename: the old or the new, never half. The directory is not
    synced: after a power cut the rename may be lost, which leaves the anchor behind the
    log, as a crash before the write would; the log's own writes are durable."""
    body = json.dumps(
        {"seq": anchor.seq, "hash": anchor.hash, "written_at": anchor.written_at.isoformat()}
    )
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(body + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- verification ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    path: Path
    anchor: Anchor | None
    cut: str | None  # why the log no longer reaches its anchor, if it does not


def check_anchor(session: Session, path: Path) -> AnchorCheck:
    """Does the log still hold the anchored event, unchanged?"""
    anchor = read_anchor(path)
    if anchor is None:
        return AnchorCheck(path, None, None)
    anchored = session.get(AuditEvent, anchor.seq)
    head = AuditRepository(session).head()
    last = head.seq if head else 0
    when = anchor.written_at.isoformat(timespec="seconds")
    cut = None
    if anchored is None and last < anchor.seq:
        cut = (
            f"the log ends at event {last} but the anchor {path} records event {anchor.seq} "
            f"(written {when}): the events after {last} were cut off the end"
        )
    elif anchored is None:
        cut = f"event {anchor.seq}, anchored in {path} (written {when}), is missing"
    elif anchored.hash != anchor.hash:
        cut = (
            f"event {anchor.seq} is not the one anchored in {path} (written {when}): "
            "the log was cut and written again from there"
        )
    return AnchorCheck(path, anchor, cut)
