"""Benchmark of the clinical records: patient search by name prefix, a patient's whole
timeline and a lot recall, on SQLite and PostgreSQL, at two clinic sizes. Ends with one
JSON line `{"runs": [...]}`, one run per backend and size.

    python bench/records.py            10,000 / 100,000 and 100,000 / 1,000,000
                                       (patients / sessions)
    python bench/records.py --quick    200 / 2,000 and 800 / 8,000 (under 30 s)

Each clinic comes from the demo generator (dermaplan.records.demo, fixed seed), loaded in
bulk. Every query is timed as a command runs it: one write transaction with the service
call, its audit event and the commit (SQLite commits with synchronous=FULL). PostgreSQL is
the server of DERMAPLAN_TEST_POSTGRES_URL (default: the local one), in a fresh schema that is
dropped afterwards; it is skipped, with a note, when unreachable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from dermaplan.knowledge import KnowledgeBase, load_knowledge
from dermaplan.records import demo, service, sessions
from dermaplan.records.anchor import LocalAnchorFile, anchor_engine
from dermaplan.records.context import Context
from dermaplan.records.db import create_records_engine, transaction, upgrade
from dermaplan.records.keyring import KeyringFile, key_engine
from dermaplan.records.models import Patient, ProductLot
from dermaplan.records.names import search_key
from dermaplan.records.photos import LocalFolderStorage
from dermaplan.records.timeline import patient_timeline

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SEED = 20261102
FULL = ((10_000, 100_000), (100_000, 1_000_000))
QUICK = ((200, 2_000), (800, 8_000))


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="dermaplan-bench-") as directory:
        yield f"sqlite:///{Path(directory) / 'records.db'}"


@contextmanager
def postgres_database(server: str) -> Iterator[str]:
    """A fresh schema on the server, selected by search_path, dropped afterwards."""
    schema = f"dermaplan_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def postgres_unreachable(server: str) -> str | None:
    engine = create_engine(server, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except OperationalError as error:
        return " ".join(str(error.orig).split())
    finally:
        engine.dispose()


def keyed_engine(url: str, folder: Path) -> Engine:
    """An engine over `url` whose audit log is signed with a new keyring kept in `folder`,
    as a clinic's home keeps it (the schema is the caller's to migrate)."""
    engine = create_records_engine(url)
    keyring = KeyringFile(folder / "audit-keyring.json")
    keyring.create(dt.datetime.now(dt.UTC))
    key_engine(engine, keyring)
    return engine


def bench_clinic(
    kb: KnowledgeBase, patients: int, sessions: int, now: dt.datetime
) -> demo.DemoClinic:
    """The demo clinic every benchmark loads: its fixed seed, a bench's share of consults."""
    return demo.DemoClinic(
        kb,
        seed=SEED,
        patients=patients,
        sessions=sessions,
        today=now.date(),
        consult_share=demo.BENCH_CONSULT_SHARE,
    )


