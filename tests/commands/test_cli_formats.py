"""What the listing commands print: JSON on request, times on the clinic's clock to the
second, and a note on stderr (never in JSON) when there is nothing to list."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.commands.cli import as_admin, run


@pytest.fixture
def brisbane(database: str) -> str:
    assert as_admin("clinic", "set", "--time-zone", "Australia/Brisbane")[0] == 0
    return database


def test_times_are_on_the_clinics_clock_to_the_second(brisbane: str, tmp_path: Path) -> None:
    text = tmp_path / "photo-consent.txt"
    text.write_text("I agree to clinical photographs.", encoding="utf-8")
    assert as_admin("consents", "template", "add", "photo", str(text))[0] == 0

    code, out, _ = run("consents", "template", "list", "--format", "json")
    assert code == 0
    [template] = json.loads(out)
    published = dt.datetime.fromisoformat(template["published_at"])
    assert published.utcoffset() == dt.timedelta(hours=10)  # Brisbane keeps no summer time

    code, out, _ = run("consents", "template", "list")
    assert code == 0
    assert f"published {published.isoformat(timespec='seconds')} by " in out
    assert "." not in out.split("published ")[1].split()[0]  # no fraction of a second


@pytest.mark.parametrize(
    ("command", "note"),
    [
        (("consents", "list"), "no consent recorded"),
        (("outcomes", "list"), "no outcome recorded"),
        (("photos", "list"), "no photos of patient"),
        (("consults", "list"), "no consult stored"),
    ],
)
def test_an_empty_list_is_an_empty_json_array_and_a_note_for_people(
    database: str, command: tuple[str, str], note: str
) -> None:
    code, out, err = run("patients", "add", "--family-name", "Moreau", "--no-known-allergies")
    assert code == 0, err
    patient = out.split()[1]
    assert run(*command, patient, "--format", "json") == (0, "[]\n", "")
    code, out, err = run(*command, patient)
    assert (code, out) == (0, "")
    assert err.startswith(note)
