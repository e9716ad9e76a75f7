"""A page or an API request is served in one unit of work: the session (or token) is checked
inside the transaction of the use case, so a chart or a plan takes SQLite's writer slot once.
Whatever the session's state, it is still checked there (a stale one refused, its use noted
in that same transaction), the read is audited as the member signed in, and the log verifies
(bench/web.py times these pages: docs/benchmarks.md)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import event, select

from dermaplan.app import records_admin
from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.models import ApiToken, AuditEvent, LoginSession
from dermaplan.web.app import create_app
from dermaplan.web.security import Browser
from tests.records.factories import add_consult
from tests.web.conftest import World, api_token, client_of, sign_in

R = StaffRole.PRACTITIONER
FROM = re.compile(r"\bFROM\s+(\w+)")


@contextmanager
def statements(world: World) -> Iterator[list[str]]:
    """The statements sent while the block runs."""
    sent: list[str] = []

    def note(*arguments: object) -> None:
        sent.append(str(arguments[2]))

    engine = world.application.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


@contextmanager
def begun(world: World) -> Iterator[list[str]]:
    """The BEGIN statements sent while the block runs: one for each transaction."""
    begins: list[str] = []
    with statements(world) as sent:
        yield begins
    begins.extend(statement for statement in sent if statement.startswith("BEGIN"))


def audited(world: World, action: str) -> list[AuditEvent]:
    with transaction(world.engine, write=False) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def last_seen(world: World) -> list[object]:
    with transaction(world.engine, write=False) as session:
        return list(session.scalars(select(LoginSession.last_seen_at)))


def verifies(world: World) -> bool:
    report = world.application.run(str(world.ours.staff[StaffRole.ADMIN]), records_admin.verify)
    return report.intact


def test_a_chart_is_one_write_transaction_the_session_checked_inside(world: World) -> None:
    chart = f"/patients/{world.ours.patient}/chart"
    with client_of(world) as client:
        sign_in(client, world, R)
        with begun(world) as sent:
            answer = client.get(chart)
        assert answer.status_code == 200
        assert sent == ["BEGIN IMMEDIATE"]
        world.clock.advance(minutes=2)  # the session's use is due to be noted
        with begun(world) as sent:
            assert client.get(chart).status_code == 200
        assert sent == ["BEGIN IMMEDIATE"]
    assert world.clock.now in last_seen(world)  # noted in that one transaction
    reads = audited(world, "patient.timeline")
    assert [event.staff_id for event in reads] == [world.ours.staff[R]] * 2
    assert verifies(world)


def test_the_member_signed_in_is_read_with_their_session_and_clinic(world: World) -> None:
    """The session's member is the acting member, and they and their clinic's time zone
    come with the session, in its one statement: no second read of either."""
    with client_of(world) as client:
        sign_in(client, world, R)
        with statements(world) as sent:
            assert client.get(f"/patients/{world.ours.patient}/chart").status_code == 200
    reads = [found.group(1) for statement in sent if (found := FROM.search(statement))]
    assert reads.count("login_session") == 1
    assert "staff" not in reads
    assert "clinic" not in reads
    [with_session] = [statement for statement in sent if "FROM login_session" in statement]
    assert "JOIN staff" in with_session
    assert "JOIN clinic" in with_session


def test_the_member_of_a_token_is_read_with_it(world: World) -> None:
    consult = add_consult(world.engine, world.ours.id, world.ours.patient)
    headers = api_token(world, R)
    with client_of(world) as client, statements(world) as sent:
        assert client.get(f"/api/v1/consults/{consult}", headers=headers).status_code == 200
    reads = [found.group(1) for statement in sent if (found := FROM.search(statement))]
    assert reads.count("api_token") == 1
    assert "clinic" not in reads


def test_a_stored_plan_through_the_api_is_one_write_transaction(world: World) -> None:
    consult = add_consult(world.engine, world.ours.id, world.ours.patient)
    headers = api_token(world, R)
    with client_of(world) as client, statements(world) as sent:
        assert client.get(f"/api/v1/consults/{consult}", headers=headers).status_code == 200
    assert [statement for statement in sent if statement.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]
    reads = [found.group(1) for statement in sent if (found := FROM.search(statement))]
    assert "patient" not in reads  # the consult's patient comes with it, in one query
    assert [event.staff_id for event in audited(world, "consult.read")] == [world.ours.staff[R]]
    assert verifies(world)


def test_the_charting_api_checks_its_token_inside_the_use_case_unit(world: World) -> None:
    """As every endpoint of the API: no transaction of its own for the token first."""
    headers = api_token(world, R)
    with client_of(world) as client, begun(world) as sent:
        answer = client.get(f"/api/v1/sessions/{uuid.uuid4()}", headers=headers)
    assert answer.status_code == 404
    assert sent == ["BEGIN IMMEDIATE"]


def test_a_session_gone_idle_is_refused_inside_the_unit_and_nothing_is_audited(
    world: World,
) -> None:
    with client_of(world) as client:
        sign_in(client, world, R)
        world.clock.advance(minutes=31)
        with begun(world) as sent:
            answer = client.get(f"/patients/{world.ours.patient}/chart", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login"
        assert sent == ["BEGIN IMMEDIATE"]  # refused there, and rolled back
    assert audited(world, "patient.timeline") == []
    assert verifies(world)


def test_a_revoked_token_is_refused_inside_the_unit(world: World) -> None:
    consult = add_consult(world.engine, world.ours.id, world.ours.patient)
    headers = api_token(world, R)
    with client_of(world) as client:
        tokens = client.get("/api/v1/tokens", headers=headers).json()
        assert client.delete(f"/api/v1/tokens/{tokens[0]['id']}", headers=headers).is_success
        answer = client.get(f"/api/v1/consults/{consult}", headers=headers)
    assert answer.status_code == 401
    assert audited(world, "consult.read") == []


def test_a_page_that_runs_no_use_case_still_checks_the_session(world: World) -> None:
    """The session a page takes is checked as it returns, whether or not it used it."""
    app = create_app(world.application)

    @app.get("/probe")
    def probe(session: Browser) -> dict[str, str]:
        return {"served": "yes"}

    with TestClient(app) as client:
        refused = client.get("/probe", follow_redirects=False)
        assert refused.status_code == 303
        assert refused.headers["location"] == "/login"
        sign_in(client, world, R)
        assert client.get("/probe").json() == {"served": "yes"}


def test_a_page_that_reads_nothing_audited_notes_the_session_use(world: World) -> None:
    """A unit that writes nothing cannot note a session's use; it is noted after it."""
    with client_of(world) as client:
        sign_in(client, world, R)
        world.clock.advance(minutes=2)
        assert client.get("/account").status_code == 200
    assert world.clock.now in last_seen(world)


def test_a_request_that_reads_nothing_audited_notes_the_tokens_use(world: World) -> None:
    """As a session's: a token's use is noted after a unit that writes nothing."""
    headers = api_token(world, R)
    with client_of(world) as client:
        world.clock.advance(minutes=2)
        with begun(world) as sent:
            assert client.get("/api/v1/tokens", headers=headers).status_code == 200
    assert sent == ["BEGIN", "BEGIN IMMEDIATE"]  # the read, then the note of its use
    with transaction(world.engine, write=False) as session:
        assert list(session.scalars(select(ApiToken.last_used_at))) == [world.clock.now]
