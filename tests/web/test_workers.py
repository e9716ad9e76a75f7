"""Stateless workers: `dermaplan serve --workers 2` over one PostgreSQL database, and a
browser's session used through either worker. Which worker answers is decided by stopping
the other (SIGSTOP) for the length of one request or two: the workers share one listening
socket, so the one left running accepts every new connection, and each request here comes on
a connection of its own. (uvicorn's supervisor replaces a worker that does not answer its
ping within 5 seconds: no worker is stopped for that long.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from dermaplan.records.db import create_records_engine, upgrade
from dermaplan.records.enums import StaffRole
from tests.records.database import fresh_database, keyed
from tests.web.conftest import KEYRING, PASSWORD, Clinic, clinic, csrf

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads workers from /proc")

SESSION = "dermaplan_session"
REQUESTS = 12


@dataclass(frozen=True)
class Served:
    url: str
    workers: tuple[int, int]  # process ids
    clinic: Clinic


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _workers(server: int) -> list[int]:
    """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{server}/task/{server}/children").read_text().split()
    return [
        int(child)
        for child in children
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def _wait_until(condition: object, what: str, seconds: float = 30) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def _answers(url: str) -> bool:
    """Whether a worker listens yet (each listens on the shared socket as it starts); a
    worker not yet started takes its first connection when it is."""
    try:
        return httpx2.get(f"{url}/api/v1/health", timeout=5).status_code == 200
    except httpx2.TransportError:
        return False


@contextmanager
def only(served: Served, worker: int) -> Iterator[None]:
    """Every new connection answered by `worker`: the other is stopped meanwhile."""
    other = next(pid for pid in served.workers if pid != worker)
    os.kill(other, signal.SIGSTOP)
    _wait_until(lambda: _stopped(other), "the other worker did not stop")
    try:
        yield
    finally:
        os.kill(other, signal.SIGCONT)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """Two workers over a fresh PostgreSQL schema with a clinic whose staff can sign in."""
    home = tmp_path / "data"
    with fresh_database("postgresql", tmp_path) as url:
        engine = create_records_engine(url)
        keyed(engine, home / KEYRING)
        upgrade(engine)
        ours = clinic(engine, "Parc", "Moreau")
        engine.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DERMAPLAN_")}
        env |= {"DERMAPLAN_HOME": str(home), "DERMAPLAN_DATABASE_URL": url}
        env["DERMAPLAN_ACTOR"] = "os:tester"
        port = _free_port()
        log = tmp_path / "serve.log"
        with log.open("wb") as written:
            server = subprocess.Popen(
                [sys.executable, "-m", "dermaplan", "serve", "--port", str(port), "--workers", "2"],
                env=env,
                stdout=written,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until(
                lambda: server.poll() is not None or len(_workers(server.pid)) == 2,
                f"two workers did not start: {log.read_text()}",
            )
            url = f"http://127.0.0.1:{port}"
            _wait_until(lambda: _answers(url), f"nothing answered: {log.read_text()}")
            first, second = _workers(server.pid)
            yield Served(url, (first, second), ours)
        finally:
            for pid in _workers(server.pid) if server.poll() is None else []:
                os.kill(pid, signal.SIGCONT)  # a stopped worker would not hear the end
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def browser(served: Served) -> httpx2.Client:
    """A browser that opens a new connection for each request, so that whichever worker
    is running takes it."""
    return httpx2.Client(
        base_url=served.url,
        headers={"Connection": "close"},
        limits=httpx2.Limits(max_keepalive_connections=0),
        timeout=30,
    )


def sign_in(client: httpx2.Client, login: str) -> None:
    form = client.get("/login")
    answer = client.post(
        "/login", data={"csrf_token": csrf(form.text), "login": login, "password": PASSWORD}
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/today"), answer.text


def opens(client: httpx2.Client, path: str) -> bool:
    answer = client.get(path)
    if answer.status_code == 303:
        assert answer.headers["location"] == "/login"
        return False
    assert answer.status_code == 200, answer.text
    return True


def test_a_session_made_on_one_worker_is_served_and_ended_by_either(served: Served) -> None:
    first, second = served.workers
    pages = ("/today", f"/patients/{served.clinic.patient}/chart", "/patients")
    with browser(served) as client:
        with only(served, first):
            sign_in(client, served.clinic.logins[StaffRole.PRACTITIONER])
            token = csrf(client.get("/today").text)
        for turn in range(REQUESTS):  # each request through the worker whose turn it is
            with only(served, served.workers[turn % 2]):
                assert opens(client, pages[turn % len(pages)])
        cookie = client.cookies[SESSION]
        with only(served, second):
            ended = client.post("/logout", data={"csrf_token": token})
            assert (ended.status_code, ended.headers["location"]) == (303, "/login")
        client.cookies.set(SESSION, cookie)  # a copy of the cookie kept after the logout
        for worker in (first, second):
            with only(served, worker):
                assert not opens(client, pages[0])
