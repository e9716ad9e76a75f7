"""Benchmark of audited reads under concurrency: patient charts read by 1 and by 8 worker
processes at once, on PostgreSQL, each read one unit of work as a command runs it (the
acting practitioner looked up, the chart and its consents read, two audit events appended
and the anchor moved, the commit). Ends with one JSON line of figures.

    python bench/audit_reads.py            2,000 patients, 15 s per run
    python bench/audit_reads.py --quick    200 patients, 4 s per run (under 60 s)

The clinic comes from the demo generator (dermaplan.records.demo, fixed seed), loaded in
bulk into a fresh schema of the server of DERMAPLAN_TEST_POSTGRES_URL (default: the local
one), dropped afterwards. Workers are processes (spawn), each with its own `Application`,
so its own engine and connection, sharing one audit anchor file as a clinic's servers
would. Each run is timed twice: as the reads are declared (`Access.AUDITED_READ`: events on
whichever read lane is free, records.lanes) and, as the baseline, as every read was before
revision 0012 (`Access.CHANGE`: the clinic's one change lane held from the first statement
to the commit, as the database's one chain lock was). The log is verified at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dermaplan.app import patients
from dermaplan.app.principal import ACCESS, Access, use_case_name
from dermaplan.app.unit import Application
from dermaplan.knowledge import load_knowledge
from dermaplan.records import demo
from dermaplan.records.anchor import Anchor, LocalAnchorFile, claim_anchor, database_id
from dermaplan.records.context import Context
from dermaplan.records.db import create_records_engine, transaction, upgrade
from dermaplan.records.enums import StaffRole
from dermaplan.records.integrity import verify_log
from dermaplan.records.keyring import keyring_file
from dermaplan.records.models import Patient, Staff
from dermaplan.records.photos import LocalFolderStorage, photo_storage
from dermaplan.records.settings import Settings
from records import (
    POSTGRES_URL,
    bench_clinic,
    keyed_engine,
    postgres_database,
    postgres_unreachable,
    settle,
)

WORKERS = 8
WARM_READS = 20
FULL = (2_000, 20_000, 15.0)  # patients, sessions, seconds per run
QUICK = (200, 2_000, 4.0)


def _backend_cpu_s(pid: int) -> float | None:
    """The CPU time of a PostgreSQL backend on this machine (Linux), if it can be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_charts(
    settings: Settings,
    acting: str,
    patient_ids: list[uuid.UUID],
    access: Access,
    seconds: float,
    ready: Any,
    start: Event,
    results: Any,
) -> None:
    """One worker: warm up, wait for the start, then read charts for `seconds`."""
    application = Application(settings)
    rng = random.Random()

    def read() -> None:
        with application.unit(acting, access=access) as uow:
            patients.chart(uow, rng.choice(patient_ids))

    try:
        for _ in range(WARM_READS):
            read()
        with application.engine.connect() as connection:
            backend = int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        ready.put(None)
        start.wait()
        reads, server, cpu = 0, _backend_cpu_s(backend), time.process_time()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            read()
            reads += 1
        after = _backend_cpu_s(backend)
        server_s = None if server is None or after is None else after - server
        results.put((reads, time.process_time() - cpu, server_s))
    finally:
        application.close()


def run(
    settings: Settings,
    acting: str,
    patient_ids: list[uuid.UUID],
    access: Access,
    workers: int,
    seconds: float,
) -> dict[str, Any]:
    """`workers` processes reading at once for `seconds`: reads a second, in all, and the
    CPU each read cost the workers and the server."""
    spawn = multiprocessing.get_context("spawn")
    ready, results, start = spawn.Queue(), spawn.Queue(), spawn.Event()
    arguments = (settings, acting, patient_ids, access, seconds, ready, start, results)
    processes = [spawn.Process(target=read_charts, args=arguments) for _ in range(workers)]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=300)
    start.set()
    done = [results.get(timeout=300 + seconds) for _ in processes]
    for process in processes:
        process.join()
    reads = sum(count for count, _, _ in done)
    servers = [server for _, _, server in done]
    return {
        "reads_per_s": round(reads / seconds, 1),
        "client_cpu_ms": round(1000 * sum(cpu for _, cpu, _ in done) / reads, 2),
        "server_cpu_ms": None
        if None in servers
        else round(1000 * sum(s for s in servers if s is not None) / reads, 2),
    }


