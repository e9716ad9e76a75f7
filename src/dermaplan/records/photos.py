"""Clinical photos: metadata in the database, the file in a storage backend, and EXIF/GPS
stripped on intake by re-encoding the pixels alone.

The file is written before its row (content-addressed: the key is the SHA-256 of the
stripped file), so a rolled-back transaction can leave an unreferenced file behind but
never a row without its file. Which photo-consent scopes a photo may be used for is read
from the patient's photo consents when asked, so a scope withdrawn later applies to photos
already taken. Services never commit (see records.service).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from dermaplan.bounds import calendar_problem
from dermaplan.records.audit import AuditAction, record_event
from dermaplan.records.consents import ALL, WithdrawalFacts
from dermaplan.records.context import Context
from dermaplan.records.enums import ConsentKind, PhotoScope, PhotoStage
from dermaplan.records.errors import InvalidInput, NotFound, required
from dermaplan.records.images import PHOTO, opened_image, unwarned
from dermaplan.records.models import Photo, new_id
from dermaplan.records.private import open_private, private_folder
from dermaplan.records.repository import (
    ConsentRepository,
    PatientRepository,
    PhotoRepository,
    SessionRepository,
)
from dermaplan.records.scratch import work_folder
from dermaplan.text import text_problem

if TYPE_CHECKING:
    from dermaplan.records.settings import Settings

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}
# A phone's multi-picture JPEG (MPO: the photo, then depth maps or previews) is taken as the
# JPEG of its first picture, the one every viewer shows.
READ_AS = {"MPO": "JPEG"}


class PhotoStorage(Protocol):
    """Where photo files live; a backend stores bytes under a key and gives them back,
    whole (`get`) or as a stream (`open`); both raise FileNotFoundError for a key it does
    not hold."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def open(self, key: str) -> BinaryIO: ...


class LocalFolderStorage:
    """The default backend: files in a folder (`<home>/photos`), written atomically, each
    file and folder readable by its owner only (records.private)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key {key!r} leaves the photo folder")
        return path

    def put(self, key: str, data: bytes) -> None:
        """Written in a work folder of the storage's own, then renamed into place: a writer
        killed mid-write leaves a dead work folder, which the next write removes (records.
        scratch), never a partial file beside the photos."""
        path = self._path(key)
        private_folder(path.parent)
        with work_folder(private_folder(self.root)) as work:
            partial = work / "photo"
            with open_private(partial) as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            partial.replace(path)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")


def file_sha256(storage: PhotoStorage, key: str) -> str:
    """The SHA-256 of a stored file, read in chunks (a photo may be 50 MB)."""
    sha256 = hashlib.sha256()
    with storage.open(key) as stream:
        while chunk := stream.read(1 << 20):
            sha256.update(chunk)
    return sha256.hexdigest()


def photo_storage(settings: Settings) -> PhotoStorage:
    """The storage the settings name: the local folder `settings.photos`."""
    return LocalFolderStorage(settings.photos)


def strip_metadata(content: bytes) -> tuple[bytes, str, str]:
    """The image re-encoded from its pixels alone (no EXIF, GPS, XMP, comments or ICC
    profile), turned upright first as its EXIF orientation said; with its media type and
    file extension. Raises InvalidInput for anything but a JPEG (an MPO's first picture) or
    PNG image."""
    try:
        with opened_image(content, PHOTO) as image, unwarned():
            kind = READ_AS.get(image.format or "", image.format or "")
            if kind not in FORMATS:
                raise InvalidInput.one(f"photo: {kind or 'unknown'} images are not accepted")
            upright = ImageOps.exif_transpose(image)
            pixels = Image.frombytes(upright.mode, upright.size, upright.tobytes())
            if upright.mode == "P":
                pixels.putpalette(upright.getpalette() or [])
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        raise InvalidInput.one("photo: not a readable JPEG or PNG image") from None
    media_type, extension = FORMATS[kind]
    out = io.BytesIO()
    if kind == "JPEG":
        if pixels.mode not in ("RGB", "L", "CMYK"):
            pixels = pixels.convert("RGB")
        pixels.save(out, format="JPEG", quality=95)
    else:
        pixels.save(out, format="PNG")
    return out.getvalue(), media_type, extension


@dataclass(frozen=True, slots=True)
class StoredFile:
    media_type: str
    sha256: str  # of the stored (stripped) file
    size_bytes: int
    storage_key: str  # derived from sha256: the same key always holds the same bytes


def store_file(storage: PhotoStorage, content: bytes) -> StoredFile:
    """Strip a photo's metadata and store the file under its content's key."""
    clean, media_type, extension = strip_metadata(content)
    sha256 = hashlib.sha256(clean).hexdigest()
    key = f"{sha256[:2]}/{sha256}.{extension}"
    storage.put(key, clean)
    return StoredFile(media_type, sha256, len(clean), key)


@dataclass(frozen=True, slots=True)
class PhotoData:
    patient: uuid.UUID
    area: str
    angle: str  # frontal, left_oblique, right_profile, ... as the clinic names them
    taken_at: dt.datetime
    stage: PhotoStage
    session: uuid.UUID | None = None

    def __post_init__(self) -> None:
        """A stage given as text (a file, a form) is accepted by its value, or refused."""
        try:
            object.__setattr__(self, "stage", PhotoStage(self.stage))
        except ValueError:
            raise InvalidInput.one(
                f"stage: {self.stage!r} is not one of {', '.join(PhotoStage)}"
            ) from None


def record_photo(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    storage: PhotoStorage,
    data: PhotoData,
    content: bytes,
) -> Photo:
    """Strip a photo's metadata, store the file, then its row; audited."""
    patient = required(
        PatientRepository(session, clinic_id).get(data.patient),
        f"patient: no patient {data.patient}",
    )
    if data.session is not None:
        treated = SessionRepository(session, clinic_id).get(data.session)
        if treated is None or treated.patient_id != patient.id:
            raise NotFound.one(f"session: no session {data.session} for this patient")
    problems = []
    area, angle = data.area.strip(), data.angle.strip()
    if not area:
        problems.append("area: which area the photo shows")
    elif problem := text_problem(area):
        problems.append(f"area: {problem}")
    if not angle:
        problems.append("angle: the angle it was taken from")
    elif problem := text_problem(angle):
        problems.append(f"angle: {problem}")
    if data.taken_at.tzinfo is None or data.taken_at.utcoffset() is None:
        problems.append("taken_at: give it a timezone")
    elif (unusable := calendar_problem(data.taken_at)) is not None:
        problems.append(f"taken_at: {unusable}")
    elif data.taken_at > context.now:
        problems.append("taken_at: in the future")
    if problems:
        raise InvalidInput(problems)
    stored = store_file(storage, content)
    record = Photo(
        id=new_id(),
        patient_id=patient.id,
        session_id=data.session,
        area=area,
        angle=angle,
        taken_at=data.taken_at,
        stage=data.stage,
        media_type=stored.media_type,
        sha256=stored.sha256,
        size_bytes=stored.size_bytes,
        storage_key=stored.storage_key,
        created_by=context.actor,
        created_at=context.now,
        updated_at=context.now,
    )
    PhotoRepository(session, clinic_id).add(record)
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.PHOTO_CREATE,
        "photo",
        record.id,
        patient_id=patient.id,
        after=photo_state(record),
    )
    return record


