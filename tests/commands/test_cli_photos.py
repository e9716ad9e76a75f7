"""The photo commands: add (metadata stripped), list with the scopes in force, export as
stored; a before-photo lets a session be signed; bad input exits 2 with nothing written,
on both backends."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from pathlib import Path

import yaml
from PIL import Image
from sqlalchemy import Engine, func, select

from dermaplan.records.db import transaction
from dermaplan.records.models import AuditEvent, Photo
from dermaplan.records.repository import ClinicRepository
from tests.commands.cli import UUID, acting, run
from tests.records.factories import add_consent, image_bytes, session_fields

GPS_IFD = 0x8825


def jpeg_with_gps(path: Path) -> Path:
    image = Image.new("RGB", (16, 8), "salmon")
    exif = image.getexif()
    exif.get_ifd(GPS_IFD)[1] = "N"
    image.save(path, format="JPEG", exif=exif)
    return path


def add_patient() -> str:
    code, out, err = run("patients", "add", "--family-name", "Moreau", "--no-known-allergies")
    assert code == 0, err
    found = re.search(UUID, out)
    assert found is not None, out
    return found.group(0)


def written(engine: Engine, data: Path) -> tuple[int, int, int]:
    """(photo rows, audit events, photo files) as committed."""
    with transaction(engine, write=False) as session:
        rows = session.scalar(select(func.count()).select_from(Photo)) or 0
        events = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    files = [f for f in (data / "photos").rglob("*") if f.is_file()] if data.exists() else []
    return rows, events, len(files)


def test_add_list_and_export_a_photo(database: str, engine: Engine, tmp_path: Path) -> None:
    patient = add_patient()
    original = jpeg_with_gps(tmp_path / "IMG_0001.jpg")
    code, out, err = run(
        "photos", "add", patient, str(original), "--area", "cheeks", "--angle", "frontal",
        "--stage", "before", "--taken-at", "2026-11-02T10:15:00+01:00",
    )  # fmt: skip
    assert (code, err) == (0, "")
    found = re.fullmatch(f"added photo ({UUID}) \\(before, cheeks, frontal\\)\n", out)
    assert found is not None, out
    photo = found.group(1)

    code, out, err = run("photos", "list", patient)
    assert (code, err) == (0, "")
    assert out == (
        f"{photo}  2026-11-02T09:15+00:00  before  cheeks  frontal  no session  in force: none\n"
    )

    exported = tmp_path / "out" / "cheeks.jpg"
    exported.parent.mkdir()
    code, out, err = run("photos", "export", photo, str(exported))
    assert (code, out, err) == (0, f"exported photo {photo} (image/jpeg) to {exported}\n", "")
    content = exported.read_bytes()
    with Image.open(io.BytesIO(content)) as image:
        assert not image.getexif()  # stripped: no EXIF, no GPS
    with transaction(engine, write=False) as session:
        stored = session.get_one(Photo, uuid.UUID(photo))
        assert hashlib.sha256(content).hexdigest() == stored.sha256
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-3:] == ["photo.create", "photo.list", "photo.read"]

    before = written(engine, tmp_path / "data")
    code, out, err = run("photos", "export", photo, str(exported))
    assert (code, out) == (2, "")
    assert err == f"error: {exported}: already exists; nothing was overwritten\n"
    code, _, err = run("photos", "export", str(uuid.uuid4()), str(tmp_path / "other.jpg"))
    assert code == 2
    assert "no photo" in err
    assert written(engine, tmp_path / "data") == before
    assert exported.read_bytes() == content


def test_reception_may_not_add_list_or_export_photos(
    database: str, engine: Engine, reception: str, tmp_path: Path
) -> None:
    patient = add_patient()
    png = tmp_path / "face.png"
    png.write_bytes(image_bytes())
    before = written(engine, tmp_path / "data")
    options = ("--area", "cheeks", "--angle", "frontal", "--stage", "before")
    for args, use_case in (
        (("add", patient, str(png), *options), "photos add"),
        (("list", patient), "photos of patient"),
        (("export", str(uuid.uuid4()), str(tmp_path / "out.png")), "photos export"),
    ):
        code, out, err = run("--as", reception, "photos", *args)
        assert (code, out) == (2, ""), args
        assert err == f"error: {use_case}: Rita Sousa (reception) may not; it needs practitioner\n"
    assert written(engine, tmp_path / "data") == before
    assert not (tmp_path / "out.png").exists()


def test_a_file_that_is_not_a_photo_exits_2_and_writes_nothing(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient = add_patient()
    text = tmp_path / "notes.txt"
    text.write_text("not a photo\n", encoding="utf-8")
    gif = tmp_path / "face.gif"
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    png = tmp_path / "face.png"
    png.write_bytes(image_bytes())
    options = ("--area", "cheeks", "--angle", "frontal", "--stage", "after")
    before = written(engine, tmp_path / "data")
    for args, message in (
        ((str(text),), "error: photo: not a readable JPEG or PNG image\n"),
        ((str(gif),), "error: photo: GIF images are not accepted\n"),
        ((str(tmp_path / "missing.jpg"),), f"error: {tmp_path / 'missing.jpg'}: cannot be read"),
        ((str(png), "--taken-at", "yesterday"), "error: --taken-at 'yesterday': not an ISO"),
        ((str(png), "--taken-at", "2026-11-02T10:15"), "error: taken_at: give it a timezone\n"),
        ((str(png), "--session", str(uuid.uuid4())), "error: session: no session"),
    ):
        code, out, err = run("photos", "add", patient, *args, *options)
        assert (code, out) == (2, ""), args
        assert err.startswith(message), err
    code, _, err = run("photos", "add", patient, str(png), *options[:4], "--stage", "during")
    assert code == 2
    assert "'during' is not one of" in err
    assert written(engine, tmp_path / "data") == before


def test_before_photos_added_for_a_session_let_it_be_signed(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient = add_patient()
    with transaction(engine, write=False) as session:
        [clinic] = ClinicRepository(session).all()
    add_consent(engine, clinic.id, uuid.UUID(patient))
    practitioner = uuid.UUID(acting())
    file = tmp_path / "session.yaml"
    fields = session_fields(uuid.UUID(patient), practitioner)
    file.write_text(yaml.safe_dump(fields), encoding="utf-8")
    code, out, err = run("sessions", "record", str(file))
    assert code == 0
    assert err.splitlines() == [
        "to complete before signing: before-photo of cheeks",
        "to complete before signing: before-photo of forehead",
    ]
    session_id = out.split()[2]
    png = tmp_path / "face.png"
    png.write_bytes(image_bytes())
    for area, stage in (("cheeks", "before"), ("forehead", "after")):
        code, _, err = run(
            "photos", "add", patient, str(png), "--area", area, "--angle", "frontal",
            "--stage", stage, "--session", session_id,
        )  # fmt: skip
        assert code == 0, err
    code, _, err = run("sessions", "sign", session_id)
    assert code == 2
    assert "error: missing: before-photo of forehead" in err.splitlines()
    code, _, err = run(
        "photos", "add", patient, str(png), "--area", "forehead", "--angle", "frontal",
        "--stage", "before", "--session", session_id,
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = run("photos", "list", patient)
    assert [line.split("  ")[2:6] for line in out.splitlines()] == [
        ["before", "cheeks", "frontal", f"session {session_id}"],
        ["after", "forehead", "frontal", f"session {session_id}"],
        ["before", "forehead", "frontal", f"session {session_id}"],
    ]
    code, out, err = run("sessions", "sign", session_id)
    assert (code, out) == (0, f"signed session {session_id} by {practitioner}\n"), err
