"""An engine keeps the connections its requests used for the requests after them, on both
backends: a web worker serving several requests at once opens each connection once."""

from __future__ import annotations

import threading

from sqlalchemy import event

from dermaplan.records.db import POOL_SIZE, create_records_engine, transaction

ROUNDS = 10


def test_requests_at_once_reuse_the_connections_of_the_requests_before(
    database_url: str,
) -> None:
    engine = create_records_engine(database_url)
    opened: list[object] = []
    event.listen(engine, "connect", lambda connection, _record: opened.append(connection))
    threads = POOL_SIZE - 3
    together = threading.Barrier(threads)
    failures: list[BaseException] = []

    def requests() -> None:
        try:
            for _ in range(ROUNDS):
                with transaction(engine, write=False) as session:
                    session.connection().exec_driver_sql("SELECT 1")
                    together.wait(timeout=30)  # every thread holds a connection at once
                together.wait(timeout=30)  # and every one has given it back
        except BaseException as error:
            failures.append(error)

    workers = [threading.Thread(target=requests) for _ in range(threads)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        engine.dispose()
    assert not failures
    assert len(opened) == threads  # one each, kept: none opened again for a later round
