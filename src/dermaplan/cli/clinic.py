"""The clinic commands: `clinic show`, `clinic set`."""

from __future__ import annotations

from typing import Annotated

import typer

from dermaplan.cli.shell import FormatOption, OutputFormat, call, fail, group, say, show

clinic_app = group("The clinic's name and time zone.")


@clinic_app.command("show")
def clinic_show(output: FormatOption = OutputFormat.TEXT) -> None:
    """The clinic's id, name and time zone."""
    from dermaplan.app import clinic

    shown = call(clinic.show)
    show(shown, output, lambda: [f"{shown.id}  {shown.name}  {shown.time_zone}"])


@clinic_app.command("set")
def clinic_set(
    name: Annotated[str | None, typer.Option(help="The clinic's name.")] = None,
    time_zone: Annotated[
        str | None,
        typer.Option(
            help="An IANA time zone, e.g. Europe/Paris: the clinic's day for expiry, "
            "same-day photos and course dates."
        ),
    ] = None,
) -> None:
    """Rename the clinic or set its time zone (an admin's; audited)."""
    from dermaplan.app import clinic

    if name is None and time_zone is None:
        fail(["nothing to change: give --name or --time-zone"])
    shown = call(clinic.configure, name=name, time_zone=time_zone)
    say(f"{shown.id}  {shown.name}  {shown.time_zone}")
