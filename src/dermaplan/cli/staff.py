"""The staff commands: `staff add`, `staff list`. Staff are identities that act, sign,
approve and assess, each in one role (admin, practitioner, reception)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.cli.render import Columns
from dermaplan.cli.shell import FormatOption, OutputFormat, call, group, say, show_list
from dermaplan.records.enums import StaffRole

if TYPE_CHECKING:
    from dermaplan.app.staff import StaffMember

staff_app = group("Add and list the staff who act, treat, sign and approve.")


STAFF: Columns[StaffMember] = Columns(
    ("id", "role", "name", "registration", ""),
    lambda member: (
        str(member.id),
        f"{member.role.value:<12}",
        member.name,
        member.registration or "-",
        "" if member.active else "(inactive)",
    ),
)


@staff_app.command("add")
def staff_add(
    name: Annotated[str, typer.Argument(help="The name as it should appear on records.")],
    role: Annotated[
        StaffRole,
        typer.Option(
            help="admin: staff, settings, consent texts, audit; practitioner: clinical work; "
            "reception: patients' details and consents. The first member is the admin."
        ),
    ],
    registration: Annotated[
        str | None, typer.Option(help="The professional register number, e.g. GMC 1234567.")
    ] = None,
) -> None:
    """Add a member of staff (as an admin) and print the new id (for --as)."""
    from dermaplan.app import staff

    member = call(staff.add, name, role, registration)
    say(f"added {member.role.value} {member.name}: {member.id}")


@staff_app.command("list")
def staff_list(output: FormatOption = OutputFormat.TEXT) -> None:
    """The clinic's staff in name order: id, role, name, registration."""
    from dermaplan.app import staff

    members = call(staff.members)
    empty = "no staff yet: add them with `dermaplan staff add NAME --role ROLE`"
    show_list(members, output, STAFF, empty)
