"""The photo commands: `photos add`, `photos list`, `photos export`. SQLAlchemy and Pillow
load inside commands only.

Each command is one transaction, as in cli_records: errors a person can cause exit with
code 2, one `error:` line per problem, and nothing written. The files are in the storage
in the photos folder (`<home>/photos` by default), EXIF and GPS stripped on intake.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.cli_records import _clinic, _fail, _patient_id, _unit_of_work, _uuid
from dermaplan.cli_shell import settings

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy.orm import Session

    from dermaplan.records.context import Context
    from dermaplan.records.photos import PhotoLine, PhotoStorage

photos_app = typer.Typer(
    help="Add clinical photos (metadata stripped), list them, export one.", no_args_is_help=True
)


class Stage(StrEnum):  # records.models.PhotoStage, without importing the models for --help
    BEFORE = "before"
    AFTER = "after"
    FOLLOW_UP = "follow_up"


def _storage() -> PhotoStorage:
    from dermaplan.records.photos import photo_storage

    return photo_storage(settings())


def _taken_at(text: str) -> dt.datetime:
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        _fail([f"--taken-at '{text}': not an ISO date and time, e.g. 2026-11-02T10:15+01:00"])


@photos_app.command("add")
def photos_add(
    patient: Annotated[str, typer.Argument(metavar="PATIENT")],
    file: Annotated[Path, typer.Argument(help="The photo, a JPEG or PNG file.")],
    area: Annotated[str, typer.Option(help="The area it shows, as sessions name it: cheeks.")],
    angle: Annotated[str, typer.Option(help="frontal, left_oblique, right_profile, ...")],
    stage: Annotated[Stage, typer.Option(help="Before treatment, right after, or follow-up.")],
    session: Annotated[
        str | None, typer.Option(metavar="SESSION_ID", help="The session it belongs to.")
    ] = None,
    taken_at: Annotated[
        str | None, typer.Option(metavar="ISO_DATETIME", help="When it was taken (default: now).")
    ] = None,
) -> None:
    """Store a photo with its EXIF, GPS and other metadata stripped; the original is left
    as it is."""
    patient_id = _patient_id(patient)
    session_id = _uuid(session, "a session id (a UUID)") if session is not None else None
    when = _taken_at(taken_at) if taken_at is not None else None
    try:
        content = file.read_bytes()
    except OSError as error:
        _fail([f"{file}: cannot be read ({error.strerror})"])
    storage = _storage()

    def add(db: Session, context: Context) -> str:
        from dermaplan.records.enums import PhotoStage
        from dermaplan.records.photos import PhotoData, record_photo

        clinic = _clinic(db, context)
        data = PhotoData(
            patient_id, area, angle, when or context.now, PhotoStage(stage.value), session_id
        )
        photo = record_photo(db, context, clinic.id, storage, data, content)
        return f"added photo {photo.id} ({photo.stage}, {photo.area}, {photo.angle})"

    typer.echo(_unit_of_work(add))


def _list_line(line: PhotoLine) -> str:
    photo = line.photo
    in_force = [scope.value for scope, allowed in line.scopes.items() if allowed]
    return "  ".join(
        (
            str(photo.id),
            photo.taken_at.isoformat(timespec="minutes"),
            photo.stage.value if photo.stage else "-",
            photo.area,
            photo.angle,
            f"session {photo.session_id}" if photo.session_id else "no session",
            f"in force: {', '.join(in_force) or 'none'}",
        )
    )


@photos_app.command("list")
def photos_list(patient: Annotated[str, typer.Argument(metavar="PATIENT")]) -> None:
    """A patient's photos, oldest first, with the photo-consent scopes in force now (a
    withdrawn scope applies to photos already taken); the reading is audited."""
    patient_id = _patient_id(patient)

    def page(db: Session, context: Context) -> list[str]:
        from dermaplan.records.photos import patient_photos

        clinic = _clinic(db, context)
        return [_list_line(line) for line in patient_photos(db, context, clinic.id, patient_id)]

    lines = _unit_of_work(page)
    for line in lines:
        typer.echo(line)
    if not lines:
        typer.echo(f"no photos of patient {patient_id}", err=True)


@photos_app.command("export")
def photos_export(
    photo: Annotated[str, typer.Argument(metavar="PHOTO_ID")],
    out: Annotated[Path, typer.Argument(metavar="OUT", help="A new file for the photo.")],
) -> None:
    """Write a stored photo (as stored: metadata stripped) to a new file; audited."""
    photo_id = _uuid(photo, "a photo id (a UUID, as `photos list` prints)")
    if out.exists():
        _fail([f"{out}: already exists; nothing was overwritten"])
    storage = _storage()

    def export(db: Session, context: Context) -> str:
        from dermaplan.cli import write_new_file
        from dermaplan.records.photos import read_photo

        clinic = _clinic(db, context)
        record, content = read_photo(db, context, clinic.id, storage, photo_id)
        write_new_file(out, content)  # inside the transaction: no file, no audited read
        return f"exported photo {record.id} ({record.media_type}) to {out}"

    typer.echo(_unit_of_work(export))
