"""Credentials: a member sets their own password, an admin anyone's; passwords and login
names are checked at their fields; a new password ends the member's sessions; a TOTP code
is taken once, within a step either side; login names made from any name are valid."""

from __future__ import annotations

import datetime as dt
import uuid

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from dermaplan.app import logins
from dermaplan.app.unit import Application
from dermaplan.records import logins as stored
from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.errors import (
    DatabaseError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from dermaplan.records.models import StaffCredential
from tests.app.conftest import clinic_with_staff

A, P, R = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION
PASSWORD = "a long enough passphrase"


def test_members_set_their_own_password_and_an_admin_sets_anyones(
    application: Application, engine: Engine
) -> None:
    _, staff = clinic_with_staff(engine, "Parc")
    own = application.run(str(staff[P]), logins.set_password, "practitioner of Parc", PASSWORD)
    assert own.login == "practitioner.of.parc"
    with pytest.raises(Forbidden, match="may set only their own"):
        application.run(str(staff[P]), logins.set_password, "reception of Parc", PASSWORD)
    done = application.run(
        str(staff[A]), logins.set_password, str(staff[R]), PASSWORD, "Front.Desk"
    )
    assert done.login == "front.desk"
    step = logins.sign_in(application, "FRONT.DESK ", PASSWORD, None)
    assert not step.awaiting_code
    assert logins.signed_in(application, step.token).member.role is R


@pytest.mark.parametrize("own", [True, False])
def test_a_token_neither_makes_tokens_nor_changes_a_credential(
    application: Application, engine: Engine, own: bool
) -> None:
    """An API token is one secret: could it make tokens, or set a password or a second
    factor, whoever stole one would hold the account for good (an admin's, anyone's)."""
    _, staff = clinic_with_staff(engine, "Parc")
    for member in (A, P):
        application.run(str(staff[A]), logins.set_password, str(staff[member]), PASSWORD)
    made = application.run(str(staff[A]), logins.create_token, "a script")
    token = logins.TokenCheck(made.secret)
    target = str(staff[A] if own else staff[P])
    for use_case, arguments in (
        (logins.create_token, ("another",)),
        (logins.set_password, (target, PASSWORD + "!", None, PASSWORD)),
        (logins.enrol_totp, (target, None, PASSWORD)),
    ):
        with pytest.raises(Forbidden, match="an API token cannot"):
            application.run(token, use_case, *arguments)
    assert [t.name for t in application.run(token, logins.tokens)] == ["a script"]
    with transaction(engine, write=False) as session:
        credential = session.get(StaffCredential, uuid.UUID(target))
        assert credential is not None
        assert stored.password_matches(credential.password_hash, PASSWORD)
        assert credential.totp_secret is None


def test_in_a_browser_session_ones_own_credentials_change_with_the_current_password(
    application: Application, engine: Engine
) -> None:
    _, staff = clinic_with_staff(engine, "Parc")
    application.run(str(staff[P]), logins.set_password, str(staff[P]), PASSWORD)
    member = logins.signed_in(
        application, logins.sign_in(application, "practitioner.of.parc", PASSWORD, None).token
    ).member
    session = logins.CheckedMember(member)
    for current in (None, "", "not the password"):
        with pytest.raises(InvalidInput, match="current_password: not your current password"):
            application.run(
                session, logins.set_password, str(staff[P]), PASSWORD + "!", None, current
            )
        with pytest.raises(InvalidInput, match="current_password: not your current password"):
            application.run(session, logins.enrol_totp, str(staff[P]), None, current)
    application.run(session, logins.enrol_totp, str(staff[P]), None, PASSWORD)
    application.run(session, logins.set_password, str(staff[P]), PASSWORD + "!", None, PASSWORD)
    with pytest.raises(Unauthenticated):
        logins.sign_in(application, "practitioner.of.parc", PASSWORD, None)
    # the operator's command line, and an admin's session for another member, need none
    application.run(str(staff[P]), logins.set_password, str(staff[P]), PASSWORD)
    application.run(str(staff[A]), logins.set_password, str(staff[A]), PASSWORD)
    enrolled = application.run(str(staff[A]), logins.enrol_totp, str(staff[A]))
    step = logins.sign_in(application, "admin.of.parc", PASSWORD, None)
    code = pyotp.TOTP(enrolled.secret).at(application.clock())
    opened = logins.second_factor(application, step.token, code, None)
    admin = logins.signed_in(application, opened.token).member
    application.run(logins.CheckedMember(admin), logins.set_password, str(staff[P]), PASSWORD + "?")


def test_a_password_and_a_login_name_are_checked_at_their_fields(
    application: Application, engine: Engine
) -> None:
    _, staff = clinic_with_staff(engine, "Parc")
    acting = str(staff[A])
    for password, login, field in (
        ("too short", None, "password"),
        ("x" * 257, None, "password"),
        (PASSWORD, "no spaces please", "login"),
        (PASSWORD, ".dot", "login"),
    ):
        with pytest.raises(InvalidInput) as refused:
            application.run(acting, logins.set_password, str(staff[P]), password, login)
        assert refused.value.details[0].location == (field,)
    application.run(acting, logins.set_password, str(staff[P]), PASSWORD, "taken")
    with pytest.raises(InvalidInput, match="'taken' is another member's"):
        application.run(acting, logins.set_password, str(staff[R]), PASSWORD, "taken")
    with pytest.raises(NotFound, match="no member of this clinic"):
        application.run(acting, logins.set_password, "Nobody", PASSWORD)


@pytest.mark.parametrize(
    "guessable",
    [
        "password1234",
        "qwertyuiop12",
        "aaaaaaaaaaaa",
        "Dermaplan2026",
        "practitioner of Parc",
        "Parc practitioner",
    ],
)
def test_a_password_an_attacker_would_try_early_is_refused_and_the_old_one_kept(
    application: Application, engine: Engine, guessable: str
) -> None:
    """Breached and common passwords, keyboard runs, repeats, the product's name and the
    member's own name (ASVS 2.1.7), each long enough to pass the length rule."""
    _, staff = clinic_with_staff(engine, "Parc")
    application.run(str(staff[P]), logins.set_password, str(staff[P]), PASSWORD)
    with pytest.raises(InvalidInput, match="too easy to guess") as refused:
        application.run(str(staff[P]), logins.set_password, str(staff[P]), guessable)
    assert refused.value.details[0].location == ("password",)
    assert not logins.sign_in(application, "practitioner.of.parc", PASSWORD, None).awaiting_code


def test_a_new_password_ends_the_members_sessions(application: Application, engine: Engine) -> None:
    _, staff = clinic_with_staff(engine, "Parc")
    application.run(str(staff[P]), logins.set_password, str(staff[P]), PASSWORD)
    step = logins.sign_in(application, "practitioner.of.parc", PASSWORD, None)
    application.run(str(staff[P]), logins.set_password, str(staff[P]), PASSWORD + "!")
    with pytest.raises(Unauthenticated, match="the session has ended"):
        logins.signed_in(application, step.token)
    with pytest.raises(Unauthenticated, match="the login name or the password is wrong"):
        logins.sign_in(application, "practitioner.of.parc", PASSWORD, None)


def test_a_second_factor_needs_a_password_first(application: Application, engine: Engine) -> None:
    _, staff = clinic_with_staff(engine, "Parc")
    with pytest.raises(InvalidInput) as refused:
        application.run(str(staff[R]), logins.enrol_totp, str(staff[R]))
    assert refused.value.details[0].location == ("totp",)
    application.run(str(staff[R]), logins.set_password, str(staff[R]), PASSWORD)
    enrolled = application.run(str(staff[R]), logins.enrol_totp, str(staff[R]))
    assert enrolled.uri.startswith("otpauth://totp/Dermaplan:reception.of.parc?secret=")
    assert len(enrolled.secret) == 32
    assert logins.sign_in(application, "reception.of.parc", PASSWORD, None).awaiting_code


STEP = 30


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-STEP, True), (0, True), (STEP, True), (-2 * STEP, False), (2 * STEP, False)],
)
def test_a_code_is_taken_within_a_step_either_side(offset: int, accepted: bool) -> None:
    secret = pyotp.random_base32()
    now = dt.datetime(2026, 11, 2, 9, 30, 15, tzinfo=dt.UTC)
    credential = StaffCredential(login="x", password_hash="", totp_secret=secret)
    typed = pyotp.TOTP(secret).at(now + dt.timedelta(seconds=offset))
    assert stored.accept_code(credential, secret, typed, now) is accepted


