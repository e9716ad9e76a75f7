"""The staff commands: the first admin starts a clinic, admins add members (audited), every
role lists them; a bad name or role exits 2 with nothing written; on both backends."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import Engine, func, select

from dermaplan.records.db import transaction
from dermaplan.records.models import AuditEvent, Staff
from tests.commands.cli import UUID, run
from tests.records.factories import events


def staff_rows(engine: Engine) -> tuple[int, int]:
    """(staff, audit events) as committed."""
    with transaction(engine, write=False) as session:
        return session.scalar(select(func.count()).select_from(Staff)) or 0, len(events(engine))


def added(out: str, role: str, name: str) -> str:
    found = re.fullmatch(f"added {role} {name}: ({UUID})\n", out)
    assert found is not None, out
    return found.group(1)


def test_a_clinic_starts_with_its_admin_who_adds_the_others(empty_database: Engine) -> None:
    code, _, err = run("staff", "add", "Dr Ana Lima", "--role", "practitioner")
    assert (code, err) == (
        2,
        "error: staff add: the first member of staff is the clinic's admin (--role admin)\n",
    )
    code, out, err = run("staff", "add", "Nadia Belkacem", "--role", "admin")
    assert (code, err) == (0, "")
    admin = added(out, "admin", "Nadia Belkacem")
    # from now on someone must be named as acting
    code, _, err = run("staff", "add", "Eve", "--role", "admin")
    assert code == 2
    assert "nobody is named as acting" in err

    code, out, _ = run(
        "--as",
        admin,
        "staff",
        "add",
        "Dr Ana Lima",
        "--role",
        "practitioner",
        "--registration",
        "GMC 1234567",
    )
    practitioner = added(out, "practitioner", "Dr Ana Lima")
    code, out, _ = run(
        "--as", "nadia belkacem", "staff", "add", "Bruno Costa", "--role", "reception"
    )
    reception = added(out, "reception", "Bruno Costa")
    last = events(empty_database)[-1]
    assert (last.action, last.staff_id, last.actor) == (
        "staff.create",
        uuid.UUID(admin),
        "os:tester",
    )

    code, out, err = run("--as", reception, "staff", "list")
    assert (code, err) == (0, "")
    assert [line.split()[:2] for line in out.splitlines()] == [
        [reception, "reception"],
        [practitioner, "practitioner"],
        [admin, "admin"],
    ]
    code, _, err = run("--as", reception, "staff", "add", "Mallory", "--role", "admin")
    assert (code, err) == (2, "error: staff add: Bruno Costa (reception) may not; it needs admin\n")

    before = staff_rows(empty_database)
    code, out, err = run("--as", admin, "staff", "add", " -- ", "--role", "reception")
    assert (code, out, err) == (2, "", "error: name: needs at least one letter or digit\n")
    code, out, err = run("--as", admin, "staff", "add", "Eve", "--role", "surgeon")
    assert (code, out) == (2, "")
    assert "surgeon" in err
    code, _, err = run("--as", "Nobody Known", "staff", "list")
    assert (code, err) == (
        2,
        "error: acting as 'Nobody Known': no active member of staff has that id or name\n",
    )
    assert staff_rows(empty_database) == before


def test_every_audit_event_names_the_member_acting(database: str, engine: Engine) -> None:
    code, _, _ = run("patients", "add", "--family-name", "Roux", "--given-names", "Léa")
    assert code == 0
    with transaction(engine, write=False) as session:
        acting = session.scalars(select(AuditEvent.staff_id).order_by(AuditEvent.id)).all()
    assert acting[-1] is not None
