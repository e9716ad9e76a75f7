"""The adverse event and outcome commands: outputs, the report's privacy, exit codes, and
nothing written on error; on both backends."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select

from dermaplan.records.db import transaction
from dermaplan.records.models import AdverseEvent, Outcome
from tests.commands.cli import UUID, acting, run
from tests.records.factories import events


@pytest.fixture
def people(engine: Engine) -> tuple[str, str]:
    """(patient id, practitioner id): the patient added by the CLI, which makes the clinic."""
    code, out, err = run(
        "patients", "add", "--family-name", "Moreau", "--given-names", "Claire",
        "--birth-date", "1988-04-12", "--sex", "female", "--email", "claire@example.org",
        "--phone", "+33 6 12 34 56 78", "--identifier", "chart=1042",
    )  # fmt: skip
    assert code == 0, err
    found = re.search(UUID, out)
    assert found is not None
    return found.group(0), acting()


def write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def event_file(tmp_path: Path, people: tuple[str, str], **fields: Any) -> Path:
    patient, reporter = people
    data = {
        "patient": patient,
        "type": "granuloma",
        "severity": "moderate",
        "onset": "2026-11-10",
        "causality": "possible",
        "treatment": "intralesional hyaluronidase",
        "outcome": "recovering",
        "description": "Firm nodule on the left cheek; Mrs Moreau noticed it on day 8.",
        "reporter": reporter,
        "lots": [
            {"product": "ha_skin_booster", "lot": "HB2391", "expiry": "2027-03-31"},
            {"product": "polynucleotides", "lot": "PN-77", "expiry": "2026-12-31"},
        ],
    } | fields
    return write(tmp_path / "event.yaml", data)


def rows(engine: Engine) -> tuple[int, int, int]:
    """(adverse events, outcomes, audit events) as committed."""
    with transaction(engine, write=False) as session:
        return (
            session.scalar(select(func.count()).select_from(AdverseEvent)) or 0,
            session.scalar(select(func.count()).select_from(Outcome)) or 0,
            len(events(engine)),
        )


def test_record_close_and_report_without_identifying_the_patient(
    engine: Engine, people: tuple[str, str], tmp_path: Path
) -> None:
    code, out, err = run("adverse-events", "record", str(event_file(tmp_path, people)))
    assert (code, err) == (0, "")
    found = re.fullmatch(f"recorded adverse event ({UUID}) \\(open\\)\n", out)
    assert found is not None, out
    event_id = found.group(1)
    assert run("adverse-events", "close", event_id)[:2] == (
        0,
        f"closed adverse event {event_id} (closed)\n",
    )
    code, text, err = run("adverse-events", "report", event_id)
    assert (code, err) == (0, "")
    code, out, err = run("adverse-events", "report", event_id, "--format", "json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["patient"] == {"initials": "C.M.", "age_at_onset": 38, "sex": "female"}
    assert report["status"] == "closed"
    assert "patient: C.M., age 38, sex female" in text
    assert "product: ha_skin_booster  lot HB2391  expiry 2027-03-31" in text
    assert "product: polynucleotides  lot PN-77  expiry 2026-12-31" in text
    assert "causality (WHO-UMC): possible" in text
    assert "outcome: recovering" in text
    for secret in ("Claire", "Moreau", "claire@example", "+33", "12 34", "1042", "1988-04-12"):
        assert secret.casefold() not in (text + out).casefold(), secret
    assert [e.action for e in events(engine)][-2:] == [
        "adverse_event.report",
        "adverse_event.report",
    ]


def test_a_closed_event_is_followed_up_not_changed(
    engine: Engine, people: tuple[str, str], tmp_path: Path
) -> None:
    code, out, _ = run("adverse-events", "record", str(event_file(tmp_path, people, closed=True)))
    assert code == 0
    event_id = re.findall(UUID, out)[0]
    before = rows(engine)
    code, out, err = run("adverse-events", "close", event_id)
    assert (code, out) == (2, "")
    assert err == (
        f"error: adverse event {event_id} is closed and cannot change; record a follow-up instead\n"
    )
    assert rows(engine) == before
    later = event_file(tmp_path, people, outcome="recovered", closed=True)
    code, out, err = run("adverse-events", "follow-up", event_id, str(later), "--reason", "healed")
    assert (code, err) == (0, "")
    assert out.endswith(f"(closed), following {event_id}\n")
    newer = re.findall(UUID, out)[0]
    code, out, _ = run("adverse-events", "report", newer, "--format", "json")
    assert (json.loads(out)["version"], json.loads(out)["follow_up_reason"]) == (2, "healed")


def test_a_bad_event_file_exits_2_with_one_line_per_problem_and_nothing_written(
    engine: Engine, people: tuple[str, str], tmp_path: Path
) -> None:
    file = event_file(
        tmp_path, people, type="rash", severity="severe", causality="likely", onset="yesterday",
        extra="field",
    )  # fmt: skip
    before = rows(engine)
    code, out, err = run("adverse-events", "record", str(file))
    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert all(line.startswith(f"error: {file}: ") for line in lines)
    assert [line.split(": ")[2] for line in lines] == ["type", "onset", "causality", "extra"]
    unknown = event_file(tmp_path, people, patient=str(uuid.uuid4()))
    code, _, err = run("adverse-events", "record", str(unknown))
    assert code == 2
    assert err.startswith("error: patient: no patient")
    assert run("adverse-events", "report", "not-an-id")[0] == 2
    assert run("adverse-events", "record", str(tmp_path / "missing.yaml"))[0] == 2
    assert rows(engine) == before


def test_outcomes_record_and_refuse_a_score_out_of_range(
    engine: Engine, people: tuple[str, str], tmp_path: Path
) -> None:
    patient, assessor = people
    good = {"patient": patient, "scale": "gais", "score": 2, "date": "2026-11-20"}
    code, out, err = run(
        "outcomes", "record", str(write(tmp_path / "o.yaml", good | {"assessor": assessor}))
    )
    assert (code, err) == (0, "")
    assert re.fullmatch(f"recorded outcome {UUID}: GAIS 2\n", out), out
    assert events(engine)[-1].action == "outcome.create"
    before = rows(engine)
    bad = write(tmp_path / "bad.yaml", good | {"score": 7, "scale": "cr_smfrs"})
    code, out, err = run("outcomes", "record", str(bad))
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"error: {bad}: score: 7 is outside the CR-SMFRS range 0–4"]
    worse = write(tmp_path / "worse.yaml", good | {"scale": "qol", "patient_reported": "maybe"})
    code, _, err = run("outcomes", "record", str(worse))
    assert code == 2
    assert [line.split(": ")[2] for line in err.splitlines()] == ["scale", "patient_reported"]
    assert rows(engine) == before


def test_outcomes_list_a_patients_scores_in_date_order(
    engine: Engine, people: tuple[str, str], tmp_path: Path
) -> None:
    patient, assessor = people
    later = {"patient": patient, "scale": "gais", "score": 2, "date": "2026-11-20"}
    earlier = {"patient": patient, "scale": "patient_satisfaction", "score": 8}
    for name, data in (
        ("later.yaml", later | {"assessor": assessor, "notes": "vs baseline photos"}),
        ("earlier.yaml", earlier | {"date": "2026-11-05", "patient_reported": True}),
    ):
        assert run("outcomes", "record", str(write(tmp_path / name, data)))[0] == 0
    code, out, err = run("outcomes", "list", patient)
    assert (code, err) == (0, "")
    first, second = (line.split("  ") for line in out.splitlines())
    assert first[:4] == ["2026-11-05", "patient satisfaction 8", "patient-reported", "-"]
    assert second[:3] == ["2026-11-20", "GAIS 2", "assessed by Dr Ana Lima"]
    assert second[-1] == "vs baseline photos"
    assert events(engine)[-1].action == "outcome.read"

    before = rows(engine)
    missing = str(uuid.uuid4())
    assert run("outcomes", "list", missing) == (2, "", f"error: no patient {missing}\n")
    assert run("outcomes", "list", "nope")[0:2] == (2, "")
    assert rows(engine) == before


def test_the_reporter_and_the_assessor_are_the_practitioner_acting(
    engine: Engine, people: tuple[str, str], admin: str, tmp_path: Path
) -> None:
    patient, practitioner = people
    unsaid = yaml.safe_load(event_file(tmp_path, people).read_text(encoding="utf-8"))
    del unsaid["reporter"]
    code, out, err = run("adverse-events", "record", str(write(tmp_path / "unsaid.yaml", unsaid)))
    assert (code, err) == (0, "")
    event_id = re.findall(UUID, out)[0]
    with transaction(engine, write=False) as session:
        assert str(session.get_one(AdverseEvent, uuid.UUID(event_id)).reporter_id) == practitioner
    score = {"patient": patient, "scale": "gais", "score": 2, "date": "2026-11-20"}
    assert run("outcomes", "record", str(write(tmp_path / "o.yaml", score)))[0] == 0
    code, out, _ = run("outcomes", "list", patient)
    assert out.split("  ")[2] == "assessed by Dr Ana Lima"

    before = rows(engine)
    not_acting = event_file(tmp_path, people, reporter=admin)
    assessed = write(tmp_path / "o.yaml", score | {"assessor": admin})
    for args, field in (
        (("adverse-events", "record", str(not_acting)), "reporter"),
        (("adverse-events", "follow-up", event_id, str(not_acting), "--reason", "x"), "reporter"),
        (("outcomes", "record", str(assessed)), "assessor"),
    ):
        code, out, err = run(*args)
        assert (code, out) == (2, "")
        assert err == (
            f"error: {field}: {admin} is not the member acting (Dr Ana Lima, {practitioner}); "
            f"leave {field} out, or record it acting as that member\n"
        )
    assert rows(engine) == before


def test_reception_may_not_record_adverse_events_or_outcomes(
    engine: Engine, people: tuple[str, str], reception: str, tmp_path: Path
) -> None:
    patient, _ = people
    code, out, _ = run("adverse-events", "record", str(event_file(tmp_path, people)))
    event_id = re.findall(UUID, out)[0]
    told = {"patient": patient, "scale": "gais", "score": 2, "date": "2026-11-20"}
    score = write(tmp_path / "o.yaml", told | {"patient_reported": True})
    before = rows(engine)
    for args, use_case in (
        (("adverse-events", "record", str(event_file(tmp_path, people))), "adverse record"),
        (("adverse-events", "close", event_id), "adverse close"),
        (("adverse-events", "report", event_id), "adverse report"),
        (("outcomes", "record", str(score)), "outcomes record"),
        (("outcomes", "list", patient), "outcomes of patient"),
    ):
        code, out, err = run("--as", reception, *args)
        assert (code, out) == (2, ""), args
        assert err == f"error: {use_case}: Rita Sousa (reception) may not; it needs practitioner\n"
    assert rows(engine) == before
