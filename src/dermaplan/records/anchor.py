"""Every chain's head, kept outside the database, so a log cut short is detected.

The hash chains show an event altered, inserted or removed in the middle, but not the last
events of a chain deleted: what is left is still a valid chain. So after every commit that
appended events, the head (sequence number and hash) of each chain it appended to is
written to an `AnchorStore` (by default the file `audit-head.json` in the home folder, or
`DERMAPLAN_AUDIT_ANCHOR`), and only ever forward: the writers of a chain commit in its order
but may write the anchor in any order, so a lower head never replaces a higher one. It is
written after the commit, so a crash in between leaves it behind the log, never ahead; a
chain that ends before its anchored event, or differs there, has been cut.

The anchor records the id of the database it belongs to (records.models.DatabaseIdentity):
two databases pointed at one anchor are refused as such, never taken for a log cut short.
`dermaplan init` writes a database's first anchor (no chain yet).

Any transaction of `records.db.transaction` on an engine given an anchor (`anchor_engine`)
writes it: the services only flag that they appended (`mark_appended`), so no caller has to
remember.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.orm import Session

from dermaplan.records.errors import DatabaseError
from dermaplan.records.lanes import LEGACY, Chain, Head, held
from dermaplan.records.models import DatabaseIdentity
from dermaplan.records.private import FILE_MODE, exclusive, open_private, private_folder
from dermaplan.records.repository import AuditRepository

if TYPE_CHECKING:
    from dermaplan.records.settings import Settings

ANCHOR_OPTION = "dermaplan_audit_anchor"  # the engine's AnchorStore
DATABASE_OPTION = "dermaplan_database_id"  # the engine's database id, once read
_STORE = "dermaplan.anchor_store"
_DATABASE = "dermaplan.database_id"
_APPENDED = "dermaplan.audit_appended"
_PENDING = "dermaplan.anchor_pending"
_TEMPORARY = ".partial"  # the end of the name of an anchor being written


@dataclass(frozen=True, slots=True)
class AnchoredHead:
    seq: int
    hash: str
    written_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Anchor:
    database: uuid.UUID | None  # None in anchors written before databases had an id
    heads: dict[Chain, AnchoredHead]  # no chain: the log was empty (a new database)


class AnchorStore(Protocol):
    """Where a database's anchor is kept. `lock` makes a read-then-write exclusive among
    every process writing it; `where` names it for a person; `post` leaves committed heads,
    cheaply and not durably, for whoever writes the anchor next to `take_posted` (so that one
    write serves every commit that waited for the lock meanwhile). The local file is the one
    built; another (object storage with conditional writes, an append-only service) need
    only implement these and be named in `anchor_store`."""

    @property
    def where(self) -> str: ...

    def read(self) -> Anchor | None: ...

    def write(self, anchor: Anchor) -> None: ...

    def lock(self) -> AbstractContextManager[object]: ...

    def post(self, database: uuid.UUID | None, heads: dict[Chain, Head]) -> None: ...

    def take_posted(self, database: uuid.UUID | None) -> dict[Chain, Head]: ...


class LocalAnchorFile:
    """The default store: a JSON file, replaced atomically, locked through a lock file
    beside it (the operating system's lock: `flock`, which wakes a waiter as soon as the
    lock is free; on Windows, where there is none, filelock's, which polls). Heads are
    posted as lines appended to a third file beside it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.posted = path.with_name(f".{path.name}.posted")
        self.temporary = path.with_name(f".{path.name}{_TEMPORARY}")

    @property
    def where(self) -> str:
        return str(self.path)

    def read(self) -> Anchor | None:
        """None if there is no file; an unreadable one is an error. A file written before
        the log had chains (revision 0012) anchors the database's chain of then."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            database = raw.get("database")
            chains = raw["chains"] if "chains" in raw else _one_chain(raw)
            return Anchor(
                database=uuid.UUID(database) if database is not None else None,
                heads={
                    Chain.of_key(key): AnchoredHead(
                        int(head["seq"]),
                        str(head["hash"]),
                        dt.datetime.fromisoformat(head["written_at"]),
                    )
                    for key, head in chains.items()
                },
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise DatabaseError(f"the audit anchor {self.path} cannot be read: {error}") from None

    def write(self, anchor: Anchor) -> None:
        """A temporary file (0600), fsync, rename: the old or the new, never half. The
        directory is not synced: after a power cut the rename may be lost, which leaves the
        anchor behind the log, as a crash before the write would; the log's own writes are
        durable. Every write is made under the lock (`lock`, which makes the folder), so
        the temporary file has one name: a killed writer's goes as the next write begins."""
        body = json.dumps(
            {
                "database": str(anchor.database) if anchor.database else None,
                "chains": {
                    chain.key: {
                        "seq": head.seq,
                        "hash": head.hash,
                        "written_at": head.written_at.isoformat(),
                    }
                    for chain, head in sorted(anchor.heads.items(), key=lambda c: c[0].order())
                },
            }
        )
        self.temporary.unlink(missing_ok=True)
        try:
            with open_private(self.temporary) as stream:
                stream.write(body.encode("utf-8") + b"\n")
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(self.temporary, self.path)
        except BaseException:
            self.temporary.unlink(missing_ok=True)
            raise

    def lock(self) -> AbstractContextManager[object]:
        private_folder(self.path.parent)
        return exclusive(self.path.with_name(f".{self.path.name}.lock"))

    def post(self, database: uuid.UUID | None, heads: dict[Chain, Head]) -> None:
        """One line per head, appended in one write: lines from processes posting at once
        never interleave."""
        lines = "".join(
            json.dumps({"database": str(database), "chain": chain.key, "seq": seq, "hash": hash_})
            + "\n"
            for chain, (seq, hash_) in heads.items()
        )
        private_folder(self.path.parent)
        descriptor = os.open(self.posted, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            os.write(descriptor, lines.encode("utf-8"))
        finally:
            os.close(descriptor)

    def take_posted(self, database: uuid.UUID | None) -> dict[Chain, Head]:
        """The latest head posted of each chain of `database`, the file emptied (under the
        lock). A line a crash cut short, or another database's, is passed over."""
        try:
            stream = self.posted.open("r+", encoding="utf-8")
        except FileNotFoundError:
            return {}
        with stream:
            lines = stream.read().splitlines()
            stream.truncate(0)
        heads: dict[Chain, Head] = {}
        for line in lines:
            try:
                raw = json.loads(line)
                chain, seq, hash_ = Chain.of_key(raw["chain"]), int(raw["seq"]), str(raw["hash"])
            except (ValueError, KeyError, TypeError):
                continue
            if raw.get("database") == str(database) and (
                chain not in heads or heads[chain][0] < seq
            ):
                heads[chain] = (seq, hash_)
        return heads


def _one_chain(raw: dict[str, Any]) -> dict[str, Any]:
    """The chains of an anchor of revision 0011 and before: the database's one, unless it
    had no event yet."""
    if int(raw["seq"]) == 0:
        return {}
    return {LEGACY.key: raw}


def anchor_store(settings: Settings) -> AnchorStore:
    """The store `settings.anchor_store` names; "file", the only one built, is the local
    file `settings.audit_anchor`."""
    return LocalAnchorFile(settings.audit_anchor)


def anchor_engine(engine: Engine, store: AnchorStore) -> None:
    """Make every transaction on `engine` keep the chain's head in `store`."""
    engine.update_execution_options(**{ANCHOR_OPTION: store})


def engine_anchor(engine: Engine) -> AnchorStore | None:
    store: AnchorStore | None = engine.get_execution_options().get(ANCHOR_OPTION)
    return store


def database_id(connection: Connection | Session) -> uuid.UUID:
    """The id of the database `connection` is on (at schema revision 0011 or later)."""
    return connection.execute(select(DatabaseIdentity.id)).scalar_one()


def identify(engine: Engine, database: uuid.UUID) -> None:
    """Tell `engine` which database it is on, so a commit need not read it to anchor."""
    engine.update_execution_options(**{DATABASE_OPTION: database})


def watch(session: Session, engine: Engine) -> None:
    """Have this session write the anchor after it commits events (see module doc)."""
    options = engine.get_execution_options()
    if ANCHOR_OPTION in options:
        session.info[_STORE] = options[ANCHOR_OPTION]
        session.info[_DATABASE] = options.get(DATABASE_OPTION)


def mark_appended(session: Session, chain: Chain) -> None:
    appended_to: set[Chain] = session.info.setdefault(_APPENDED, set())
    appended_to.add(chain)


@event.listens_for(Session, "before_commit")
def _heads_before_commit(session: Session) -> None:
    appended: set[Chain] | None = session.info.pop(_APPENDED, None)
    if not appended or _STORE not in session.info:
        return
    session.flush()
    holding = held(session.connection())
    heads: dict[Chain, Head] = {}
    for chain in appended:
        # The head this transaction holds on a chain it appended to is the event it appended
        # last, the head it commits there (records.lanes). Unless a savepoint rolled back:
        # the lanes held are forgotten then, and the head is read.
        if (last := holding.get(chain)) is not None:
            heads[chain] = last
        elif found := AuditRepository(session).head(chain.clinic_id, chain.lane):
            heads[chain] = (found.seq, found.hash)
    if heads:
        database = session.info[_DATABASE] or database_id(session)
        session.info[_PENDING] = (heads, database)


@event.listens_for(Session, "after_commit")
def _anchor_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is None:
        return
    heads, database = pending
    advance_anchor(session.info[_STORE], database, heads, dt.datetime.now(dt.UTC))


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, _previous: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_APPENDED, None)
        session.info.pop(_PENDING, None)


def refuse_foreign_anchor(
    store: AnchorStore, anchor: Anchor | None, database: uuid.UUID | None
) -> None:
    """DatabaseError if `anchor` is another database's than `database`; an anchor, or a
    database, with no id passes."""
    if anchor is None or anchor.database is None or database is None:
        return
    if anchor.database != database:
        raise DatabaseError(
            f"the audit anchor {store.where} belongs to another database ({anchor.database}), "
            f"not to this one ({database}): give each database its own anchor "
            "(DERMAPLAN_AUDIT_ANCHOR)"
        )


def advance_anchor(
    store: AnchorStore, database: uuid.UUID | None, heads: dict[Chain, Head], now: dt.datetime
) -> None:
    """Move each chain's anchor to its head in `heads` unless the store holds a later (or
    the same) event of it; refuse to write over another database's anchor. The heads are
    posted first: whichever writer holds the lock next writes them with its own, and a
    writer that finds its heads written already writes nothing (a group commit)."""
    with _writing(store):
        store.post(database, heads)
        with store.lock():
            current = store.read()
            refuse_foreign_anchor(store, current, database)
            anchored = dict(current.heads) if current else {}
            if current is not None and current.database == database and _covers(anchored, heads):
                return
            wanted = _latest(store.take_posted(database), heads)
            moved = {
                chain: AnchoredHead(seq, hash_, now)
                for chain, (seq, hash_) in wanted.items()
                if chain not in anchored or anchored[chain].seq < seq
            }
            store.write(Anchor(database, anchored | moved))


def _covers(anchored: dict[Chain, AnchoredHead], heads: dict[Chain, Head]) -> bool:
    return all(
        chain in anchored and anchored[chain].seq >= seq for chain, (seq, _) in heads.items()
    )


def _latest(*found: dict[Chain, Head]) -> dict[Chain, Head]:
    """The latest head of each chain in any of `found`."""
    latest: dict[Chain, Head] = {}
    for heads in found:
        for chain, head in heads.items():
            if chain not in latest or latest[chain][0] < head[0]:
                latest[chain] = head
    return latest


def reset_anchor(store: AnchorStore, anchor: Anchor) -> None:
    """Anchor to `anchor` whatever the store held (a restored database, which may be
    another database than the one it replaced), and drop the heads posted from the log it
    replaced."""
    with _writing(store), store.lock():
        store.take_posted(anchor.database)
        store.write(anchor)


def claim_anchor(store: AnchorStore, anchor: Anchor) -> bool:
    """Write a database's first anchor unless the store holds one: True if written. Another
    database's anchor is refused; one that records no database (written before databases
    had ids) is taken as this one's, as it was, and the next change records the id."""
    with _writing(store), store.lock():
        current = store.read()
        if current is None:
            store.write(anchor)
            return True
        refuse_foreign_anchor(store, current, anchor.database)
        return False


@contextmanager
def _writing(store: AnchorStore) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        raise DatabaseError(
            f"the audit anchor {store.where} cannot be written ({error}); what was committed "
            "stays committed, and `dermaplan audit verify` checks the log"
        ) from None


# -- verification ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    where: str
    anchor: Anchor | None
    cut: str | None  # why the log no longer reaches its anchor, if it does not


def check_anchor(session: Session, store: AnchorStore) -> AnchorCheck:
    """Does the log still hold every chain's anchored event, unchanged? DatabaseError if
    the anchor is another database's: that says nothing about this log."""
    where, anchor = store.where, store.read()
    if anchor is None:
        return AnchorCheck(where, None, None)
    refuse_foreign_anchor(store, anchor, database_id(session))
    for chain in sorted(anchor.heads, key=Chain.order):
        cut = _cut(session, where, chain, anchor.heads[chain])
        if cut is not None:
            return AnchorCheck(where, anchor, cut)
    return AnchorCheck(where, anchor, None)


def _cut(session: Session, where: str, chain: Chain, head: AnchoredHead) -> str | None:
    """Why `chain` no longer reaches its anchored `head`, if it does not."""
    events = AuditRepository(session)
    anchored = events.event(chain.clinic_id, chain.lane, head.seq)
    when = head.written_at.isoformat(timespec="seconds")
    if anchored is None:
        found = events.head(chain.clinic_id, chain.lane)
        last = found.seq if found else 0
        if last < head.seq:
            return (
                f"the log ends at event {last} of {chain} but the anchor {where} records "
                f"event {head.seq} (written {when}): the events after {last} were cut off the end"
            )
        return f"event {head.seq} of {chain}, anchored in {where} (written {when}), is missing"
    if anchored.hash != head.hash:
        return (
            f"event {head.seq} of {chain} is not the one anchored in {where} (written {when}): "
            "the log was cut and written again from there"
        )
    return None


def unanchored(check: AnchorCheck, heads: dict[Chain, Head]) -> list[str]:
    """Each chain the log holds events of beyond what the anchor records, for a warning:
    a crash between a commit and the anchor's write leaves that, and so does an anchor put
    back to an earlier copy of itself; the two cannot be told apart, and the next commit
    on the chain anchors it again."""
    if check.anchor is None:
        return []
    ahead = []
    for chain in sorted(heads, key=Chain.order):
        seq, anchored = heads[chain][0], check.anchor.heads.get(chain)
        if anchored is None:
            ahead.append(f"{chain}: events 1 to {seq} are not in the anchor {check.where}")
        elif anchored.seq < seq:
            when = anchored.written_at.isoformat(timespec="seconds")
            ahead.append(
                f"{chain}: events {anchored.seq + 1} to {seq} are not in the anchor "
                f"{check.where}, which records event {anchored.seq} (written {when})"
            )
    return ahead
