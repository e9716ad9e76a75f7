"""The commands of the web app: `staff password` and `staff totp` give members what they
sign in with, `staff deactivate` takes it away from one who has left; `serve` stops at
once, with one line, on a database it cannot use."""

from __future__ import annotations

import sys

import pyotp
import pytest

from tests.commands.cli import run
from tests.commands.conftest import ADMIN, PRACTITIONER

PASSWORD = "a long enough passphrase"


def test_a_member_sets_a_password_and_an_admin_gives_a_second_factor(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DERMAPLAN_PASSWORD", PASSWORD)
    code, out, err = run("staff", "password", PRACTITIONER)
    assert code == 0, err
    assert out == "password set; signs in as dr.ana.lima\n"
    code, out, err = run("staff", "password", ADMIN, "--login", "the.admin")
    assert code == 2  # the practitioner acting may set only their own
    assert "may set only their own" in err
    code, out, err = run("--as", ADMIN, "staff", "password", ADMIN, "--login", "the.admin")
    assert code == 0, err
    code, out, err = run("--as", ADMIN, "staff", "totp", ADMIN)
    assert code == 0, err
    login, secret, uri = out.splitlines()
    assert login == "second factor set for the.admin"
    assert len(pyotp.TOTP(secret.removeprefix("secret: ")).now()) == 6
    assert uri.startswith("uri:    otpauth://totp/Dermaplan:the.admin?secret=")


def test_a_deactivated_member_can_no_longer_act_until_reactivated(database: str) -> None:
    code, out, err = run("--as", ADMIN, "staff", "deactivate", PRACTITIONER)
    assert code == 0, err
    assert out.startswith("deactivated ")
    code, _, err = run("patients", "list")  # acting as the practitioner
    assert code == 2
    assert "no active member of staff" in err, err
    code, _, err = run("--as", ADMIN, "staff", "deactivate", ADMIN)
    assert code == 2
    assert "only active admin" in err
    code, out, err = run("--as", ADMIN, "staff", "reactivate", PRACTITIONER)
    assert code == 0, err
    assert run("patients", "list")[0] == 0
    code, _, err = run("staff", "deactivate", ADMIN)  # a practitioner may not
    assert code == 2
    assert "may not" in err


def test_a_password_too_short_is_refused_at_its_field(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DERMAPLAN_PASSWORD", "short")
    code, _, err = run("staff", "password", PRACTITIONER)
    assert code == 2
    assert err.startswith("error: password: needs 12 to 256 characters (it has 5)")


def test_the_password_is_asked_twice_without_echo(database: str) -> None:
    from typer.testing import CliRunner

    from dermaplan.cli import app

    typed = f"{PASSWORD}\n{PASSWORD}\n"
    result = CliRunner().invoke(app, ["staff", "password", PRACTITIONER], input=typed)
    assert result.exit_code == 0, result.stderr
    assert PASSWORD not in result.stdout
    assert result.stdout.endswith("password set; signs in as dr.ana.lima\n")


def test_serve_stops_on_a_database_it_cannot_use(uninitialised: str) -> None:
    code, _, err = run("serve", "--port", "8999")
    assert code == 1
    assert err.startswith("error: no Dermaplan database at")


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not built for Windows")
def test_serve_parses_http_in_c_on_uvloop() -> None:
    """`serve` leaves the HTTP parser and the event loop to uvicorn's "auto", which takes
    httptools and uvloop when they are installed: a dependency dropped would fall back, in
    silence, to the pure-Python parser and asyncio's loop, and more server time for
    every request."""
    from uvicorn.loops.auto import auto_loop_factory
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    assert AutoHTTPProtocol.__name__ == "HttpToolsProtocol"
    assert auto_loop_factory().__module__.startswith("uvloop")
