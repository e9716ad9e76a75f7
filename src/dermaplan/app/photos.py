"""Clinical photos: taken, listed and exported by practitioners (they are clinical records),
the files in the application's photo storage, their metadata stripped on intake."""

from __future__ import annotations

import datetime as dt
import uuid

from dermaplan.app.principal import PRACTITIONER, Access, allowed
from dermaplan.app.reads import ReadModel
from dermaplan.app.unit import UnitOfWork
from dermaplan.records.enums import PhotoScope, PhotoStage
from dermaplan.records.errors import Forbidden, InvalidInput, NotFound

SHOWN_ON_SCREEN = PhotoScope.CLINICAL_RECORD  # the scope that lets the clinic look at a photo


class PhotoEntry(ReadModel):
    """A stored photo's metadata (never the file)."""

    id: uuid.UUID
    patient_id: uuid.UUID
    session_id: uuid.UUID | None
    taken_at: dt.datetime
    stage: PhotoStage | None  # None: stored before stages were recorded
    area: str
    angle: str
    media_type: str


class ListedPhoto(ReadModel):
    """A photo with what the patient's photo consents allow it to be used for now."""

    photo: PhotoEntry
    in_force: list[PhotoScope]


class PhotoComparison(ReadModel):
    """Two photos of one view (the same area and angle) of a patient, the earlier first."""

    earlier: PhotoEntry
    later: PhotoEntry


class PhotoFile(ReadModel):
    """A stored photo's file, as stored (metadata stripped), checked against its SHA-256."""

    photo: PhotoEntry
    content: bytes


@allowed(PRACTITIONER)
def add(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    content: bytes,
    area: str,
    angle: str,
    stage: PhotoStage,
    session_id: uuid.UUID | None = None,
    taken_at: dt.datetime | None = None,
) -> PhotoEntry:
    """Strip a photo's metadata and store it, taken now unless `taken_at` says when."""
    from dermaplan.records.photos import PhotoData, record_photo

    when = taken_at if taken_at is not None else uow.context.now
    data = PhotoData(patient_id, area, angle, when, stage, session_id)
    photo = record_photo(
        uow.session, uow.context, uow.clinic_id, uow.application.photos, data, content
    )
    return PhotoEntry.model_validate(photo)


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def of_patient(uow: UnitOfWork, patient_id: uuid.UUID) -> list[ListedPhoto]:
    """A patient's photos, oldest first, with the scopes in force now (a withdrawal applies
    to photos already taken); the reading is audited."""
    from dermaplan.records.photos import patient_photos

    return [
        ListedPhoto(
            photo=PhotoEntry.model_validate(line.photo),
            in_force=[scope for scope, granted in line.scopes.items() if granted],
        )
        for line in patient_photos(uow.session, uow.context, uow.clinic_id, patient_id)
    ]


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def export(uow: UnitOfWork, photo_id: uuid.UUID) -> PhotoFile:
    """A photo's file for a front end to hand over once the unit has committed, so nothing
    leaves before its reading is audited."""
    from dermaplan.records.photos import read_photo

    photo, content = read_photo(
        uow.session, uow.context, uow.clinic_id, uow.application.photos, photo_id
    )
    return PhotoFile(photo=PhotoEntry.model_validate(photo), content=content)


def _shown(photo_id: uuid.UUID, scopes: dict[PhotoScope, bool]) -> None:
    """Forbidden unless the patient's photo consent, as it is now, lets the clinic look at
    the photo (a withdrawal applies to photos already taken)."""
    if not scopes[SHOWN_ON_SCREEN]:
        raise Forbidden.one(
            f"photo {photo_id}: the patient's photo consent does not allow its use in the "
            f"clinical record ({SHOWN_ON_SCREEN.value} is not in force), so it is not shown"
        )


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def view(uow: UnitOfWork, photo_id: uuid.UUID) -> PhotoFile:
    """A photo's file to show on a screen, only while the patient's photo consent allows
    its use in the clinical record; the showing is audited."""
    from dermaplan.records.photos import patient_photo_scopes, read_photo

    photo, content = read_photo(
        uow.session, uow.context, uow.clinic_id, uow.application.photos, photo_id
    )
    _shown(photo.id, patient_photo_scopes(uow.session, uow.clinic_id, photo.patient_id))
    return PhotoFile(photo=PhotoEntry.model_validate(photo), content=content)


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def compare(
    uow: UnitOfWork, patient_id: uuid.UUID, first: uuid.UUID, second: uuid.UUID
) -> PhotoComparison:
    """Two of a patient's photos of the same view, set side by side in date order: both
    shown only as their consent allows; the reading is audited."""
    from dermaplan.records.photos import patient_photos

    lines = {
        line.photo.id: line
        for line in patient_photos(uow.session, uow.context, uow.clinic_id, patient_id)
    }
    missing = [
        f"{field}: no photo {chosen} of this patient"
        for field, chosen in (("first", first), ("second", second))
        if chosen not in lines
    ]
    if missing:
        raise NotFound(missing)
    one, other = lines[first], lines[second]
    if first == second:
        raise InvalidInput.one("second: choose another photo than the first to compare with")
    if (one.photo.area, one.photo.angle) != (other.photo.area, other.photo.angle):
        raise InvalidInput.one(
            f"second: shows {other.photo.area} from {other.photo.angle}, not the first's "
            f"{one.photo.area} from {one.photo.angle}; compare photos of the same view"
        )
    _shown(first, one.scopes)
    earlier, later = sorted((one.photo, other.photo), key=lambda photo: photo.taken_at)
    return PhotoComparison(
        earlier=PhotoEntry.model_validate(earlier), later=PhotoEntry.model_validate(later)
    )
