"""Hostile input through the real command line, on both backends: a repeated YAML key,
control characters in any text field, billion laughs, self-referencing aliases, deep
nesting, tags that build more than data, NUL and NaN where PostgreSQL would refuse them,
oversized images and signatures. Each exits 2 with one clear line and writes nothing; and
what an older row holds reaches the terminal only as visible escapes."""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select

from dermaplan.bounds import DEPTH, PHOTO_BYTES, VALUES
from dermaplan.records.db import transaction
from dermaplan.records.models import Base, ConsentTemplate, Patient, Staff
from dermaplan.records.repository import ClinicRepository
from tests.commands.cli import UUID, acting, run
from tests.commands.conftest import PRACTITIONER
from tests.records.factories import add_consent, image_bytes, png_claiming, session_fields

ADMIN = "Claude Admin"
OSC = "\x1b]0;owned\x07"  # sets a terminal's title
HOSTILE = {"ESC": "\x1b[2J", "OSC": OSC, "NUL": "\x00", "bidi": "\u202e", "C1": "\x9b"}
LAUGHS = "".join(
    [
        "family_name: Moreau\n",
        "history:\n",
        "  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        *(f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]\n" for n in range(1, 10)),
    ]
)


def everything(engine: Engine) -> dict[str, int]:
    """Rows in every table, as committed."""
    with transaction(engine, write=False) as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def one_clear_line(code: int, out: str, err: str) -> str:
    """The refusal: exit 2, nothing on stdout, one `error:` line with no control character."""
    assert (code, out) == (2, ""), err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", err)
    return err.strip()


@pytest.fixture
def patient(engine: Engine) -> str:
    code, out, err = run("patients", "add", "--family-name", "Moreau", "--no-known-allergies")
    assert code == 0, err
    found = re.search(UUID, out)
    assert found is not None
    return found.group(0)


def file_with(tmp_path: Path, name: str, content: str | dict[str, Any]) -> Path:
    path = tmp_path / name
    if path.exists():  # several files of a kind in one test: each its own
        path = tmp_path / f"{uuid.uuid4().hex[:8]}-{name}"
    body = content if isinstance(content, str) else yaml.safe_dump(content, allow_unicode=True)
    path.write_text(body, encoding="utf-8")
    return path


def session_file(tmp_path: Path, patient: str, **fields: Any) -> Path:
    data = session_fields(uuid.UUID(patient), uuid.UUID(acting()), **fields)
    return file_with(tmp_path, "session.yaml", data)


def adverse_file(tmp_path: Path, patient: str, **fields: Any) -> Path:
    data = {
        "patient": patient,
        "type": "granuloma",
        "severity": "moderate",
        "onset": "2026-11-10",
        "causality": "possible",
        "outcome": "recovering",
        "description": "Firm nodule on the left cheek.",
        "lots": [{"product": "ha_skin_booster", "lot": "HB2391", "expiry": "2027-03-31"}],
    } | fields
    return file_with(tmp_path, "event.yaml", data)


def consent_file(tmp_path: Path, patient: str, **fields: Any) -> Path:
    data = {
        "patient": patient,
        "template": str(uuid.uuid4()),  # never reached: the file is refused first
        "opened_at": "2026-11-01T09:00:00+00:00",
        "signed_at": "2026-11-01T09:10:00+00:00",
        "signer": "Claire Moreau",
        "signature": "C. Moreau",
    } | fields
    return file_with(tmp_path, "consent.yaml", data)


def refused_everywhere(engine: Engine, *args: str) -> str:
    before = everything(engine)
    message = one_clear_line(*run(*args))
    assert everything(engine) == before
    return message


# -- item 10: a repeated key ------------------------------------------------------------


def test_a_repeated_key_in_a_patient_file_is_refused_naming_both_lines(
    engine: Engine, tmp_path: Path
) -> None:
    file = file_with(
        tmp_path, "p.yaml", "family_name: Moreau\nallergies: [penicillin]\nallergies: []\n"
    )
    assert refused_everywhere(engine, "patients", "add", "--file", str(file)) == (
        f"error: {file}:3:1: key 'allergies' is given twice, on lines 2 and 3 (the last would "
        "silently replace the first)"
    )


def test_a_repeated_key_is_refused_in_every_file_a_command_reads(
    engine: Engine, patient: str, tmp_path: Path
) -> None:
    twice = "\nnotes: first\nnotes: second\n"
    for command, file in [
        (["patients", "update", patient, "--file"], file_with(tmp_path, "u.yaml", twice)),
        (["sessions", "record"], file_with(tmp_path, "s.yaml", twice)),
        (["adverse-events", "record"], file_with(tmp_path, "a.yaml", twice)),
        (["outcomes", "record"], file_with(tmp_path, "o.yaml", twice)),
        (["consents", "sign"], file_with(tmp_path, "c.yaml", twice)),
        (["consult"], file_with(tmp_path, "x.yaml", twice)),
    ]:
        message = refused_everywhere(engine, *command, str(file))
        assert message.endswith("key 'notes' is given twice, on lines 2 and 3 (the last would "
                                "silently replace the first)"), message  # fmt: skip


