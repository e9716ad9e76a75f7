"""The staff commands: add (audited) and list; a bad name or role exits 2, nothing written;
on both backends."""

from __future__ import annotations

import re

from sqlalchemy import Engine, func, select

from dermaplan.cli_staff import Role
from dermaplan.records.db import transaction
from dermaplan.records.models import Staff, StaffRole
from tests.commands.cli import UUID, run
from tests.records.factories import events


def staff_rows(engine: Engine) -> tuple[int, int]:
    """(staff, audit events) as committed."""
    with transaction(engine, write=False) as session:
        return session.scalar(select(func.count()).select_from(Staff)) or 0, len(events(engine))


def test_the_cli_roles_match_the_model() -> None:
    assert [role.value for role in Role] == [role.value for role in StaffRole]


def test_staff_are_added_and_listed_in_name_order(database: str, engine: Engine) -> None:
    assert run("staff", "list") == (
        0,
        "",
        "no staff yet: add them with `dermaplan staff add NAME --role ROLE`\n",
    )
    code, out, err = run(
        "staff", "add", "Dr Ana Lima", "--role", "practitioner", "--registration", "GMC 1234567"
    )
    assert (code, err) == (0, "")
    found = re.fullmatch(f"added practitioner Dr Ana Lima: ({UUID})\n", out)
    assert found is not None, out
    practitioner = found.group(1)
    code, out, _ = run("staff", "add", "Bruno Costa", "--role", "staff")
    assert code == 0
    reception = out.split()[-1]
    assert events(engine)[-1].action == "staff.create"

    code, out, err = run("staff", "list")
    assert (code, err) == (0, "")
    assert [line.split() for line in out.splitlines()] == [
        [reception, "staff", "Bruno", "Costa", "-"],
        [practitioner, "practitioner", "Dr", "Ana", "Lima", "GMC", "1234567"],
    ]
    # the id printed is the one the other commands take
    assert run("consults", "approve", reception, "--by", practitioner)[2].startswith(
        f"error: no consult {reception}"
    )

    before = staff_rows(engine)
    code, out, err = run("staff", "add", " -- ", "--role", "staff")
    assert (code, out, err) == (2, "", "error: name: needs at least one letter or digit\n")
    code, out, err = run("staff", "add", "Eve", "--role", "surgeon")
    assert (code, out) == (2, "")
    assert "surgeon" in err
    assert staff_rows(engine) == before
