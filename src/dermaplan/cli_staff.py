"""The staff commands: `staff add`, `staff list`. Staff are identities that sign, approve
and assess; they have no logins. SQLAlchemy loads inside commands only.

Each command is one transaction, as in cli_records: errors a person can cause exit with
code 2, one `error:` line per problem, and nothing written.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.cli_records import _clinic, _unit_of_work

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dermaplan.records.context import Context
    from dermaplan.records.models import Staff

staff_app = typer.Typer(
    help="Add and list the clinic's staff (who treats, signs and approves).",
    no_args_is_help=True,
)


class Role(StrEnum):  # records.models.StaffRole, without importing the models for --help
    PRACTITIONER = "practitioner"
    STAFF = "staff"


def _line(member: Staff) -> str:
    registration = member.registration or "-"
    active = "" if member.active else "  (inactive)"
    return f"{member.id}  {member.role.value:<12}  {member.name}  {registration}{active}"


@staff_app.command("add")
def staff_add(
    name: Annotated[str, typer.Argument(help="The name as it should appear on records.")],
    role: Annotated[Role, typer.Option(help="A practitioner treats, signs and approves.")],
    registration: Annotated[
        str | None, typer.Option(help="The professional register number, e.g. GMC 1234567.")
    ] = None,
) -> None:
    """Add a member of staff and print the new id (for --by, practitioner:, assessor:)."""

    def add(session: Session, context: Context) -> str:
        from dermaplan.records.models import StaffRole
        from dermaplan.records.service import add_staff

        clinic = _clinic(session, context)
        member = add_staff(session, context, clinic.id, name, StaffRole(role.value), registration)
        return f"added {member.role.value} {member.name}: {member.id}"

    typer.echo(_unit_of_work(add))


@staff_app.command("list")
def staff_list() -> None:
    """The clinic's staff in name order: id, role, name, registration."""

    def every(session: Session, context: Context) -> list[str]:
        from dermaplan.records.service import clinic_staff

        return [_line(member) for member in clinic_staff(session, _clinic(session, context).id)]

    lines = _unit_of_work(every)
    for line in lines:
        typer.echo(line)
    if not lines:
        typer.echo("no staff yet: add them with `dermaplan staff add NAME --role ROLE`", err=True)