# -- items 11 and 14: control characters in every text field ------------------------------


def _text_cases(tmp_path: Path, patient: str, hostile: str) -> list[tuple[list[str], str]]:
    """(command, the field it names) for each free-text field a command takes."""
    lot = [{"product": "ha_skin_booster", "lot": f"HB{hostile}", "volumes_ml": {"cheeks": 1}}]
    lots = [{"product": "ha_skin_booster", "lot": f"HB{hostile}"}]
    files = {
        "lot": session_file(tmp_path, patient, products=lot),
        "notes": session_file(tmp_path, patient, notes=f"a{hostile}"),
        "description": adverse_file(tmp_path, patient, description=f"a{hostile}"),
        "lots": adverse_file(tmp_path, patient, lots=lots),
        "signer": consent_file(tmp_path, patient, signer=f"C{hostile}"),
        "text": tmp_path / "consent.txt",
        "photo": tmp_path / "photo.png",
    }
    files["text"].write_text(f"I consent{hostile}.", encoding="utf-8")
    files["photo"].write_bytes(image_bytes())
    admin, photo = ["--as", ADMIN], ["photos", "add", patient, str(files["photo"])]
    practitioner = ["--role", "practitioner"]
    return [
        ([*admin, "staff", "add", f"Eve{hostile}", *practitioner], "name"),
        (
            [*admin, "staff", "add", "Eve", *practitioner, "--registration", f"G{hostile}"],
            "registration",
        ),
        ([*admin, "clinic", "set", "--name", f"Clinic{hostile}"], "name"),
        (["sessions", "record", str(files["lot"])], "lot"),
        (["sessions", "record", str(files["notes"])], "notes"),
        (["adverse-events", "record", str(files["description"])], "description"),
        (["adverse-events", "record", str(files["lots"])], "lot"),
        (["consents", "sign", str(files["signer"])], "signer"),
        (
            [*admin, "consents", "template", "add", "treatment_mesotherapy", str(files["text"])],
            "text",
        ),
        (["patients", "delete", patient, "--reason", f"duplicate{hostile}"], "reason"),
        (["patients", "update", patient, "--given-names", f"Claire{hostile}"], "given_names"),
        ([*photo, "--area", f"cheeks{hostile}", "--angle", "frontal", "--stage", "before"], "area"),
        ([*photo, "--area", "cheeks", "--angle", f"x{hostile}", "--stage", "before"], "angle"),
    ]


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_control_characters_are_refused_in_every_text_field(
    engine: Engine, patient: str, tmp_path: Path, kind: str
) -> None:
    """NUL too, which PostgreSQL would refuse with exit 1 and a line in its log."""
    hostile = HOSTILE[kind]
    for command, field in _text_cases(tmp_path, patient, hostile):
        message = refused_everywhere(engine, *command)
        code = f"U+{ord(hostile[0]):04X}"
        assert f"{field}: control character {code}" in message, (command, message)


@pytest.mark.parametrize(
    ("history", "problem"),
    [
        ("{a: .nan}", "nan is not a number JSON can hold at a"),
        ("{a: [.inf]}", "inf is not a number JSON can hold at a[0]"),
        ('{a: "x\\0y"}', "control character U+0000 at character 2 is not allowed at a"),
        ('{a: "\\e]0;t\\a"}', "control character U+001B at character 1 is not allowed at a"),
    ],
    ids=["nan", "inf", "nul", "osc"],
)
def test_what_json_cannot_hold_is_refused_in_history(
    engine: Engine, tmp_path: Path, history: str, problem: str
) -> None:
    file = file_with(tmp_path, "p.yaml", f"family_name: Moreau\nhistory: {history}\n")
    assert refused_everywhere(engine, "patients", "add", "--file", str(file)) == (
        f"error: {file}: history: {problem}"
    )


