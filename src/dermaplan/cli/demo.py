"""`dermaplan demo seed`: a realistic demo clinic in the configured database, to try
Dermaplan on. The heavy modules load inside the command, so --help stays quick."""

from __future__ import annotations

from typing import Annotated

import typer

from dermaplan.cli.shell import fail, group, progress_bar

demo_app = group("A demo clinic to try Dermaplan on.")


@demo_app.command("seed")
def demo_seed(
    patients: Annotated[
        int, typer.Option("--patients", min=1, help="How many patients (about 3 sessions each).")
    ] = 300,
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same clinic.")] = 1,
) -> None:
    """Fill an empty database with a demo clinic: staff, patients, consults made by the
    engine, courses, sessions with product lots, outcome scores and adverse events.
    Everything goes through the record services and is audited; a database that already
    has patients is refused."""
    from sqlalchemy.exc import DBAPIError

    from dermaplan.knowledge import load_knowledge
    from dermaplan.records import demo
    from dermaplan.records.context import Context, utc_now
    from dermaplan.records.db import open_records
    from dermaplan.records.errors import DatabaseError, RecordsError
    from dermaplan.records.photos import photo_storage
    from dermaplan.records.settings import records_settings

    try:
        settings = records_settings()
        engine = open_records(settings)
    except DatabaseError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    try:
        context = Context(actor=settings.actor, now=utc_now())
        clinic = demo.DemoClinic(
            load_knowledge(),
            seed=seed,
            patients=patients,
            sessions=demo.SESSIONS_PER_PATIENT * patients,
            today=context.now.date(),
        )
        with progress_bar() as progress:
            counts = demo.seed(
                engine,
                context,
                clinic,
                photo_storage(settings),
                lambda done: progress("seeding the demo clinic: patients", done, patients),
            )
    except RecordsError as error:
        fail(error.problems)
    except DBAPIError as error:
        typer.echo(
            f"error: the database refused the demo, nothing was written: {error.orig}", err=True
        )
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    typer.echo(
        f"demo clinic seeded: {counts.staff} staff, {counts.patients} patients, "
        f"{counts.consults} consults, {counts.courses} courses, {counts.sessions} sessions, "
        f"{counts.lots} product lots, {counts.outcomes} outcome scores, "
        f"{counts.adverse_events} adverse events"
    )
