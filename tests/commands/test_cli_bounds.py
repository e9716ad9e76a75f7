"""Numbers and dates past what the records hold, given on the command line or in a file:
exit 2 with one line saying so, never a traceback, and nothing written."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from dermaplan.bounds import FIRST_DAY, LARGEST, LAST_DAY
from tests.commands.cli import as_admin, run
from tests.commands.test_cli_photos import add_patient, jpeg_with_gps, written
from tests.conftest import EXAMPLES
from tests.records.factories import session_fields

HUGE = str(10**30)  # past any database integer
RANGE = f"is not between {FIRST_DAY} and {LAST_DAY}"


@pytest.mark.parametrize(
    "command",
    [
        ("patients", "list", "--offset", HUGE),
        ("consents", "template", "show", "photo", "--version", HUGE),
        ("courses", "fulfil", str(uuid.uuid4()), HUGE, str(uuid.uuid4())),
        ("demo", "seed", "--seed", HUGE),
    ],
)
def test_a_huge_whole_number_is_a_usage_error(database: str, command: tuple[str, ...]) -> None:
    code, out, err = run(*command)
    assert (code, out) == (2, "")
    assert f"less than or equal to {LARGEST}" in err.splitlines()[-1]
    assert "Traceback" not in err


def test_a_consult_date_past_the_calendar_is_a_located_problem(tmp_path: Path) -> None:
    """9999-12-20 would overflow the course's dates in the engine."""
    data = yaml.safe_load((EXAMPLES / "01-acne-scars-dehydration.yaml").read_text())
    data["consult_date"] = "9999-12-20"
    data["goals"] = {}
    file = tmp_path / "late.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    code, out, err = run("consult", str(file))
    assert (code, out) == (2, "")
    assert err == f"error: {file}: consult_date: 9999-12-20 {RANGE}\n"


YEAR_ONE = "0001-01-01T00:00:00+01:00"  # before the first instant Python has in UTC


def test_an_instant_before_the_calendar_is_refused_in_every_file_and_option(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient = add_patient()
    before = written(engine, tmp_path / "data")
    session = tmp_path / "session.yaml"
    fields = session_fields(uuid.UUID(patient), uuid.uuid4(), performed_at=YEAR_ONE)
    session.write_text(yaml.safe_dump(fields), encoding="utf-8")
    consent = tmp_path / "consent.yaml"
    consent.write_text(
        f"patient: {patient}\ntemplate: {uuid.uuid4()}\nopened_at: {YEAR_ONE}\n"
        f"signed_at: '9999-12-31T23:00:00-01:00'\nsigner: C. Moreau\nsignature: C. Moreau\n",
        encoding="utf-8",
    )
    photo = jpeg_with_gps(tmp_path / "photo.jpg")
    photo_options = ["--area", "cheeks", "--angle", "frontal", "--stage", "before"]
    for command, problems in [
        (["sessions", "record", str(session)], [f"{session}: performed_at: {YEAR_ONE} {RANGE}"]),
        (
            ["consents", "sign", str(consent)],
            [
                f"{consent}: opened_at: {YEAR_ONE} {RANGE}",
                f"{consent}: signed_at: 9999-12-31T23:00:00-01:00 {RANGE}",
            ],
        ),
        (
            ["photos", "add", patient, str(photo), *photo_options, "--taken-at", YEAR_ONE],
            [f"taken_at: {YEAR_ONE} {RANGE}"],
        ),
    ]:
        code, out, err = run(*command)
        assert (code, out) == (2, ""), err
        assert err.splitlines() == [f"error: {problem}" for problem in problems]
    assert written(engine, tmp_path / "data") == before
    assert as_admin("audit", "verify")[0] == 0
