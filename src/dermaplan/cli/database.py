"""The commands that look after the records as a whole: `init`, `db upgrade`, `backup`,
`restore` and `audit verify` (`dermaplan.app.records_admin`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.cli.shell import (
    acting,
    broken,
    call,
    fail,
    group,
    outside_a_unit,
    progress_bar,
    say,
    settings,
    single,
)

if TYPE_CHECKING:
    from dermaplan.app.records_admin import Initialised

init_app = single()
db_app = group("Create and upgrade the records database.")
backup_app = single()
restore_app = single()
audit_app = group("Check the audit log and rotate its key.")


@init_app.command()
def init() -> None:
    """Create the records database and its audit anchor. Run it once, before any other
    records command: it creates the data folder, the database at this version's schema, its
    anchor and the keyring that signs its audit log, readable by their owner only; a second
    run changes nothing."""
    done = _initialise(upgrade_schema=False)
    if done.before is None:
        say(
            f"ok: created the database {done.where} at schema revision {done.revision}, "
            f"its audit anchor {done.anchor} and audit keyring {done.keyring}, in {done.home}"
        )
    else:
        say(f"already initialised: {done.where} at schema revision {done.before}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema to this version of Dermaplan (back up first), or create the database
    as `dermaplan init` does."""
    done = _initialise(upgrade_schema=True)
    head = done.revision
    if done.before == head:
        say(f"ok: {done.where} is at schema revision {head}")
    else:
        say(f"ok: {done.where} upgraded from {done.before or 'empty'} to {head}")


def _initialise(*, upgrade_schema: bool) -> Initialised:
    from dermaplan.app.records_admin import initialise
    from dermaplan.records.errors import DatabaseError

    try:
        return initialise(settings(), upgrade_schema=upgrade_schema)
    except DatabaseError as error:
        broken(str(error))


@backup_app.command()
def backup(
    path: Annotated[
        Path | None,
        typer.Argument(help="A new file for the backup; by default one in the backups folder."),
    ] = None,
) -> None:
    """Back up the database and its photos, and check the copy. The database is copied to
    PATH while it stays in use, its photo files to PATH.photos."""
    from dermaplan.app import records_admin

    with progress_bar() as progress:
        made = call(records_admin.backup, path, progress)
    say(
        f"ok: {made.path} — schema {made.revision}, {made.events} audit events, checked; "
        f"{made.photo_files} photo files in {made.photos}"
    )


@restore_app.command()
def restore(
    path: Annotated[Path, typer.Argument(help="A backup made by `dermaplan backup`.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: the live database is replaced (and kept).")
    ] = False,
) -> None:
    """Replace the database with a checked backup. The backup (its photo files in
    PATH.photos too) is checked in full first; the photo files go back into the storage and
    the database replaced is kept."""
    from dermaplan.app import records_admin

    if not yes:
        fail([f"restoring {path} replaces the live database"], "add --yes to go ahead")
    with progress_bar() as progress:
        done = outside_a_unit(lambda app: records_admin.restore(app, acting(), path, progress))
    say(
        f"ok: restored {done.path} ({done.events} audit events, {done.photo_files} photo "
        f"files, checked; {done.photos_copied} copied into the storage); "
        f"the database it replaced is kept as {done.kept_aside}"
    )


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the log: its hash chains and their keys, their anchor, every record against
    what the log says of it, and the photo files; report what is wrong (exit code 1) or ok."""
    from dermaplan.app import records_admin

    report = call(records_admin.verify)
    if report.broken is not None:
        say(f"broken: {report.broken}; the {report.events} events before it verify", err=True)
    if report.cut is not None:
        say(f"broken: {report.cut}", err=True)
    for changed in report.changed:
        say(f"broken: {changed}", err=True)
    if not report.intact:
        raise typer.Exit(code=1)
    for ahead in report.ahead:
        say(
            f"warning: {ahead}: a crash between a commit and the anchor's write leaves this, "
            "and so does an anchor put back to an earlier copy; the chain's next change "
            "anchors it",
            err=True,
        )
    if report.anchored is None and report.events:
        say(
            f"warning: no audit anchor at {report.anchor} (first use, a restored backup or "
            "another machine?): a log cut off at its end cannot be detected until the next "
            "change writes it",
            err=True,
        )
    chains = f"{report.chains} chain{'' if report.chains == 1 else 's'}"
    anchored = f", {report.anchored} anchored" if report.anchored else ""
    say(
        f"ok: {report.events} events in {chains}, intact{anchored}, records and photo files "
        "match the log"
    )


@audit_app.command("rotate-key")
def audit_rotate_key() -> None:
    """Make a new audit key, which signs every event from now on (an admin's). The keys
    before it stay in the keyring to verify what they signed; back the keyring up again."""
    from dermaplan.app import records_admin

    done = call(records_admin.rotate_key)
    say(
        f"ok: the audit key {done.key} signs from now on; {done.retired} is retired and kept "
        f"to verify what it signed ({done.keys} keys in {done.keyring}: back it up again)"
    )
