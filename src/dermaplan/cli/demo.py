"""`dermaplan demo seed`: a realistic demo clinic in the configured database, to try
Dermaplan on. The heavy modules load inside the command, so --help stays quick."""

from __future__ import annotations

from typing import Annotated

import typer

from dermaplan.bounds import LARGEST
from dermaplan.cli.shell import group, outside_a_unit, progress_bar, say

demo_app = group("A demo clinic to try Dermaplan on.")


@demo_app.command("seed")
def demo_seed(
    patients: Annotated[
        int,
        typer.Option(
            "--patients", min=1, max=LARGEST, help="How many patients (about 3 sessions each)."
        ),
    ] = 300,
    seed: Annotated[
        int, typer.Option("--seed", min=0, max=LARGEST, help="The same seed gives the same clinic.")
    ] = 1,
) -> None:
    """Fill an empty database with a demo clinic: staff, patients, consults made by the
    engine, courses, sessions with product lots, outcome scores and adverse events.
    Everything goes through the record services and is audited; a database that already
    has patients is refused."""
    from dermaplan.app import demo

    with progress_bar() as progress:
        counts = outside_a_unit(lambda app: demo.seed(app, patients, seed, progress))
    say(
        f"demo clinic seeded: {counts.staff} staff, {counts.patients} patients, "
        f"{counts.consults} consults, {counts.courses} courses, {counts.sessions} sessions, "
        f"{counts.lots} product lots, {counts.outcomes} outcome scores, "
        f"{counts.adverse_events} adverse events"
    )
    say(
        "act as one of its staff (dermaplan --as NAME patients list), or sign in to the web "
        "app (dermaplan serve) with their login and the demo password "
        f"'{counts.members[0].password}':"
    )
    for member in counts.members:
        second = f"  TOTP secret {member.totp_secret}" if member.totp_secret else ""
        say(f"  {member.role.value:<12}  {member.login:<24}  {member.name}{second}")
    say("demo credentials are known to anyone: never keep real records in a demo clinic")
