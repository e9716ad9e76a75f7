"""The threads of a process take turns for SQLite's writer slot before BEGIN IMMEDIATE
(records.writer): every writer succeeds, none is refused `database is locked`, and the next
writer goes as soon as the one before commits, not when SQLite's busy handler wakes it."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

from sqlalchemy import Engine, event, text

from dermaplan.records.db import create_records_engine, transaction
from dermaplan.records.writer import QueuedConnection, WriterTurn, writer_turn

THREADS, ROUNDS = 8, 15


def counter(path: Path) -> Engine:
    engine = create_records_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))
    return engine


def test_concurrent_writers_from_threads_all_succeed_and_lose_no_update(tmp_path: Path) -> None:
    engine = counter(tmp_path / "counter.db")
    failures: list[BaseException] = []

    def add_one_at_a_time() -> None:
        try:
            for _ in range(ROUNDS):
                with transaction(engine) as session:  # read, think, write
                    n = session.execute(text("SELECT n FROM counter")).scalar_one()
                    time.sleep(0.001)
                    session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=add_one_at_a_time) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with transaction(engine, write=False) as session:
        total = session.execute(text("SELECT n FROM counter")).scalar_one()
    engine.dispose()
    assert failures == []
    assert total == THREADS * ROUNDS


def test_a_writer_waits_for_its_turn_before_begin_and_goes_once_it_is_given_back(
    tmp_path: Path,
) -> None:
    engine = counter(tmp_path / "counter.db")
    begun: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda *arguments: (
            begun.append(threading.current_thread().name)
            if str(arguments[2]) == "BEGIN IMMEDIATE"
            else None
        ),
    )
    done = threading.Event()

    def second() -> None:
        with transaction(engine) as session:
            session.execute(text("UPDATE counter SET n = n + 1"))
        done.set()

    with transaction(engine) as session:
        session.execute(text("UPDATE counter SET n = n + 1"))
        waiting = threading.Thread(target=second, name="second")
        waiting.start()
        time.sleep(0.2)
        assert begun == ["MainThread"]  # the second waits here, not in SQLite's busy handler
        committed = time.monotonic()
    assert done.wait(5)
    waited = time.monotonic() - committed
    waiting.join()
    engine.dispose()
    assert begun == ["MainThread", "second"]
    assert waited < 0.1  # woken as the first committed (SQLite's handler sleeps up to 100 ms)


def test_a_rolled_back_writer_gives_its_turn_back(tmp_path: Path) -> None:
    engine = counter(tmp_path / "counter.db")
    try:
        with transaction(engine) as session:
            session.execute(text("UPDATE counter SET n = n + 1"))
            raise RuntimeError("changed its mind")
    except RuntimeError:
        pass
    finished = threading.Event()

    def another() -> None:
        with transaction(engine) as session:
            session.execute(text("UPDATE counter SET n = n + 1"))
        finished.set()

    threading.Thread(target=another).start()
    assert finished.wait(2)
    engine.dispose()


def test_a_thread_holding_the_turn_does_not_wait_for_itself(tmp_path: Path) -> None:
    turn = WriterTurn()
    first = QueuedConnection(str(tmp_path / "a.db"), check_same_thread=False)
    second = QueuedConnection(str(tmp_path / "a.db"), check_same_thread=False)
    turn.take(first, timeout_s=5)
    started = time.monotonic()
    turn.take(second, timeout_s=5)  # SQLite would refuse it: it is not queued behind itself
    assert time.monotonic() - started < 1
    turn.give_back(second)  # not the holder: gives nothing back
    elsewhere = threading.Thread(target=turn.take, args=(second, 0.3))
    started = time.monotonic()
    elsewhere.start()
    elsewhere.join()
    assert time.monotonic() - started >= 0.3  # another thread waited for the turn
    turn.give_back(first)
    first.close()
    second.close()


def test_one_turn_per_database_file_and_none_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    assert writer_turn(str(path)) is writer_turn(str(tmp_path / "." / "shared.db"))
    assert writer_turn(str(path)) is not writer_turn(str(tmp_path / "other.db"))
    assert writer_turn(":memory:") is None


def _turn_id(database: str) -> int:
    return id(writer_turn(database))


def test_a_forked_child_takes_turns_of_its_own(tmp_path: Path) -> None:
    """A turn held in the parent as it forks is no turn of the child's."""
    database = str(tmp_path / "forked.db")
    parent = writer_turn(database)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_turn_id, (database,)) != id(parent)
