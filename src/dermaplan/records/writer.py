"""The writers of one SQLite file take turns in the process, before SQLite's lock.

SQLite has one writer slot per database, which a write transaction takes at BEGIN IMMEDIATE
(records.db). While it is held, SQLite's busy handler has the next writer sleep and try
again, longer each time (from 1 ms up to 100 ms between tries): under load a writer sleeps
on after the slot is free, and a few unlucky ones wait far longer than the rest. So the
threads of a process (the web app's) wait here instead, on a lock taken before BEGIN
IMMEDIATE and given back as soon as the transaction commits or rolls back, which wakes
the next at once. SQLite's own lock still decides: its busy handler is what waits for the
writers of other processes (a second worker, a command beside the app), and for a writer
that waited here longer than the busy timeout.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class WriterTurn:
    """The turn of one database file's writers in this process: held by one driver
    connection, from before its BEGIN IMMEDIATE until its transaction ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: QueuedConnection | None = None
        self._thread: int | None = None

    def take(self, connection: QueuedConnection, timeout_s: float) -> None:
        """Wait for the turn, at most `timeout_s` (then SQLite's busy handler waits as it
        would have). A thread that holds the turn on another connection does not wait for
        itself: SQLite refuses it after its busy timeout, as without the queue."""
        if self._thread == threading.get_ident():
            return
        if self._lock.acquire(timeout=timeout_s):
            self._holder, self._thread = connection, threading.get_ident()

    def give_back(self, connection: QueuedConnection) -> None:
        if self._holder is connection:
            self._holder = self._thread = None
            self._lock.release()


_turns: dict[str, WriterTurn] = {}
_turns_lock = threading.Lock()


def _forget_turns() -> None:
    """A forked child has none of its parent's connections, whatever turns they held."""
    global _turns_lock  # a lock held at the fork would stay held
    _turns.clear()
    _turns_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_turns)


def writer_turn(database: str) -> WriterTurn | None:
    """The turn of the writers of the file `database` (one per file, whichever engine opens
    it); None for a database of one connection's own (in memory)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    key = str(Path(database).resolve())
    with _turns_lock:
        return _turns.setdefault(key, WriterTurn())


class QueuedConnection(sqlite3.Connection):
    """The driver's connection (the `factory` of `sqlite3.connect`), which gives back its
    writer's turn when its transaction commits, rolls back or is closed."""

    def __init__(self, database: str | bytes | Path, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self.turn = writer_turn(str(database))

    def take_turn(self, timeout_s: float) -> None:
        """Before BEGIN IMMEDIATE: wait for this process's other writers of the file."""
        if self.turn is not None:
            self.turn.take(self, timeout_s)

    def give_back_turn(self) -> None:
        if self.turn is not None:
            self.turn.give_back(self)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_back_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_back_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.give_back_turn()


@contextmanager
def writers_turn(driver: object, timeout_s: float) -> Iterator[None]:
    """Around BEGIN IMMEDIATE on the driver connection `driver`: its turn taken first (a
    connection not made by this module takes none), and given back if the BEGIN fails."""
    queued = driver if isinstance(driver, QueuedConnection) else None
    if queued is not None:
        queued.take_turn(timeout_s)
    try:
        yield
    except BaseException:
        if queued is not None:
            queued.give_back_turn()
        raise
