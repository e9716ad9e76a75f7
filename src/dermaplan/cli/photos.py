"""The photo commands: `photos add`, `photos list`, `photos export`, each one use case of
`dermaplan.app.photos`. The files are in the storage under the data folder
(`<home>/photos` by default), EXIF and GPS stripped on intake."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.bounds import PHOTO_BYTES
from dermaplan.cli.render import Columns, Row
from dermaplan.cli.shell import (
    FormatOption,
    OutputFormat,
    call,
    fail,
    group,
    parse_id,
    patient_id,
    permitted,
    say,
    show_list,
    write_new_file,
)
from dermaplan.records.enums import PhotoStage

if TYPE_CHECKING:
    import datetime as dt

    from dermaplan.app.photos import ListedPhoto

photos_app = group("Add clinical photos (EXIF stripped), list and export them.")


def _taken_at(text: str) -> dt.datetime:
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        fail([f"--taken-at '{text}': not an ISO date and time, e.g. 2026-11-02T10:15+01:00"])


@photos_app.command("add")
def photos_add(
    patient: Annotated[str, typer.Argument(metavar="PATIENT")],
    file: Annotated[Path, typer.Argument(help="The photo, a JPEG or PNG file.")],
    area: Annotated[str, typer.Option(help="The area it shows, as sessions name it: cheeks.")],
    angle: Annotated[str, typer.Option(help="frontal, left_oblique, right_profile, ...")],
    stage: Annotated[PhotoStage, typer.Option(help="Before treatment, right after, or follow-up.")],
    session: Annotated[
        str | None, typer.Option(metavar="SESSION_ID", help="The session it belongs to.")
    ] = None,
    taken_at: Annotated[
        str | None, typer.Option(metavar="ISO_DATETIME", help="When it was taken (default: now).")
    ] = None,
) -> None:
    """Store a photo with its EXIF, GPS and other metadata stripped; the original is left
    as it is."""
    from dermaplan.app import photos

    with permitted(photos.add):
        chosen = patient_id(patient)
        session_id = parse_id(session, "a session id (a UUID)") if session is not None else None
        when = _taken_at(taken_at) if taken_at is not None else None
        try:
            with file.open("rb") as stream:  # enough to tell a file too large, never all of it
                content = stream.read(PHOTO_BYTES + 1)
        except OSError as error:
            fail([f"{file}: cannot be read ({error.strerror})"])
        added = call(photos.add, chosen, content, area, angle, stage, session_id, when)
        stage_shown = added.stage.value if added.stage else "-"
        say(f"added photo {added.id} ({stage_shown}, {added.area}, {added.angle})")


def _photo(listed: ListedPhoto) -> Row:
    photo = listed.photo
    return (
        str(photo.id),
        photo.taken_at.isoformat(timespec="minutes"),
        photo.stage.value if photo.stage else "-",
        photo.area,
        photo.angle,
        f"session {photo.session_id}" if photo.session_id else "no session",
        f"in force: {', '.join(scope.value for scope in listed.in_force) or 'none'}",
    )


PHOTOS: Columns[ListedPhoto] = Columns(
    ("id", "taken", "stage", "area", "angle", "session", "photo consent"), _photo
)


@photos_app.command("list")
def photos_list(
    patient: Annotated[str, typer.Argument(metavar="PATIENT")],
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """A patient's photos, oldest first, with the photo-consent scopes in force now (a
    withdrawn scope applies to photos already taken); the reading is audited."""
    from dermaplan.app import photos

    chosen = patient_id(patient)
    found = call(photos.of_patient, chosen)
    show_list(found, output, PHOTOS, f"no photos of patient {chosen}")


@photos_app.command("export")
def photos_export(
    photo: Annotated[str, typer.Argument(metavar="PHOTO_ID")],
    out: Annotated[Path, typer.Argument(metavar="OUT", help="A new file for the photo.")],
) -> None:
    """Write a stored photo (as stored: metadata stripped) to a new file, once its reading
    is audited."""
    from dermaplan.app import photos

    photo_id = parse_id(photo, "a photo id (a UUID, as `photos list` prints)")
    if out.exists():
        fail([f"{out}: already exists; nothing was overwritten"])
    if not out.absolute().parent.is_dir():
        fail([f"{out.parent}: no such folder; nothing was exported"])
    exported = call(photos.export, photo_id)
    write_new_file(out, exported.content)
    say(f"exported photo {exported.photo.id} ({exported.photo.media_type}) to {out}")
