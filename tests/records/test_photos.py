"""Photos: EXIF and GPS stripped on intake, the file in the storage backend, the row frozen
(triggers), and the photo-consent scopes in force shown per photo; all audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import tracemalloc
import uuid
import warnings
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from dermaplan.bounds import PHOTO_BYTES
from dermaplan.records import consents, photos
from dermaplan.records.db import transaction
from dermaplan.records.enums import PhotoScope, PhotoStage
from dermaplan.records.errors import InvalidInput, NotFound
from dermaplan.records.private import FILE_MODE
from dermaplan.records.scratch import PREFIX
from tests.records.factories import (
    NOW,
    add_consent,
    add_patient,
    add_photos,
    context,
    events,
    image_bytes,
    png_claiming,
)

GPS_IFD = 0x8825
MAKE = 0x010F


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (16, 8), "salmon")
    exif = image.getexif()
    exif[MAKE] = "PhoneCam"
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 24.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"taken at home")
    return out.getvalue()


@pytest.fixture
def patient_id(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    return add_patient(engine, clinic_id, allergies=[])


def store(
    engine: Engine,
    clinic_id: uuid.UUID,
    storage: photos.PhotoStorage,
    patient_id: uuid.UUID,
    content: bytes,
) -> uuid.UUID:
    data = photos.PhotoData(
        patient=patient_id,
        area="cheeks",
        angle="frontal",
        taken_at=NOW - dt.timedelta(hours=1),
        stage=PhotoStage.BEFORE,
    )
    with transaction(engine) as session:
        return photos.record_photo(session, context(), clinic_id, storage, data, content).id


def test_exif_and_gps_are_stripped_and_the_file_is_stored(
    engine: Engine,
    clinic_id: uuid.UUID,
    storage: photos.LocalFolderStorage,
    patient_id: uuid.UUID,
    tmp_path: Path,
) -> None:
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif().get_ifd(GPS_IFD)
    photo_id = store(engine, clinic_id, storage, patient_id, original)
    with transaction(engine, write=False) as session:
        [line] = photos.patient_photos(session, context(), clinic_id, patient_id)
    photo = line.photo
    assert photo.id == photo_id
    assert (photo.media_type, photo.area, photo.angle) == ("image/jpeg", "cheeks", "frontal")
    stored = storage.get(photo.storage_key)
    assert (tmp_path / "data" / "photos" / photo.storage_key).is_file()
    assert hashlib.sha256(stored).hexdigest() == photo.sha256
    assert len(stored) == photo.size_bytes
    assert b"Exif" not in stored
    assert b"PhoneCam" not in stored
    assert b"taken at home" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert dict(image.getexif()) == {}
        assert image.size == (16, 8)
    assert [e.action for e in events(engine)][-2:] == ["photo.create", "photo.list"]
    for statement in ("UPDATE photo SET area = 'neck'", "DELETE FROM photo"):
        with (
            pytest.raises(DBAPIError, match="stored photo is immutable"),
            engine.begin() as connection,
        ):
            connection.execute(text(statement))


def test_a_png_is_kept_a_png_and_bad_input_writes_nothing(
    engine: Engine,
    clinic_id: uuid.UUID,
    storage: photos.LocalFolderStorage,
    patient_id: uuid.UUID,
    tmp_path: Path,
) -> None:
    out = io.BytesIO()
    Image.new("RGBA", (4, 4), (0, 0, 255, 128)).save(out, format="PNG")
    store(engine, clinic_id, storage, patient_id, out.getvalue())
    before = len(events(engine))
    with pytest.raises(InvalidInput, match="not a readable JPEG or PNG"):
        store(engine, clinic_id, storage, patient_id, b"not an image")
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    with pytest.raises(InvalidInput, match="GIF images are not accepted"):
        store(engine, clinic_id, storage, patient_id, gif.getvalue())
    with pytest.raises(NotFound, match="no patient"):
        store(engine, clinic_id, storage, uuid.uuid4(), out.getvalue())
    assert len(events(engine)) == before
    assert len(list((tmp_path / "data" / "photos").rglob("*.png"))) == 1


def test_an_image_too_large_in_pixels_is_refused_from_its_header() -> None:
    """12000×12000 PNG of zeros: 17 KB as a file, 144 megapixels, past Pillow's own warning;
    refused before a pixel is decoded, so the refusal costs next to nothing."""
    bomb = png_claiming(12000, 12000)
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput) as refused:
            photos.strip_metadata(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.problems == [
        "photo: 12000×12000 pixels, more than the 50 megapixels an image here may have"
    ]
    assert peak < 2_000_000
    with pytest.raises(InvalidInput, match="more than the 50 megapixels"):  # past Pillow's limit
        photos.strip_metadata(png_claiming(20000, 20000))


def test_an_image_too_large_in_bytes_is_refused_unread() -> None:
    padded = image_bytes() + bytes(PHOTO_BYTES)  # a real PNG, and trailing zeros
    with pytest.raises(InvalidInput) as refused:
        photos.strip_metadata(padded)
    assert refused.value.problems == ["photo: larger than 50 MB"]


def test_an_image_within_the_limits_is_taken() -> None:
    content, media_type, _ = photos.strip_metadata(png_claiming(2000, 1000))
    with Image.open(io.BytesIO(content)) as stored:
        assert (media_type, stored.size) == ("image/png", (2000, 1000))


def test_a_damaged_file_is_taken_or_refused_without_a_word_from_pillow() -> None:
    """A multi-picture JPEG whose MP header is broken: Pillow warns, then reads it as the
    JPEG it also is; nothing but the outcome may reach the person."""
    out = io.BytesIO()
    picture = Image.new("RGB", (16, 8), "salmon")
    picture.save(out, format="MPO", save_all=True, append_images=[picture])
    damaged = bytearray(out.getvalue())
    damaged[damaged.find(b"MPF\x00") + 4] = 0  # the MP header's byte order, gone
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        _, media_type, _ = photos.strip_metadata(bytes(damaged))
    assert (media_type, said) == ("image/jpeg", [])


def test_a_phones_multi_picture_jpeg_is_kept_as_the_jpeg_of_its_first_picture(
    engine: Engine,
    clinic_id: uuid.UUID,
    storage: photos.LocalFolderStorage,
    patient_id: uuid.UUID,
) -> None:
    """Phones save MPO (the photo, then a depth map or preview): taken, first frame only,
    metadata stripped as for any JPEG."""
    photo, depth = Image.new("RGB", (16, 8), "salmon"), Image.new("RGB", (16, 8), "navy")
    exif = photo.getexif()
    exif[MAKE] = "PhoneCam"
    exif.get_ifd(GPS_IFD)[1] = "N"
    mpo = io.BytesIO()
    photo.save(mpo, format="MPO", save_all=True, append_images=[depth], exif=exif)
    with Image.open(mpo) as image:
        assert (image.format, getattr(image, "n_frames", 1)) == ("MPO", 2)
    photo_id = store(engine, clinic_id, storage, patient_id, mpo.getvalue())
    with transaction(engine, write=False) as session:
        [line] = photos.patient_photos(session, context(), clinic_id, patient_id)
    assert (line.photo.id, line.photo.media_type) == (photo_id, "image/jpeg")
    stored = storage.get(line.photo.storage_key)
    assert line.photo.storage_key.endswith(".jpg")
    for marker in (b"Exif", b"PhoneCam", b"MPF"):
        assert marker not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert (image.format, getattr(image, "n_frames", 1), image.size) == ("JPEG", 1, (16, 8))
        red, _, blue = image.convert("RGB").getpixel((8, 4))  # salmon, not navy
        assert red > 200 > blue


def test_a_withdrawn_scope_applies_to_photos_already_taken(
    engine: Engine,
    clinic_id: uuid.UUID,
    storage: photos.LocalFolderStorage,
    patient_id: uuid.UUID,
) -> None:
    store(engine, clinic_id, storage, patient_id, jpeg_with_gps())
    with transaction(engine, write=False) as session:
        [line] = photos.patient_photos(session, context(), clinic_id, patient_id)
    assert not any(line.scopes.values())  # no photo consent yet
    scopes = {"clinical_record": True, "teaching": True, "marketing": True}
    consent_id = add_consent(engine, clinic_id, patient_id, "photo", scopes=scopes)
    with transaction(engine) as session:
        consents.withdraw_consent(
            session, context(), clinic_id, consent_id, "no adverts", PhotoScope.MARKETING
        )
    with transaction(engine, write=False) as session:
        [line] = photos.patient_photos(session, context(), clinic_id, patient_id)
    assert line.scopes == {
        PhotoScope.CLINICAL_RECORD: True,
        PhotoScope.TEACHING: True,
        PhotoScope.MARKETING: False,
    }


def test_a_photo_write_killed_midway_leaves_nothing_the_next_write_keeps(
    storage: photos.LocalFolderStorage,
) -> None:
    """A writer killed mid-write leaves its work folder (its lock held by nobody, half a file
    in it): the next write removes it, and leaves only the photo it wrote."""
    storage.put("ab/first.jpg", b"first")
    dead = storage.root / f"{PREFIX}dead"
    dead.mkdir(mode=0o700)
    os.close(os.open(dead / "lock", os.O_RDWR | os.O_CREAT, FILE_MODE))
    (dead / "photo").write_bytes(b"half a ph")
    storage.put("cd/second.jpg", b"second")
    found = sorted(path.relative_to(storage.root).as_posix() for path in storage.root.rglob("*"))
    assert found == ["ab", "ab/first.jpg", "cd", "cd/second.jpg"]
    assert storage.get("cd/second.jpg") == b"second"


def test_a_storage_key_cannot_leave_the_folder(storage: photos.LocalFolderStorage) -> None:
    with pytest.raises(ValueError, match="leaves the photo folder"):
        storage.put("../outside.jpg", b"x")


def test_the_stage_is_one_of_before_after_follow_up(
    engine: Engine,
    clinic_id: uuid.UUID,
    storage: photos.LocalFolderStorage,
    patient_id: uuid.UUID,
) -> None:
    data = photos.PhotoData(patient_id, "cheeks", "frontal", NOW, "follow_up")  # type: ignore[arg-type]
    assert data.stage is PhotoStage.FOLLOW_UP
    with pytest.raises(InvalidInput, match="stage: 'during' is not one of before, after"):
        photos.PhotoData(patient_id, "cheeks", "frontal", NOW, "during")  # type: ignore[arg-type]
    [photo_id] = add_photos(engine, clinic_id, storage, patient_id, "cheeks", stage="after")
    with transaction(engine, write=False) as session:
        [line] = photos.patient_photos(session, context(), clinic_id, patient_id)
    assert (line.photo.id, line.photo.stage) == (photo_id, PhotoStage.AFTER)


def test_the_database_refuses_an_unknown_stage(
    engine: Engine, clinic_id: uuid.UUID, storage: photos.LocalFolderStorage, patient_id: uuid.UUID
) -> None:
    add_photos(engine, clinic_id, storage, patient_id, "cheeks")
    copy = (
        "INSERT INTO photo (id, patient_id, area, angle, taken_at, stage, media_type, sha256,"
        " size_bytes, storage_key, created_by, created_at, updated_at)"
        " SELECT :id, patient_id, area, angle, taken_at, :stage, media_type, sha256,"
        " size_bytes, storage_key, created_by, created_at, updated_at FROM photo"
    )
    with pytest.raises(DBAPIError, match="ck_photo_stage"), engine.begin() as connection:
        connection.execute(text(copy), {"id": uuid.uuid4().hex, "stage": "during"})
    with engine.begin() as connection:  # a photo of before revision 0007 states no stage
        connection.execute(text(copy), {"id": uuid.uuid4().hex, "stage": None})
    with transaction(engine, write=False) as session:
        lines = photos.patient_photos(session, context(), clinic_id, patient_id)
    assert sorted(line.photo.stage or "" for line in lines) == ["", "before"]