def test_a_code_is_taken_once_and_never_an_older_one() -> None:
    secret = pyotp.random_base32()
    now = dt.datetime(2026, 11, 2, 9, 30, 15, tzinfo=dt.UTC)
    credential = StaffCredential(login="x", password_hash="", totp_secret=secret)
    totp = pyotp.TOTP(secret)
    assert stored.accept_code(credential, secret, totp.at(now), now)
    assert not stored.accept_code(credential, secret, totp.at(now), now)
    assert not stored.accept_code(
        credential, secret, totp.at(now - dt.timedelta(seconds=STEP)), now
    )
    assert stored.accept_code(credential, secret, totp.at(now + dt.timedelta(seconds=STEP)), now)
    for typed in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦"):
        assert not stored.accept_code(credential, secret, typed, now)


@given(st.text(max_size=300))
def test_a_login_made_from_any_name_is_a_valid_login_or_nothing(name: str) -> None:
    made = stored.default_login(name)
    assert made == "" or stored.LOGIN.fullmatch(made)


@given(st.text(max_size=80))
def test_a_login_name_is_compared_as_typed_in_any_case(typed: str) -> None:
    key = stored.login_key(typed)
    assert stored.login_key(typed.upper()) == stored.login_key(key.upper())
    assert key == key.strip()


