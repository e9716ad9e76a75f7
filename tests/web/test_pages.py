"""The pages: Today by role, search as you type (a fragment for htmx, the page without it),
the account's tokens made, shown once and revoked, and bad input answered by a page that
says what and where, with nothing stored."""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dermaplan.records import db
from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.models import ApiToken
from tests.app.test_today import plan_course
from tests.records.factories import NOW, add_consult
from tests.web.conftest import World, client_of, csrf, sign_in

A, P, R = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION
SECTIONS = (
    "Planned sessions",
    "Plans awaiting approval",
    "Sessions awaiting signature",
    "Open adverse events",
    "Lots expiring within 30 days",
)


def tokens(world: World) -> int:
    with transaction(world.engine, write=False) as session:
        return session.scalar(select(func.count()).select_from(ApiToken)) or 0


def test_today_shows_each_role_its_lists(world: World) -> None:
    shown = {}
    for role in StaffRole:
        with client_of(world) as client:
            sign_in(client, world, role)
            page = client.get("/today").text
            shown[role] = [section for section in SECTIONS if section in page]
    assert shown == {
        R: ["Planned sessions"],
        P: list(SECTIONS),
        A: ["Lots expiring within 30 days"],
    }


def test_today_shows_the_session_a_course_is_due_for_and_whether_it_is_overdue(
    world: World,
) -> None:
    plan_course(
        world.engine, world.ours.id, world.ours.patient, add_consult(
            world.engine, world.ours.id, world.ours.patient
        ),
    )  # fmt: skip
    world.clock.now = NOW  # its first session planned yesterday, not done
    with client_of(world) as client:
        sign_in(client, world, R)
        page = client.get("/today").text
    yesterday = (NOW.date() - dt.timedelta(days=1)).isoformat()
    assert "session 1 of 3, <strong>overdue</strong> since" in page
    assert yesterday in page
    assert "session 2 of 3" not in page


def test_search_as_you_type_answers_htmx_with_the_results_alone(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, R)
        typed = client.post(
            "/patients/search",
            data={"query": "mor"},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        assert typed.status_code == 200
        assert "<html" not in typed.text
        assert f'href="/patients/{world.ours.patient}"' in typed.text
        page = client.post("/patients/search", data={"query": "mor", "csrf_token": token})
        assert "<html" in page.text
        assert 'value="mor"' in page.text  # the search box keeps what was typed
        none = client.post(
            "/patients/search",
            data={"query": "zz"},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        assert "No patient's name starts with that." in none.text
        blank = client.post(
            "/patients/search",
            data={"query": "  "},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        assert "Type the first letters of a name." in blank.text


def test_a_token_made_on_the_account_page_is_shown_once_and_revoked_there(
    client: TestClient, world: World
) -> None:
    token = sign_in(client, world, R)
    made = client.post(
        "/account/tokens", data={"csrf_token": token, "name": "Desk export", "days": "7"}
    )
    assert made.status_code == 200
    secret = made.text.split('<code class="secret">')[1].split("</code>")[0]
    assert secret.startswith("dpat_")
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=bearer).json()["role"] == "reception"
    account = client.get("/account").text
    assert "Desk export" in account
    assert secret not in account
    assert secret[:11] in account
    revoke = account.split('action="/account/tokens/')[1].split('"')[0]
    done = client.post(
        f"/account/tokens/{revoke}", data={"csrf_token": csrf(account)}, follow_redirects=False
    )
    assert done.headers["location"] == "/account"
    assert "revoked" in client.get("/account").text
    assert client.get("/api/v1/me", headers=bearer).status_code == 401


def test_bad_input_gets_a_page_saying_what_and_where_and_stores_nothing(
    client: TestClient, world: World
) -> None:
    token = sign_in(client, world, P)
    wrong_id = client.get("/patients/not-an-id/chart")
    assert wrong_id.status_code == 422
    assert "path.patient_id" in wrong_id.text
    before = tokens(world)
    for data, where in (
        ({"name": "x", "days": "0"}, "body.days"),
        ({"name": "x", "days": "ninety"}, "body.days"),
        ({"name": "x" * 101}, "body.name"),
        ({"name": "   "}, "name: say what the token is for"),
    ):
        answer = client.post("/account/tokens", data={"csrf_token": token, **data})
        assert answer.status_code == 422, data
        assert where in answer.text
    assert tokens(world) == before
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert "no such page" in missing.text


def test_the_code_page_without_a_password_first_sends_to_the_login(client: TestClient) -> None:
    answer = client.get("/login/code", follow_redirects=False)
    assert answer.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).headers["location"] == "/today"


def test_no_connection_free_in_time_is_unavailable_not_a_crash(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(db, "POOL_WAIT_S", 0.2)  # read as the engine is made, at first use
    with client_of(world) as client:
        sign_in(client, world, P)
        engine = world.application.engine
        with ExitStack() as held:
            for _ in range(db.POOL_SIZE):  # every connection of the worker's engine in use
                held.enter_context(engine.connect())
            answer = client.get(f"/patients/{world.ours.patient}/chart")
            assert answer.status_code == 503
            assert "the records are unavailable; try again" in answer.text
            assert "timed out, timeout 0.20" in caplog.text  # the cause, in the log
        assert client.get(f"/patients/{world.ours.patient}/chart").status_code == 200


def test_a_database_that_refuses_is_unavailable_not_a_crash(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    sign_in(client, world, P)
    with world.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE login_attempt")
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={"csrf_token": csrf(form.text), "login": "Moreau", "password": "not it at all"},
    )
    assert answer.status_code == 503
    assert "the records are unavailable; try again" in answer.text
    assert "login_attempt" not in answer.text  # the cause is logged, not shown
    assert "no such table: login_attempt" in caplog.text
    assert "moreau" not in caplog.text.lower()  # nor the values of the statement
    assert client.get("/today").status_code == 200  # what still works, works


def test_a_refused_form_shows_each_problem_once_at_its_field_and_all_at_the_top() -> None:
    """The one way a page shows a refused form (templates/form_problems.html): a row's
    problems under that row with the part named, a sibling's never, the form's own where
    the form says so, every one in the summary."""
    from dermaplan.problems import Problem
    from dermaplan.web.views import environment

    problems = [
        Problem(("products", 0, "lot"), "unknown lot"),
        Problem(("products", 1), "not in the formulary"),
        Problem(("product_note",), "too long"),
        Problem((), "signed before it was opened"),
    ]
    page = environment.from_string(
        '{% from "form_problems.html" import summary, at, described %}'
        '{{ summary(problems, "Not recorded") }}'
        '<input{{ described(problems, "products[0]", "row-0") }}>'
        '[{{ at(problems, "products[0]", "row-0") }}]'
        '[{{ at(problems, "products", "rows") }}]'
        '[{{ at(problems, "", "form") }}]'
        '[{{ at(problems, "notes", "notes") }}]'
    ).render(problems=problems)
    assert '<h2 id="refused">Not recorded</h2>' in page
    for problem in problems:
        assert f"<li>{problem}</li>" in page
    assert '<input aria-invalid="true" aria-describedby="row-0-problem">' in page
    assert '[<p class="problem" id="row-0-problem">lot: unknown lot</p>]' in page
    assert (
        '[<p class="problem" id="rows-problem">[0].lot: unknown lot; [1]: not in the formulary</p>]'
    ) in page
    assert '[<p class="problem" id="form-problem">signed before it was opened</p>]' in page
    assert page.endswith("[]")