def settle(engine: Engine) -> None:
    """Bring the database to the state of one in service before the timings: PostgreSQL
    vacuumed and checkpointed (what a bulk load leaves it to do), and the data read once,
    so that it is in the operating system's cache as a server's working set is. Straight
    after a load it may not be: this machine reclaims idle page cache, and a cold timeline
    reads about forty pages from disk (docs/benchmarks.md gives both figures)."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database or ""
        for path in (Path(database), Path(f"{database}-wal")):
            if path.is_file():
                with path.open("rb") as stream:
                    while stream.read(1 << 20):
                        pass
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM")
        try:
            connection.exec_driver_sql("CHECKPOINT")
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        except (ProgrammingError, OperationalError) as error:  # needs a superuser
            print(f"note: the database is timed cold ({error.orig})", file=sys.stderr)
            return
        connection.exec_driver_sql(
            "WITH own AS (SELECT oid, reltoastrelid FROM pg_class "
            "WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'i')) "
            "SELECT pg_prewarm(relation, 'read') FROM ("
            "SELECT oid AS relation FROM own UNION SELECT reltoastrelid FROM own "
            "WHERE reltoastrelid <> 0 UNION SELECT indexrelid FROM pg_index "
            "WHERE indrelid IN (SELECT reltoastrelid FROM own)) AS relations"
        )


def p95_ms(engine: Engine, queries: list[Any], run: Callable[..., object]) -> float:
    """The 95th percentile of whole units of work: transaction, service call, commit."""
    timings = []
    for query in queries:
        context = Context(actor="os:bench", now=dt.datetime.now(dt.UTC))
        start = time.perf_counter_ns()
        with transaction(engine) as session:
            run(session, context, query)
        timings.append(time.perf_counter_ns() - start)
    timings.sort()
    return round(timings[int(0.95 * (len(timings) - 1))] / 1e6, 3)


def measure(
    url: str, kb: KnowledgeBase, patients: int, sessions_count: int, queries: int, folder: Path
) -> dict[str, Any]:
    """One clinic's figures; `folder` holds its photo storage, its audit anchor and keyring."""
    engine = keyed_engine(url, folder)
    try:
        upgrade(engine)
        now = dt.datetime.now(dt.UTC)
        clinic = bench_clinic(kb, patients, sessions_count, now)
        start = time.perf_counter()
        storage = LocalFolderStorage(folder / "photos")  # the demo's one placeholder file
        counts = demo.bulk_load(engine, Context(actor="os:bench", now=now), clinic, storage)
        generate_s = time.perf_counter() - start
        settle(engine)
        del clinic  # a command's process holds no generated clinic: keep the collector's
        gc.collect()  # work what it would be there, out of the timings
        gc.freeze()
        # Timed reads write their audit event and move the anchor, as a command's do.
        anchor_engine(engine, LocalAnchorFile(folder / "audit-head.json"))
        with transaction(engine, write=False) as session:
            clinic_id = session.scalars(select(Patient.clinic_id).limit(1)).one()
            patient_ids = list(session.scalars(select(Patient.id)))
            names = list(session.scalars(select(Patient.search_name).limit(5_000)))
            lots = list(session.scalars(select(ProductLot.lot_number)))
        rng = random.Random(SEED)
        # What a receptionist types: the start of a family name, sometimes with an initial.
        prefixes = [
            search_key(name[: rng.randint(3, min(len(name), 8))])
            for name in rng.choices(names, k=queries)
        ]
        warm = 10
        search = p95_ms(
            engine,
            prefixes[:warm] + prefixes,
            lambda s, c, q: service.search_patients(s, c, clinic_id, q),
        )
        timeline = p95_ms(
            engine,
            rng.choices(patient_ids, k=queries + warm),
            lambda s, c, q: patient_timeline(s, c, clinic_id, q),
        )
        recall = p95_ms(
            engine,
            rng.choices(lots, k=queries + warm),
            lambda s, c, q: sessions.recall_lot(s, c, clinic_id, q),
        )
    finally:
        gc.unfreeze()
        engine.dispose()
    return {
        "backend": engine.dialect.name,
        "patients": counts.patients,
        "sessions": counts.sessions,
        "lots": counts.lots,
        "generate_s": round(generate_s, 1),
        "search_p95_ms": search,
        "timeline_p95_ms": timeline,
        "recall_p95_ms": recall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small clinics, under 30 s")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), action="append")
    args = parser.parse_args()
    sizes, queries = (QUICK, 100) if args.quick else (FULL, 500)
    server = os.environ.get("DERMAPLAN_TEST_POSTGRES_URL") or POSTGRES_URL
    kb = load_knowledge()
    runs = []
    for backend in args.backend or ("sqlite", "postgresql"):
        if backend == "postgresql" and (why := postgres_unreachable(server)):
            print(f"note: PostgreSQL skipped, unreachable: {why}", file=sys.stderr)
            continue
        for patients, count in sizes:
            database = sqlite_database() if backend == "sqlite" else postgres_database(server)
            folder = tempfile.TemporaryDirectory(prefix="dermaplan-bench-")
            with database as url, folder as path:
                run = measure(url, kb, patients, count, queries, Path(path))
            print(f"{run}", file=sys.stderr)
            runs.append(run)
    print(json.dumps({"runs": runs}))


if __name__ == "__main__":
    main()