def test_a_hash_made_with_weaker_parameters_is_remade_at_login(
    application: Application, engine: Engine
) -> None:
    from argon2 import PasswordHasher

    from dermaplan.records.db import transaction
    from tests.records.factories import context

    clinic, staff = clinic_with_staff(engine, "Parc")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with transaction(engine) as session:
        stored.store_credential(session, context(), clinic, staff[P], weak, "old.hash")
    logins.sign_in(application, "old.hash", PASSWORD, None)
    with transaction(engine, write=False) as session:
        credential = stored.credential_of(session, staff[P])
        assert credential is not None
        remade = credential.password_hash
    assert remade != weak
    assert not stored.needs_rehash(remade)
    assert stored.password_matches(remade, PASSWORD)


def test_a_second_factor_is_stored_sealed_and_opens_only_on_its_members_row(
    application: Application, engine: Engine
) -> None:
    """A copy of the database alone gives nobody a second factor; a sealed secret copied
    onto another member's row does not open there; one stored in clear before secrets were
    sealed still works."""
    _, staff = clinic_with_staff(engine, "Parc")
    for role in (P, R):
        application.run(str(staff[role]), logins.set_password, str(staff[role]), PASSWORD)
    enrolled = application.run(str(staff[P]), logins.enrol_totp, str(staff[P]))
    with transaction(engine) as session:
        row = session.get(StaffCredential, staff[P])
        assert row is not None
        assert row.totp_secret is not None
        assert enrolled.secret not in row.totp_secret
        assert stored.totp_secret(session, row) == enrolled.secret
        sealed = row.totp_secret
    now = application.clock()
    step = logins.sign_in(application, "practitioner.of.parc", PASSWORD, None)
    code = pyotp.TOTP(enrolled.secret).at(now)
    assert not logins.second_factor(application, step.token, code, None).awaiting_code

    with transaction(engine) as session:
        other = session.get(StaffCredential, staff[R])
        assert other is not None
        other.totp_secret = sealed
    with transaction(engine) as session, pytest.raises(DatabaseError, match="altered"):
        stored.totp_secret(session, session.get(StaffCredential, staff[R]))

    with transaction(engine) as session:
        other = session.get(StaffCredential, staff[R])
        assert other is not None
        other.totp_secret = sealed.replace(sealed.split(":")[1], "0" * 16)
        with pytest.raises(DatabaseError, match="which the keyring does not hold"):
            stored.totp_secret(session, other)

    clear = pyotp.random_base32()
    with transaction(engine) as session:
        other = session.get(StaffCredential, staff[R])
        assert other is not None
        other.totp_secret = clear
        assert stored.totp_secret(session, other) == clear
