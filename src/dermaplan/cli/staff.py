"""The staff commands: `staff add`, `staff list`, and the credentials of the web app,
`staff password` and `staff totp`. Staff are identities that act, sign, approve and
assess, each in one role (admin, practitioner, reception)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.cli.render import Columns
from dermaplan.cli.shell import FormatOption, OutputFormat, call, group, say, show_list
from dermaplan.records.enums import StaffRole

if TYPE_CHECKING:
    from dermaplan.app.staff import StaffMember

staff_app = group("Add and list the staff who act, treat, sign and approve.")
PASSWORD_VARIABLE = "DERMAPLAN_PASSWORD"  # noqa: S105 (a variable's name)


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


@staff_app.command("password")
def staff_password(
    member: Annotated[str, typer.Argument(help="The member: an id or a name.")],
    login: Annotated[
        str | None,
        typer.Option(help="Their login name (default: the one they have, or one from their name)."),
    ] = None,
) -> None:
    """Set a member's password for the web app (yours, or anyone's as an admin); their
    open sessions end and their API tokens are revoked. It is asked twice without echo, or
    read from $DERMAPLAN_PASSWORD."""
    import os

    from dermaplan.app import logins

    password = os.environ.get(PASSWORD_VARIABLE) or typer.prompt(
        "password (12 characters or more)", hide_input=True, confirmation_prompt=True
    )
    done = call(logins.set_password, member, password, login)
    say(f"password set; signs in as {done.login}")


@staff_app.command("totp")
def staff_totp(
    member: Annotated[str, typer.Argument(help="The member: an id or a name.")],
) -> None:
    """Give a member a new TOTP second factor (yours, or anyone's as an admin; an admin
    needs one to sign in): type the secret into an authenticator app, or make a QR code
    of the otpauth URI. The previous one stops working; their open sessions end and their
    API tokens are revoked."""
    from dermaplan.app import logins

    enrolled = call(logins.enrol_totp, member)
    say(f"second factor set for {enrolled.login}")
    say(f"secret: {enrolled.secret}")
    say(f"uri:    {enrolled.uri}")


@staff_app.command("deactivate")
def staff_deactivate(
    member: Annotated[str, typer.Argument(help="The member: an id or a name.")],
) -> None:
    """Deactivate a member who has left (as an admin): they cannot sign in, their open
    sessions end and their API tokens are revoked; their records keep their name."""
    from dermaplan.app import staff

    changed = call(staff.set_active, member, False)
    say(f"deactivated {changed.name}: signed out everywhere, tokens revoked")


@staff_app.command("reactivate")
def staff_reactivate(
    member: Annotated[str, typer.Argument(help="The member: an id or a name.")],
) -> None:
    """Reactivate a member (as an admin); they sign in anew and make new tokens."""
    from dermaplan.app import staff

    changed = call(staff.set_active, member, True)
    say(f"reactivated {changed.name}")