def photo_state(record: Photo) -> dict[str, Any]:
    """Everything a photo row says, for the audit digests; the file by its SHA-256."""
    return photo_state_0012(record) | {"created_by": record.created_by}


def photo_state_0012(record: Photo) -> dict[str, Any]:
    """A photo as the events of revision 0012 and before digest it: all but its author."""
    return {
        "id": record.id,
        "patient_id": record.patient_id,
        "session_id": record.session_id,
        "area": record.area,
        "angle": record.angle,
        "taken_at": record.taken_at,
        "stage": record.stage,
        "media_type": record.media_type,
        "sha256": record.sha256,
        "size_bytes": record.size_bytes,
        "storage_key": record.storage_key,
    }


def patient_photo_scopes(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> dict[PhotoScope, bool]:
    """What the patient's photo consents allow now, scope by scope: granted by a signed
    photo consent and not withdrawn since (withdrawals apply to photos already taken)."""
    return scopes_allowed(
        ConsentRepository(session, clinic_id).of_patient(patient_id, ConsentKind.PHOTO)
    )


class PhotoConsent(Protocol):
    """What a signed photo consent allows, whether a Consent or a records.consents.ConsentLine."""

    @property
    def photo_scopes(self) -> dict[str, bool] | None: ...
    @property
    def withdrawals(self) -> Collection[WithdrawalFacts]: ...


def scopes_allowed(photo_consents: Iterable[PhotoConsent]) -> dict[PhotoScope, bool]:
    """What signed photo consents (withdrawals loaded) allow now, scope by scope."""
    allowed = dict.fromkeys(PhotoScope, False)
    for consent in photo_consents:
        withdrawn = {w.scope for w in consent.withdrawals}
        for scope in PhotoScope:
            if (
                (consent.photo_scopes or {}).get(scope.value)
                and ALL not in withdrawn
                and scope.value not in withdrawn
            ):
                allowed[scope] = True
    return allowed


@dataclass(frozen=True, slots=True)
class PhotoLine:
    photo: Photo
    scopes: dict[PhotoScope, bool]  # what it may be used for now


def patient_photos(
    session: Session, context: Context, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> list[PhotoLine]:
    """A patient's photos, each with the photo-consent scopes in force now; audited."""
    patient = required(
        PatientRepository(session, clinic_id).get(patient_id), f"no patient {patient_id}"
    )
    scopes = patient_photo_scopes(session, clinic_id, patient.id)
    photos = PhotoRepository(session, clinic_id).of_patient(patient.id)
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.PHOTO_LIST,
        "patient",
        patient.id,
        patient_id=patient.id,
        after={"photos": [str(photo.id) for photo in photos]},
    )
    return [PhotoLine(photo, dict(scopes)) for photo in photos]


def read_photo(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    storage: PhotoStorage,
    photo_id: uuid.UUID,
) -> tuple[Photo, bytes]:
    """A photo and its stored file, checked against the SHA-256 recorded with it; audited."""
    photo = required(PhotoRepository(session, clinic_id).get(photo_id), f"no photo {photo_id}")
    try:
        content = storage.get(photo.storage_key)
    except FileNotFoundError:
        content = None
    if content is None or hashlib.sha256(content).hexdigest() != photo.sha256:
        raise NotFound.one(
            f"photo {photo.id}: its file {photo.storage_key} is missing from the storage or "
            "altered; restore it from a backup"
        )
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.PHOTO_READ,
        "photo",
        photo.id,
        patient_id=photo.patient_id,
        after={"id": photo.id, "sha256": photo.sha256},
    )
    return photo, content