def prepare_clinic(
    url: str, home: Path, patients_count: int, sessions: int
) -> tuple[str, list[uuid.UUID]]:
    """Load the demo clinic, signed with a new keyring, and anchor its log; the acting
    practitioner and the patients."""
    engine = keyed_engine(url, home)
    try:
        upgrade(engine)
        now = dt.datetime.now(dt.UTC)
        clinic = bench_clinic(load_knowledge(), patients_count, sessions, now)
        context = Context(actor="os:bench", now=now)
        demo.bulk_load(engine, context, clinic, LocalFolderStorage(home / "photos"))
        settle(engine)
        with transaction(engine, write=False) as session:
            claim_anchor(
                LocalAnchorFile(home / "audit-head.json"), Anchor(database_id(session), {})
            )
            acting = session.scalars(
                select(Staff.id).where(Staff.role == StaffRole.PRACTITIONER).order_by(Staff.id)
            ).first()
            patient_ids = list(session.scalars(select(Patient.id)))
        return str(acting), patient_ids
    finally:
        engine.dispose()


def verified(settings: Settings) -> dict[str, Any]:
    """`audit verify` on the log the runs left: its chains, their anchor, the records."""
    engine = create_records_engine(settings.database_url)
    try:
        with transaction(engine, write=False) as session:
            report = verify_log(
                session,
                LocalAnchorFile(settings.audit_anchor),
                keyring=keyring_file(settings).require(),
                photos=photo_storage(settings),
            )
        return {
            "intact": report.intact,
            "events": report.chain.events,
            "chains": len(report.chain.heads),
        }
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small clinic, under 60 s")
    parser.add_argument("--seconds", type=float, help="the length of each run")
    args = parser.parse_args()
    patients_count, sessions, seconds = QUICK if args.quick else FULL
    seconds = args.seconds or seconds
    server = os.environ.get("DERMAPLAN_TEST_POSTGRES_URL") or POSTGRES_URL
    if why := postgres_unreachable(server):
        sys.exit(f"PostgreSQL is unreachable: {why}")
    chart = ACCESS[use_case_name(patients.chart)]
    with (
        postgres_database(server) as url,
        tempfile.TemporaryDirectory(prefix="dermaplan-bench-") as folder,
    ):
        home = Path(folder)
        acting, patient_ids = prepare_clinic(url, home, patients_count, sessions)
        settings = Settings(home=home, database_url=url, actor="os:bench")
        figures: dict[str, Any] = {}
        for workers in (1, WORKERS):  # the two ways in turn, so that drift hits both
            for name, access in (("", chart), ("baseline_", Access.CHANGE)):
                timed = run(settings, acting, patient_ids, access, workers, seconds)
                print(f"{name or 'lanes_'}{workers}: {timed}", file=sys.stderr)
                figures[f"{name}reads_per_s_{workers}"] = timed["reads_per_s"]
                figures[f"{name}client_cpu_ms_{workers}"] = timed["client_cpu_ms"]
                figures[f"{name}server_cpu_ms_{workers}"] = timed["server_cpu_ms"]
        log = verified(settings)
    for name in ("", "baseline_"):
        figures[f"{name}scaling"] = round(
            figures[f"{name}reads_per_s_{WORKERS}"] / figures[f"{name}reads_per_s_1"], 2
        )
    print(
        json.dumps(
            {
                "patients": patients_count,
                "seconds": seconds,
                "cores": os.cpu_count(),
                "workers": WORKERS,
                **figures,
                "log": log,
            }
        )
    )


if __name__ == "__main__":
    main()
