"""Benchmark of the web app under load: `dermaplan serve` in a process of its own, and a
load generator on loopback (this process: asyncio and httpx2, the HTTP client of the dev
tools, one connection per client), its clients signed in. Ends with one JSON line of
figures.

    python bench/web.py            10,000 patients / 100,000 sessions, SQLite, 1 worker, 8 clients
    python bench/web.py --quick    1,000 / 10,000, shorter runs (under 60 s)
    python bench/web.py --database postgresql --workers 2 --clients 32

Three kinds of request, timed in turns (health, chart, plan, again and again) so that a busy
moment of the machine falls on all of them alike:

- **health**: `GET /api/v1/health`, the bare endpoint (no login, no database): what the
  server, its middleware and this generator can do at most;
- **chart**: the patient chart page of a random patient (`CHART_URL`), signed in with a
  practitioner's session cookie (each client its own session);
- **plan**: the plan of a random stored consult (`PLAN_URL`), with the same practitioner's
  API token where the URL is the API's, their session cookie where it is a page's.

The clinic comes from the demo generator (dermaplan.records.demo, fixed seed), loaded in bulk
by a process of its own, into a fresh SQLite file in a temporary home folder or a fresh
PostgreSQL database (`dermaplan_bench_web_...`, made on the server of
DERMAPLAN_TEST_POSTGRES_URL, default the local one, and dropped afterwards). The server reads
its settings from DERMAPLAN_HOME and DERMAPLAN_DATABASE_URL, as a clinic's would.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from dermaplan.knowledge import load_knowledge
from dermaplan.records import demo, logins
from dermaplan.records.anchor import Anchor, LocalAnchorFile, claim_anchor, database_id
from dermaplan.records.context import Context
from dermaplan.records.db import transaction, upgrade
from dermaplan.records.enums import StaffRole
from dermaplan.records.models import Consult, Patient, Staff
from dermaplan.records.photos import LocalFolderStorage
from records import POSTGRES_URL, SEED, bench_clinic, keyed_engine, postgres_unreachable, settle

HEALTH_URL = "/api/v1/health"
CHART_URL = "/patients/{patient_id}/chart"
# The plan review page of a stored consult (signed in by the session cookie); its JSON under
# the API is "/api/v1/consults/{consult_id}" (with the API token)
PLAN_URL = "/consults/{consult_id}"
API = "/api/"


@dataclass(frozen=True)
class Size:
    patients: int
    sessions: int
    rounds: int  # turns of the three kinds
    slice_s: float  # the length of one kind's run in a turn
    warm_s: float  # each kind's run before the timings


FULL = Size(10_000, 100_000, rounds=5, slice_s=8.0, warm_s=3.0)
QUICK = Size(1_000, 10_000, rounds=2, slice_s=3.0, warm_s=1.0)


@dataclass(frozen=True)
class Target:
    """What the load needs to know of the clinic: who signs in, and what they read."""

    login: str
    token: str
    patients: list[uuid.UUID]
    consults: list[tuple[uuid.UUID, uuid.UUID]]  # (patient, consult)


@dataclass
class Timings:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = 0.0  # None where it cannot be read


@contextmanager
def sqlite_database(home: Path) -> Iterator[str]:
    """The file of the home folder, as `dermaplan init` makes it (gone with the folder)."""
    yield f"sqlite:///{home / 'dermaplan.db'}"


@contextmanager
def postgres_database(server: str) -> Iterator[str]:
    """A fresh database on the server, dropped afterwards (whoever is still connected)."""
    name = f"dermaplan_bench_web_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def prepare_clinic(url: str, home: Path, size: Size) -> Target:
    """Load the demo clinic (a process of its own runs this: the generated clinic is freed
    with it), sign its log with a new keyring, anchor it, and give the practitioner who
    signs in (one without a second factor) an API token."""
    engine = keyed_engine(url, home)
    try:
        upgrade(engine)
        now = dt.datetime.now(dt.UTC)
        clinic = bench_clinic(load_knowledge(), size.patients, size.sessions, now)
        member = next(
            s for s in clinic.staff if s.role is StaffRole.PRACTITIONER and s.totp_secret is None
        )
        context = Context(actor="os:bench", now=now)
        demo.bulk_load(engine, context, clinic, LocalFolderStorage(home / "photos"))
        settle(engine)
        with transaction(engine) as session:
            staff = session.scalars(select(Staff).where(Staff.name == member.name)).one()
            _, token = logins.create_token(session, context, staff.clinic_id, staff.id, "bench")
        with transaction(engine, write=False) as session:
            claim_anchor(
                LocalAnchorFile(home / "audit-head.json"), Anchor(database_id(session), {})
            )
            patients = list(session.scalars(select(Patient.id)))
            consults = [
                (row.patient_id, row.id)
                for row in session.execute(select(Consult.patient_id, Consult.id))
            ]
        return Target(member.login, token, patients, consults)
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_cpu_s(pid: int) -> float | None:
    """The CPU time of `dermaplan serve` and its workers so far (Linux), if it can be read;
    not the database server's."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = 0
        for process in (pid, *map(int, children)):
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    except OSError:
        return None
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def served(home: Path, url: str, workers: int) -> Iterator[tuple[str, int]]:
    """`dermaplan serve` over the clinic, in a process of its own; its base URL and pid."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERMAPLAN_")}
    env |= {"DERMAPLAN_HOME": str(home), "DERMAPLAN_DATABASE_URL": url}
    env["DERMAPLAN_ACTOR"] = "os:bench"
    port = _free_port()
    command = [sys.executable, "-m", "dermaplan", "serve", "--port", str(port)]
    log = home / "serve.log"  # a file, not a pipe nobody reads
    with log.open("wb") as written:
        server = subprocess.Popen(
            [*command, "--workers", str(workers)], env=env, stdout=written, stderr=written
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                sys.exit(f"dermaplan serve stopped: {log.read_text()}")
            try:
                with urllib.request.urlopen(f"{base}{HEALTH_URL}", timeout=2):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit(f"dermaplan serve did not answer: {log.read_text()}")
                time.sleep(0.2)
        yield base, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


async def sign_in(client: httpx2.AsyncClient, login: str) -> None:
    """A session of its own for the client, through the sign-in form (its double-submit
    token made here, as the login page would give it)."""
    form_token = secrets.token_urlsafe(32)
    client.cookies.set("dermaplan_login", form_token)
    answer = await client.post(
        "/login",
        data={"csrf_token": form_token, "login": login, "password": demo.DEMO_PASSWORD},
    )
    if answer.status_code != 303 or answer.headers.get("location") != "/today":
        sys.exit(f"the practitioner could not sign in: {answer.status_code} {answer.text[:200]}")


def urls(kind: str, target: Target, rng: random.Random) -> str:
    if kind == "health":
        return HEALTH_URL
    if kind == "chart":
        return CHART_URL.format(patient_id=rng.choice(target.patients))
    patient, consult = rng.choice(target.consults)
    return PLAN_URL.format(patient_id=patient, consult_id=consult)


async def load(
    clients: list[httpx2.AsyncClient],
    kind: str,
    target: Target,
    rng: random.Random,
    until: float,
    timings: Timings,
) -> None:
    """Every client asks for `kind` in a loop, one request at a time, until `until`."""
    headers = {"Authorization": f"Bearer {target.token}"} if PLAN_URL.startswith(API) else {}

    async def one_client(client: httpx2.AsyncClient) -> None:
        while (start := time.perf_counter()) < until:
            answer = await client.get(
                urls(kind, target, rng), headers=headers if kind == "plan" else None
            )
            timings.latencies.append(time.perf_counter() - start)
            if answer.status_code != 200:
                timings.errors += 1

    await asyncio.gather(*(one_client(client) for client in clients))


async def run_load(
    base: str, server: int, target: Target, size: Size, clients_count: int
) -> dict[str, Any]:
    kinds = ("health", "chart", "plan")
    rng = random.Random(SEED)  # the same patients and consults each run
    timings = {kind: Timings() for kind in kinds}
    limits = httpx2.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx2.AsyncClient(base_url=base, limits=limits, timeout=60) for _ in range(clients_count)
    ]
    try:
        await asyncio.gather(*(sign_in(client, target.login) for client in clients))
        for kind in kinds:  # warm: each worker's connections, caches and templates
            warm = Timings()
            await load(clients, kind, target, rng, time.perf_counter() + size.warm_s, warm)
            if warm.errors:
                sys.exit(f"{kind}: {warm.errors} of {len(warm.latencies)} requests failed")
        for _ in range(size.rounds):
            for kind in kinds:
                figures = timings[kind]
                served_cpu, cpu = server_cpu_s(server), time.process_time()
                start = time.perf_counter()
                await load(clients, kind, target, rng, start + size.slice_s, figures)
                figures.seconds += time.perf_counter() - start
                figures.client_cpu_s += time.process_time() - cpu
                served_after = server_cpu_s(server)
                if served_cpu is None or served_after is None or figures.server_cpu_s is None:
                    figures.server_cpu_s = None
                else:
                    figures.server_cpu_s += served_after - served_cpu
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    return {kind: _figures(timings[kind]) for kind in kinds}


def _figures(timings: Timings) -> dict[str, Any]:
    latencies = sorted(timings.latencies)
    count = len(latencies)
    return {
        "requests": count,
        "errors": timings.errors,
        "rps": round(count / timings.seconds, 1),
        "p50_ms": round(1000 * latencies[count // 2], 2),
        "p95_ms": round(1000 * latencies[int(0.95 * (count - 1))], 2),
        "client_cpu_ms": round(1000 * timings.client_cpu_s / count, 3),
        "server_cpu_ms": None
        if timings.server_cpu_s is None
        else round(1000 * timings.server_cpu_s / count, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smaller clinic, under 60 s")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    server = os.environ.get("DERMAPLAN_TEST_POSTGRES_URL") or POSTGRES_URL
    if args.database == "postgresql" and (why := postgres_unreachable(server)):
        sys.exit(f"PostgreSQL is unreachable: {why}")
    load_average = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="dermaplan-bench-web-") as folder:
        home = Path(folder)
        database = (
            postgres_database(server) if args.database == "postgresql" else sqlite_database(home)
        )
        with database as url:
            start = time.perf_counter()
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                target = pool.apply(prepare_clinic, (url, home, size))
            generate_s = time.perf_counter() - start
            print(f"clinic loaded in {generate_s:.1f} s", file=sys.stderr)
            with served(home, url, args.workers) as (base, pid):
                figures = asyncio.run(run_load(base, pid, target, size, args.clients))
    for kind, shown in figures.items():
        print(f"{kind}: {shown}", file=sys.stderr)
    health, chart, plan = figures["health"], figures["chart"], figures["plan"]
    print(
        json.dumps(
            {
                "database": args.database,
                "workers": args.workers,
                "clients": args.clients,
                "patients": size.patients,
                "sessions": size.sessions,
                "consults": len(target.consults),
                "plan_url": PLAN_URL,
                "cores": os.cpu_count(),
                "load_average_before": round(load_average, 2),
                "generate_s": round(generate_s, 1),
                "chart_p95_ms": chart["p95_ms"],
                "plan_p95_ms": plan["p95_ms"],
                "health_rps": health["rps"],
                "chart_rps": chart["rps"],
                "plan_rps": plan["rps"],
                "chart_vs_health_ratio": round(chart["rps"] / health["rps"], 3),
                "errors": sum(kind["errors"] for kind in figures.values()),
                **{
                    f"{kind}_{name}": value
                    for kind, shown in figures.items()
                    for name, value in shown.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
