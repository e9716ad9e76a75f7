"""Authentication and sessions (OWASP ASVS level 2): the cookie's flags, a new session id
at login, logout on the server, idle and absolute expiry on the application's clock,
lockout and throttling, the TOTP second factor; CSRF refused; the security headers; no
patient data in URLs or titles; script in a name shown as text."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, update

from dermaplan.records import logins
from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.models import LoginAttempt, LoginSession
from dermaplan.web.security import CONTENT_SECURITY_POLICY
from tests.records.factories import add_patient
from tests.web.conftest import (
    PASSWORD,
    TOTP_SECRETS,
    World,
    client_of,
    code,
    csrf,
    sign_in,
)

A, P, R = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION


def post_login(client: TestClient, login: str, password: str) -> tuple[int, str]:
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={"csrf_token": csrf(form.text), "login": login, "password": password},
        follow_redirects=False,
    )
    return answer.status_code, answer.text


def signed_in(client: TestClient) -> bool:
    return client.get("/today", follow_redirects=False).status_code == 200


def test_the_session_cookie_is_httponly_lax_and_secure_over_tls(world: World) -> None:
    for base, name, secure in (
        ("http://testserver", "dermaplan_session", False),
        ("https://testserver", "__Host-dermaplan_session", True),
    ):
        with client_of(world, base) as client:
            form = client.get("/login")
            answer = client.post(
                "/login",
                data={
                    "csrf_token": csrf(form.text),
                    "login": "practitioner@parc",
                    "password": PASSWORD,
                },
                follow_redirects=False,
            )
            cookie = next(
                c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{name}=")
            )
            flags = {part.strip().lower() for part in cookie.split(";")[1:]}
            assert {"httponly", "samesite=lax", "path=/"} <= flags
            assert ("secure" in flags) is secure
            assert not any(f.startswith(("max-age", "expires", "domain")) for f in flags)
            assert signed_in(client)
            strict = client.get("/today").headers.get("strict-transport-security")
            assert (strict is not None) is secure


def test_a_login_gives_a_new_session_and_ends_the_one_before(world: World) -> None:
    with client_of(world) as client:
        sign_in(client, world, P)
        first = client.cookies["dermaplan_session"]
        sign_in(client, world, R)
        second = client.cookies["dermaplan_session"]
        assert first != second
        assert "reception of Parc" in client.get("/today").text
    with client_of(world) as copy:
        copy.cookies.set("dermaplan_session", first)
        assert not signed_in(copy)  # the session before the login has ended


def test_logout_ends_the_session_on_the_server(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, P)
        kept = client.cookies["dermaplan_session"]
        answer = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert answer.headers["location"] == "/login"
    with client_of(world) as copy:
        copy.cookies.set("dermaplan_session", kept)  # a copy of the cookie opens nothing
        assert not signed_in(copy)
    with transaction(world.engine, write=False) as session:
        ended = session.scalars(select(LoginSession.end_reason)).all()
    assert ended == ["logout"]


def test_a_session_ends_after_30_idle_minutes_and_12_hours_in_all(world: World) -> None:
    with client_of(world) as client:
        sign_in(client, world, P)
        world.clock.advance(minutes=29)
        assert signed_in(client)
        world.clock.advance(minutes=31)
        assert not signed_in(client)
        answer = client.get("/today", follow_redirects=False)
        assert answer.headers["location"] == "/login"
        assert (
            client.get("/today", headers={"HX-Request": "true"}).headers["HX-Redirect"] == "/login"
        )

        sign_in(client, world, P)
        for _ in range(26):  # in use every 29 minutes: alive until 12 hours after the login
            world.clock.advance(minutes=29)
            assert signed_in(client) is (world.clock.now - dt.timedelta(hours=12) <= started(world))
        assert not signed_in(client)


def started(world: World) -> dt.datetime:
    with transaction(world.engine, write=False) as session:
        return max(session.scalars(select(LoginSession.started_at)))


def test_a_wrong_name_and_a_wrong_password_get_the_same_answer(world: World) -> None:
    with client_of(world) as client:
        nobody = post_login(client, "nobody@parc", PASSWORD)
        wrong = post_login(client, "practitioner@parc", "not the password at all")
    assert nobody[0] == wrong[0] == 401
    message = "the login name or the password is wrong"
    assert message in nobody[1]
    assert message in wrong[1]


@pytest.mark.parametrize("login", ["practitioner@parc", "nobody@parc"])
def test_five_failures_lock_a_login_name_for_15_minutes(world: World, login: str) -> None:
    with client_of(world) as client:
        for _ in range(logins.FAILURES_BEFORE_LOCK):
            assert post_login(client, login, "not the password at all")[0] == 401
        status, page = post_login(client, login, PASSWORD)
        assert status == 401
        assert "too many failed attempts for this login; try again in 15 minutes" in page
        world.clock.advance(minutes=15)
        if login == "practitioner@parc":
            sign_in(client, world, P)  # the right password is taken again
            assert signed_in(client)


def test_an_address_that_fails_too_often_is_throttled(world: World) -> None:
    now = world.clock.now
    with transaction(world.engine) as session:
        for number in range(logins.ADDRESS_FAILURES):
            session.add(
                LoginAttempt(login=f"guess{number}", address="10.0.0.9", at=now, succeeded=False)
            )
    with transaction(world.engine, write=False) as session:
        assert logins.lockout(session, "practitioner@parc", "10.0.0.9", now) == (
            "too many failed attempts from this address; try again later"
        )
        assert logins.lockout(session, "practitioner@parc", "10.0.0.8", now) is None
        later = now + logins.LOCK_WINDOW + dt.timedelta(seconds=1)
        assert logins.lockout(session, "practitioner@parc", "10.0.0.9", later) is None


def test_an_admin_signs_in_with_a_code_used_once(world: World) -> None:
    with client_of(world) as client:
        status, _ = post_login(client, "admin@parc", PASSWORD)
        assert status == 303
        assert not signed_in(client)  # a password alone opens nothing
        page = client.get("/login/code")
        wrong = client.post("/login/code", data={"csrf_token": csrf(page.text), "code": "000000"})
        assert wrong.status_code == 401
        assert "the code is wrong" in wrong.text
        right = client.post(
            "/login/code",
            data={"csrf_token": csrf(page.text), "code": code(world)},
            follow_redirects=False,
        )
        assert right.headers["location"] == "/today"
        assert signed_in(client)
    with client_of(world) as replay:  # the same code again, within its 30 seconds
        post_login(replay, "admin@parc", PASSWORD)
        page = replay.get("/login/code")
        again = replay.post(
            "/login/code", data={"csrf_token": csrf(page.text), "code": code(world)}
        )
        assert again.status_code == 401
        assert not signed_in(replay)
        world.clock.advance(seconds=30)
        sign_in(replay, world, A)


def test_five_wrong_codes_end_the_sign_in(world: World) -> None:
    with client_of(world) as client:
        post_login(client, "admin@parc", PASSWORD)
        page = client.get("/login/code")
        for _ in range(logins.FAILURES_BEFORE_LOCK):
            answer = client.post(
                "/login/code", data={"csrf_token": csrf(page.text), "code": "123456"}
            )
        assert "too many failed attempts" in answer.text
        late = client.post("/login/code", data={"csrf_token": csrf(page.text), "code": code(world)})
        assert late.status_code == 401
        assert not signed_in(client)


def test_the_code_must_follow_the_password_within_5_minutes(world: World) -> None:
    with client_of(world) as client:
        post_login(client, "admin@parc", PASSWORD)
        page = client.get("/login/code")
        world.clock.advance(minutes=6)
        late = client.post("/login/code", data={"csrf_token": csrf(page.text), "code": code(world)})
        assert "the sign-in has expired" in late.text
        assert not signed_in(client)


def test_an_admin_without_a_second_factor_is_refused(world: World) -> None:
    with transaction(world.engine) as session:
        credential = logins.credential_of(session, world.ours.staff[A])
        assert credential is not None
        credential.totp_secret = None
    with client_of(world) as client:
        status, page = post_login(client, "admin@parc", PASSWORD)
    assert status == 401
    assert "an admin signs in with a second factor" in page


def test_a_change_without_the_csrf_token_is_refused(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, P)
        other = client_of(world)
        other_token = sign_in(other, world, R)
        for data, headers in (
            ({"query": "mor"}, {}),
            ({"query": "mor", "csrf_token": "forged"}, {}),
            ({"query": "mor", "csrf_token": other_token}, {}),  # another session's
            ({"query": "mor", "csrf_token": token}, {"Origin": "https://elsewhere.example"}),
        ):
            answer = client.post("/patients/search", data=data, headers=headers)
            assert answer.status_code == 403, data
            assert "the form has expired or did not come from this app" in answer.text
        assert (
            client.post("/patients/search", data={"query": "mor", "csrf_token": token}).status_code
            == 200
        )
        header = client.post(
            "/patients/search", data={"query": "mor"}, headers={"X-CSRF-Token": token}
        )
        assert header.status_code == 200
        assert client.post("/logout", data={}).status_code == 403
        assert signed_in(client)  # a forged logout ends nothing
        other.close()


def test_the_login_form_needs_its_double_submit_token(world: World) -> None:
    with client_of(world) as client:
        client.get("/login")
        answer = client.post(
            "/login",
            data={"csrf_token": "forged", "login": "practitioner@parc", "password": PASSWORD},
        )
        assert answer.status_code == 403
        assert not signed_in(client)


def test_every_answer_carries_the_security_headers(world: World) -> None:
    with client_of(world) as client:
        sign_in(client, world, P)
        answers = [
            client.get("/login"),
            client.get("/today"),
            client.get("/static/app.css"),
            client.get("/no/such/page"),
            client.get("/api/v1/health"),
            client.get("/api/v1/me"),
        ]
    for answer in answers:
        headers = answer.headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"
        static = answer.url.path.startswith("/static/")
        assert (headers.get("cache-control") == "no-store") is not static


def test_pages_have_no_inline_script_or_style(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, P)
        pages = [
            client.get(path).text
            for path in (
                "/login",
                "/today",
                "/patients",
                "/account",
                f"/patients/{world.ours.patient}",
                f"/patients/{world.ours.patient}/chart",
            )
        ]
        pages.append(client.post("/patients/search", data={"query": "m", "csrf_token": token}).text)
    for page in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # every script is a file
        assert " style=" not in page
        assert "<style" not in page
        assert not re.search(r"\son[a-z]+=", page)  # no event handler attributes


def test_no_patient_data_in_urls_or_page_titles(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, P)
        found = client.post("/patients/search", data={"query": "moreau", "csrf_token": token})
        chart = client.get(f"/patients/{world.ours.patient}/chart").text
        details = client.get(f"/patients/{world.ours.patient}").text
    for page in (found.text, chart, details):
        links = re.findall(r'(?:href|action|hx-post)="([^"]*)"', page)
        assert links
        assert not [link for link in links if re.search("moreau|claire", link, re.IGNORECASE)]
        title = re.search(r"<title>(.*)</title>", page)
        assert title
        assert "oreau" not in title.group(1)
    assert "MOREAU, Claire" in chart


def test_script_in_a_name_is_shown_as_text(world: World) -> None:
    script = "<script>alert(1)</script>"
    patient = add_patient(
        world.engine, world.ours.id, family_name=f"Evil{script}", given_names=script
    )
    with client_of(world) as client:
        token = sign_in(client, world, P)
        pages = [
            client.post("/patients/search", data={"query": "evil", "csrf_token": token}).text,
            client.get(f"/patients/{patient}").text,
            client.get(f"/patients/{patient}/chart").text,
        ]
    for page in pages:
        assert script not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_reception_is_refused_every_clinical_page(world: World) -> None:
    with client_of(world) as client:
        sign_in(client, world, R)
        chart = client.get(f"/patients/{world.ours.patient}/chart")
        assert chart.status_code == 403
        assert "patients timeline: reception of Parc (reception) may not" in chart.text
        assert "MOREAU" not in chart.text
        details = client.get(f"/patients/{world.ours.patient}")
        assert details.status_code == 200
        assert "Open the chart" not in details.text  # not offered either


def test_an_admin_is_refused_the_patients(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, A)
        answer = client.post("/patients/search", data={"query": "mor", "csrf_token": token})
        assert answer.status_code == 403
        assert client.get(f"/patients/{world.ours.patient}").status_code == 403


def test_totp_secrets_of_the_tests_are_real_base32() -> None:
    assert all(len(secret) == 32 for secret in TOTP_SECRETS.values())


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.text(max_size=250))
def test_whatever_is_typed_into_the_search_is_answered_and_shown_as_text(
    world: World, signed_in_practitioner: tuple[TestClient, str], typed: str
) -> None:
    client, token = signed_in_practitioner
    answer = client.post("/patients/search", data={"query": typed, "csrf_token": token})
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 200:  # the page shows it back in the search box, escaped
        shown = re.search(r'name="query" type="search" value="([^"]*)"', answer.text)
        assert shown is not None
        assert html.unescape(shown.group(1)) == typed.strip()
        assert not re.search("[<>]", shown.group(1))


@pytest.fixture
def signed_in_practitioner(world: World) -> Iterator[tuple[TestClient, str]]:
    with client_of(world) as client:
        yield client, sign_in(client, world, P)


def test_a_session_row_written_in_sql_signs_no_one_in(any_world: World) -> None:
    """Whoever can write the database but not the audit keyring cannot make a session for
    a member, nor move their own session to another member: the row's HMAC under the
    audit key is checked at every use."""
    world, admin = any_world, any_world.ours.staff[A]
    token = "a-token-the-intruder-chose"
    with world.engine.begin() as connection:
        connection.execute(
            insert(LoginSession).values(
                id=uuid.uuid4(),
                token_hash=logins.secret_hash(token),
                staff_id=admin,
                clinic_id=world.ours.id,
                awaiting_code=False,
                csrf_token="x",
                started_at=world.clock.now,
                last_seen_at=world.clock.now,
            )
        )
    with client_of(world) as client:
        client.cookies.set("dermaplan_session", token)
        assert not signed_in(client)
    with client_of(world) as client:
        sign_in(client, world, R)
        assert signed_in(client)
        with world.engine.begin() as connection:
            connection.execute(
                update(LoginSession)
                .where(LoginSession.staff_id == world.ours.staff[R])
                .values(staff_id=admin)
            )
        assert not signed_in(client)
