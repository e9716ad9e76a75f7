"""Correcting and deleting a patient's record from the command line, and the record feeding
a consult stored for the patient: only what is given changes, every change is audited, a
deletion keeps the record, a disagreement or bad input writes nothing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import yaml
from sqlalchemy import Engine, select

from dermaplan.records.db import transaction
from dermaplan.records.models import Consult, Patient
from tests.commands.cli import as_admin, run
from tests.commands.test_cli_records import add
from tests.conftest import EXAMPLES
from tests.records.factories import counts, events


def shown(patient: str) -> dict[str, object]:
    code, out, err = run("patients", "show", patient, "--format", "json")
    assert code == 0, err
    document: dict[str, object] = json.loads(out)
    return document


def stored(engine: Engine, patient: str) -> Patient:
    with transaction(engine, write=False) as session:
        return session.get_one(Patient, uuid.UUID(patient))


def test_update_changes_only_the_fields_given_and_is_audited(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient = add(
        "--family-name", "Moreau", "--given-names", "Claire", "--birth-date", "1988-04-12",
        "--phone", "+33 6 12 34 56 78", "--allergy", "nickel", "--identifier", "chart=1042",
    )  # fmt: skip
    code, out, err = run(
        "patients", "update", patient, "--phone", "+33 6 98 76 54 32",
        "--allergy", "Lidocaine", "--allergy", "nickel", "--identifier", "nhs=943 476 5919",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out == f"updated {patient}  1988-04-12  Moreau, Claire\n"
    record = stored(engine, patient)
    assert (record.phone, record.given_names) == ("+33 6 98 76 54 32", "Claire")
    assert record.allergies == ["lidocaine", "nickel"]
    assert record.identifiers == {"chart": "1042", "nhs": "943 476 5919"}
    update = events(engine)[-1]
    assert (update.action, update.patient_id) == ("patient.update", uuid.UUID(patient))
    assert update.before_digest is not None
    assert update.before_digest != update.after_digest

    changes = tmp_path / "changes.yaml"
    changes.write_text("given_names: Claire-Marie\nallergies: []\n", encoding="utf-8")
    assert run("patients", "update", patient, "--file", str(changes))[0] == 0
    document = shown(patient)
    assert (document["given_names"], document["allergies"]) == ("Claire-Marie", [])
    assert document["phone"] == "+33 6 98 76 54 32"
    assert as_admin("audit", "verify")[0] == 0


def test_a_bad_update_exits_2_and_changes_nothing(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient = add("--family-name", "Ravel", "--allergy", "latex")
    listed = tmp_path / "list.yaml"
    listed.write_text("- Ravel\n", encoding="utf-8")
    typo = tmp_path / "typo.yaml"
    typo.write_text("phone: call me\n", encoding="utf-8")
    missing = str(uuid.uuid4())
    cases = [
        (["--email", "nope"], "error: email: 'nope' is not an e-mail address"),
        (["--birth-date", "2099-01-01"], "error: birth_date: 2099-01-01 is in the future"),
        (["--family-name", " "], "error: family_name: must not be empty"),
        ([], "error: nothing to change: give the fields to correct as options or --file"),
        (["--allergy", "x", "--no-known-allergies"], "error: --allergy and --no-known-"),
        (["--file", str(listed)], f"error: {listed}: must be a mapping of the fields"),
        (["--file", str(listed), "--phone", "0102"], "error: give the patient either as"),
        (["--file", str(typo)], f"error: {typo}: phone: 'call me' is not a phone number"),
    ]
    before = counts(engine)
    for args, problem in cases:
        code, out, err = run("patients", "update", patient, *args)
        assert (code, out) == (2, ""), args
        assert err.startswith(problem), (args, err)
    assert run("patients", "update", missing, "--phone", "0102")[0::2] == (
        2,
        f"error: no patient {missing}\n",
    )
    assert counts(engine) == before
    assert stored(engine, patient).allergies == ["latex"]


def test_delete_keeps_the_record_with_its_reason_out_of_lists_and_searches(
    database: str, engine: Engine
) -> None:
    twice = add("--family-name", "Moreau", "--given-names", "Claire")
    kept = add("--family-name", "Moreau", "--given-names", "Claude")
    before = counts(engine)
    code, out, err = run("patients", "delete", twice, "--reason", "  ")
    assert (code, out, err) == (2, "", "error: reason: a deletion needs a reason\n")
    assert run("patients", "delete", twice)[0] == 2  # --reason is required
    assert counts(engine) == before

    code, out, err = run("patients", "delete", twice, "--reason", "entered twice")
    assert (code, err) == (0, "")
    assert out == f"deleted {twice}  -  Moreau, Claire  (deleted)\n"
    assert run("patients", "search", "moreau")[1] == f"{kept}  -  Moreau, Claude\n"
    assert twice not in run("patients", "list")[1]
    assert f"{twice}  -  Moreau, Claire  (deleted)" in run("patients", "list", "--deleted")[1]
    code, out, _ = run("patients", "show", twice)
    assert code == 0
    assert "  DELETED     " in out
    assert out.splitlines()[7].endswith(": entered twice")
    assert run("patients", "update", twice, "--phone", "0102")[0::2] == (
        2,
        f"error: no patient {twice}\n",
    )
    assert run("patients", "delete", twice, "--reason", "again")[0] == 2
    assert stored(engine, twice).deletion_reason == "entered twice"
    assert events(engine)[-1].action != "patient.delete"
    assert [e.action for e in events(engine)].count("patient.delete") == 1
    assert as_admin("audit", "verify")[0] == 0


def test_a_consult_saved_for_a_patient_is_completed_by_their_record(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient = add("--family-name", "Moreau", "--birth-date", "1988-04-12", "--sex", "female")
    assessment = yaml.safe_load((EXAMPLES / "01-acne-scars-dehydration.yaml").read_text())
    del assessment["patient"]["age"], assessment["patient"]["sex"]
    file = tmp_path / "unsaid.yaml"
    file.write_text(yaml.safe_dump(assessment), encoding="utf-8")
    code, out, err = run("consult", str(file), "--format", "json", "--save", patient)
    assert code == 0, err
    assert err.splitlines()[:2] == [
        "from the patient's record: patient.age: 38 (born 1988-04-12)",
        "from the patient's record: patient.sex: female",
    ]
    with transaction(engine, write=False) as session:
        stored = session.scalars(select(Consult)).one()
        assert json.loads(stored.assessment_json)["patient"]["age"] == 38
        assert stored.plan_json == out
    # the example was told "no known allergies": the record, never asked, now says so
    actions = [event.action for event in events(engine)][-3:]
    assert actions == ["patient.read", "consult.create", "patient.update"]
    with transaction(engine, write=False) as session:
        assert session.scalars(select(Patient.allergies)).one() == []


def test_a_consult_that_contradicts_the_record_is_refused_and_nothing_stored(
    database: str, engine: Engine
) -> None:
    patient = add("--family-name", "Lima", "--sex", "male", "--allergy", "Lidocaine")
    example = str(EXAMPLES / "01-acne-scars-dehydration.yaml")  # female, no known allergies
    before = counts(engine)
    code, out, err = run("consult", example, "--save", patient)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "error: patient.sex: female, but the patient's record says male",
        "error: allergies: the patient's record lists 'lidocaine' (amide_anaesthetic), which "
        "the assessment leaves out",
        "hint: correct the assessment, or the patient's record (`dermaplan patients update`), "
        "and consult again",
    ]
    assert counts(engine) == before
    assert run("consult", example)[0] == 0  # a consult that is not stored needs no record
