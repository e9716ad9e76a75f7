"""`dermaplan demo seed` as a clinic trying Dermaplan uses it, on both backends."""

from __future__ import annotations

import re

from dermaplan.cli import app
from tests.commands.cli import runner


def test_demo_seed_fills_an_empty_database_and_refuses_a_second_time(database: str) -> None:
    result = runner.invoke(app, ["demo", "seed", "--patients", "4", "--seed", "3"])
    assert result.exit_code == 0, result.stderr
    seeded, invitation, *members, warning = result.stdout.splitlines()
    assert re.fullmatch(
        r"demo clinic seeded: 5 staff, 4 patients, \d+ consults, \d+ courses, 12 sessions, "
        r"\d+ product lots, \d+ outcome scores, \d+ adverse events",
        seeded,
    ), result.stdout
    assert invitation.startswith("act as one of its staff")
    assert "the demo password 'demo-clinic-not-for-records'" in invitation
    assert [line.split(maxsplit=2)[:2] for line in members] == [
        ["practitioner", "dr.ana.lima"],
        ["practitioner", "dr.helene.caron"],
        ["reception", "julie.perrin"],
        ["reception", "marc.aubert"],
        ["admin", "nadia.belkacem"],
    ]
    # the admin and the first practitioner sign in with a second factor too
    assert ["TOTP secret" in line for line in members] == [True, False, False, False, True]
    assert warning.startswith("demo credentials are known to anyone")
    front_desk = members[2].split(maxsplit=2)[2]
    listed = runner.invoke(app, ["--as", front_desk, "patients", "list"])
    assert len(listed.stdout.splitlines()) == 4  # the demo's patients, in the demo's clinic
    again = runner.invoke(app, ["demo", "seed", "--patients", "4"])
    assert again.exit_code == 2
    assert "error: this database already holds 4 patients" in again.stderr
    verified = runner.invoke(app, ["--as", "Nadia Belkacem", "audit", "verify"])
    assert verified.exit_code == 0
    assert verified.stdout.startswith("ok:")


def test_demo_seed_needs_at_least_one_patient(database: str) -> None:
    result = runner.invoke(app, ["demo", "seed", "--patients", "0"])
    assert result.exit_code == 2