# -- items 12 and 13: resources, aliases, nesting, tags ----------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (LAUGHS, f"more than {VALUES} values once aliases are expanded at history.l4"),
        ("family_name: M\nhistory: &h {a: *h}\n", "a value that contains itself"),
        ("family_name: M\nhistory: &h [*h]\n", "a value that contains itself"),
        (
            "family_name: M\nhistory: {a: " + "[" * 900 + "]" * 900 + "}\n",
            f"nested deeper than {DEPTH} levels",
        ),
        ("family_name: M\nhistory: {a: !!binary aGVsbG8=}\n", "!!binary is not plain data"),
        ("family_name: M\nhistory: {a: !!set {x, y}}\n", "!!set is not plain data"),
        ("family_name: M\nhistory: {a: " + "x" * 70_000 + "}\n", "bytes as JSON, more than"),
        ("family_name: M\n#" + "x" * (1 << 20) + "\n", "larger than 1 MiB"),
    ],
    ids=["laughs", "self-map", "self-list", "deep", "binary", "set", "history-size", "file-size"],
)
def test_a_patient_file_is_bounded(
    engine: Engine, tmp_path: Path, content: str, problem: str
) -> None:
    file = file_with(tmp_path, "p.yaml", content)
    message = refused_everywhere(engine, "patients", "add", "--file", str(file))
    assert message.startswith(f"error: {file}"), message
    assert problem in message, message


def test_an_image_too_large_is_refused(engine: Engine, patient: str, tmp_path: Path) -> None:
    options = ["--area", "cheeks", "--angle", "frontal", "--stage", "before"]
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(12000, 12000))
    assert refused_everywhere(engine, "photos", "add", patient, str(bomb), *options) == (
        "error: photo: 12000×12000 pixels, more than the 50 megapixels an image here may have"
    )
    heavy = tmp_path / "heavy.png"
    heavy.write_bytes(image_bytes())
    with heavy.open("r+b") as stream:
        stream.truncate(PHOTO_BYTES + 10)
    assert refused_everywhere(engine, "photos", "add", patient, str(heavy), *options) == (
        "error: photo: larger than 50 MB"
    )


def test_a_drawn_signature_too_large_is_refused(
    engine: Engine, patient: str, tmp_path: Path
) -> None:
    with transaction(engine, write=False) as session:
        [clinic] = ClinicRepository(session).all()
    add_consent(engine, clinic.id, uuid.UUID(patient))  # publishes a text to sign
    with transaction(engine, write=False) as session:
        template = str(session.scalars(select(ConsentTemplate.id)).one())
    huge = base64.b64encode(bytes(2_000_000)).decode()  # 2.7 MB of text
    file = consent_file(tmp_path, patient, signature=None, signature_png=huge)
    message = refused_everywhere(engine, "consents", "sign", str(file))
    assert message == f"error: {file}: larger than 1 MiB, the limit of a document"
    large = base64.b64encode(bytes(300_000)).decode()
    file = consent_file(tmp_path, patient, signature=None, signature_png=large)
    message = refused_everywhere(engine, "consents", "sign", str(file))
    assert message.startswith(f"error: {file}: signature_png: String should have at most")
    drawn = base64.b64encode(png_claiming(4000, 4000)).decode()
    file = consent_file(tmp_path, patient, template=template, signature=None, signature_png=drawn)
    assert refused_everywhere(engine, "consents", "sign", str(file)) == (
        "error: signature_png: 4000×4000 pixels, more than the 4 megapixels an image here may have"
    )


# -- item 11: escaped on output -----------------------------------------------------------


def _older_rows(engine: Engine, patient: str) -> None:
    """Rows written before the fields refused control characters."""
    with transaction(engine) as session:
        member = session.scalars(select(Staff).where(Staff.name == PRACTITIONER)).one()
        member.name = f"Dr Ana{OSC} Lima\u202e"
        session.get_one(Patient, uuid.UUID(patient)).given_names = "Claire\x1b[2J\x9b"


@pytest.mark.parametrize(
    "command",
    [["staff", "list"], ["staff", "list", "--format", "json"], ["patients", "list"],
     ["patients", "show", "{patient}"], ["patients", "show", "{patient}", "--format", "json"],
     ["patients", "timeline", "{patient}"]],
    ids=["staff", "staff-json", "patients", "show", "show-json", "timeline"],
)  # fmt: skip
def test_control_characters_in_older_rows_reach_no_terminal(
    engine: Engine, patient: str, command: list[str]
) -> None:
    _older_rows(engine, patient)
    code, out, err = run(*(part.format(patient=patient) for part in command))
    assert code == 0, err
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", out + err)
    assert "\\u001b" in out


def test_an_argument_echoed_in_an_error_is_shown_escaped(engine: Engine) -> None:
    assert one_clear_line(*run("patients", "show", f"x{OSC}")) == (
        "error: 'x\\u001b]0;owned\\u0007' is not a patient id (a UUID, as `dermaplan patients "
        "list` prints)"
    )


def test_a_problem_quoting_a_line_break_stays_one_line(engine: Engine) -> None:
    message = refused_everywhere(
        engine, "patients", "add", "--family-name", "Moreau", "--birth-date", "\nabc"
    )
    assert message == "error: birth_date: '\\u000aabc' is not a date (YYYY-MM-DD)"
