"""Correcting the record from the command line: a draft session revised, a signed one
amended, an approved consult corrected; every refusal exits 2 with nothing written, on both
backends."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from sqlalchemy import Engine

from dermaplan.records.db import transaction
from dermaplan.records.models import Consult, TreatmentSession
from tests.commands.cli import UUID, run
from tests.commands.conftest import ADMIN
from tests.commands.test_cli_records import add, clinic_with_patient, session_file
from tests.conftest import EXAMPLES
from tests.records.factories import counts, events, session_counts

AMEND_HINT = "hint: use `dermaplan sessions amend {} FILE --reason REASON`"


def recorded(out: str, what: str) -> str:
    found = re.fullmatch(f"{what} ({UUID}) .*\n", out)
    assert found is not None, out
    return found.group(1)


def stored_session(engine: Engine, session_id: str) -> TreatmentSession:
    with transaction(engine, write=False) as session:
        return session.get_one(TreatmentSession, uuid.UUID(session_id))


def test_a_draft_session_is_revised_and_a_signed_one_refused(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient, practitioner = clinic_with_patient(engine)
    _, out, _ = run("sessions", "record", str(session_file(tmp_path, patient, practitioner)))
    session_id = recorded(out, "recorded session")
    revised = session_file(tmp_path, patient, practitioner, notes="revised: no bleeding")
    code, out, err = run("sessions", "revise", session_id, str(revised))
    assert (code, out, err) == (0, f"revised session {session_id} (draft)\n", "")
    assert stored_session(engine, session_id).notes == "revised: no bleeding"
    assert events(engine)[-1].action == "session.update"

    before = session_counts(engine)
    unsafe = session_file(tmp_path, patient, practitioner, depths_mm={"cheeks": 2.5, "forehead": 1})
    code, out, err = run("sessions", "revise", session_id, str(unsafe))
    assert (code, out) == (2, "")
    assert err.splitlines()[-1].startswith("hint: to record it anyway, the practitioner gives")
    missing = str(uuid.uuid4())
    assert run("sessions", "revise", missing, str(revised)) == (
        2,
        "",
        f"error: no session {missing}\n",
    )
    assert session_counts(engine) == before
    assert stored_session(engine, session_id).depths_mm == {"cheeks": 1.5, "forehead": 0.5}

    assert run("sessions", "sign", session_id)[0] == 0
    before = session_counts(engine)
    code, out, err = run("sessions", "revise", session_id, str(revised))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"error: session {session_id} is signed and cannot change; record an amendment instead",
        AMEND_HINT.format(session_id),
    ]
    assert session_counts(engine) == before


def test_a_signed_session_is_amended_by_a_new_version(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient, practitioner = clinic_with_patient(engine)
    _, out, _ = run("sessions", "record", str(session_file(tmp_path, patient, practitioner)))
    original = recorded(out, "recorded session")
    corrected = session_file(tmp_path, patient, practitioner, notes="lot misread")
    before = session_counts(engine)
    code, out, err = run("sessions", "amend", original, str(corrected), "--reason", "typo")
    assert (code, out) == (2, "")
    assert err == f"error: session {original} is a draft: revise it instead\n"
    assert session_counts(engine) == before
    assert run("sessions", "sign", original)[0] == 0

    unsafe = session_file(tmp_path, patient, practitioner, depths_mm={"cheeks": 2.5, "forehead": 1})
    before = session_counts(engine)
    for args, last in (
        (
            (str(unsafe), "--reason", "deeper than written"),
            "hint: to record it anyway, the practitioner gives a written reason: --override REASON",
        ),
        ((str(corrected), "--reason", "  "), "error: reason: an amendment needs a reason"),
    ):
        code, out, err = run("sessions", "amend", original, *args)
        assert (code, out, err.splitlines()[-1]) == (2, "", last)
    assert run("sessions", "amend", original, str(corrected))[0] == 2  # --reason is required
    assert session_counts(engine) == before

    code, out, err = run(
        "sessions", "amend", original, str(unsafe), "--reason", "deeper than written",
        "--override-reason", "deep acne scars",
    )  # fmt: skip
    assert (code, err) == (0, "")
    amendment = recorded(out, "recorded amendment")
    assert out == f"recorded amendment {amendment} (draft) of session {original}\n"
    stored = stored_session(engine, amendment)
    assert (str(stored.amends_id), stored.amendment_reason) == (original, "deeper than written")
    assert stored.override_reason == "deep acne scars"
    assert [e.action for e in events(engine)][-2:] == ["session.create", "session.override"]

    before = session_counts(engine)
    code, out, err = run("sessions", "amend", original, str(corrected), "--reason", "again")
    assert (code, out, err) == (
        2,
        "",
        f"error: session {original} already has an amendment: {amendment}\n",
    )
    assert session_counts(engine) == before
    assert run("sessions", "sign", amendment)[0] == 0
    code, out, _ = run("sessions", "show", original, "--format", "json")
    assert [(v["id"], v["status"]) for v in json.loads(out)] == [
        (original, "amended"),
        (amendment, "signed"),
    ]


def save(patient: str, example: str = "02-stretch-marks-microneedling.yaml") -> str:
    code, _, err = run("consult", str(EXAMPLES / example), "--format", "json", "--save", patient)
    assert code == 0, err
    found = re.search(f"saved consult ({UUID})", err)
    assert found is not None, err
    return found.group(1)


def test_an_approved_consult_is_corrected_shown_and_listed(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient, practitioner = clinic_with_patient(engine)
    consult = save(patient)
    corrected = str(EXAMPLES / "03-hydration-mesotherapy.yaml")
    before = counts(engine)
    code, out, err = run("consults", "correct", consult, corrected, "--reason", "wrong file")
    assert (code, out, err) == (2, "", f"error: consult {consult} is a draft: revise it instead\n")
    assert counts(engine) == before
    assert run("consults", "approve", consult)[0] == 0

    before = counts(engine)
    broken = tmp_path / "broken.yaml"
    broken.write_text("consult_date: 2026-13-01\n", encoding="utf-8")
    for args in (
        (corrected, "--reason", " "),
        (str(broken), "--reason", "typo"),
        (str(tmp_path / "missing.yaml"), "--reason", "typo"),
    ):
        code, out, err = run("consults", "correct", consult, *args)
        assert (code, out) == (2, "")
        assert err.startswith("error: ")
    assert run("consults", "correct", consult, str(broken), "--reason", "typo")[2] == (
        f"error: {broken}: not valid YAML or JSON: month must be in 1..12\n"
    )
    assert counts(engine) == before

    reason = "meso, not needling"
    code, out, err = run("consults", "correct", consult, corrected, "--reason", reason)
    assert (code, err) == (0, "")
    correction = recorded(out, "recorded correction")
    assert out == f"recorded correction {correction} (draft) of consult {consult}\n"
    with transaction(engine, write=False) as session:
        stored = session.get_one(Consult, uuid.UUID(correction))
    assert (str(stored.supersedes_id), stored.status.value) == (consult, "draft")
    assert stored.plan_json == run("consult", corrected, "--format", "json")[1]  # as the engine
    before = counts(engine)
    code, out, err = run("consults", "correct", consult, corrected, "--reason", "again")
    assert (code, out) == (2, "")
    assert err == f"error: consult {consult} already has a correction in progress: {correction}\n"
    assert counts(engine) == before

    code, out, _ = run("consults", "show", consult)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"consult {consult}  ")
    assert lines[0].endswith("  approved")
    assert re.fullmatch(f"approved .* by Dr Ana Lima \\({practitioner}\\)", lines[3])
    assert lines[4] == f"corrected by {correction} (draft)"
    assert "  microneedling: recommended" in lines
    assert any(line.startswith("  course: microneedling, ") for line in lines)
    assert events(engine)[-1].action == "consult.read"

    assert run("consults", "approve", correction)[0] == 0
    code, out, _ = run("consults", "show", correction)
    assert f"corrects {consult}: meso, not needling" in out.splitlines()
    code, out, _ = run("consults", "list", patient)
    assert code == 0
    first, second = out.splitlines()
    assert first.startswith(f"{consult}  ")
    assert "  superseded, approved " in first
    assert second.startswith(f"{correction}  ")
    assert second.endswith(f", corrects {consult}: meso, not needling")

    before = counts(engine)
    code, out, err = run("consults", "correct", consult, corrected, "--reason", "late")
    assert (code, out) == (2, "")
    assert err == (
        f"error: consult {consult} is already superseded by {correction}; correct that one\n"
    )
    missing = str(uuid.uuid4())
    assert run("consults", "show", missing) == (2, "", f"error: no consult {missing}\n")
    assert run("consults", "list", missing) == (2, "", f"error: no patient {missing}\n")
    assert counts(engine) == before
    other = add("--family-name", "Ravel")
    assert run("consults", "list", other) == (0, "", f"no consult stored for patient {other}\n")


def test_a_correction_is_checked_against_the_patients_record(database: str, engine: Engine) -> None:
    patient, _ = clinic_with_patient(engine)
    consult = save(patient)
    assert run("consults", "approve", consult)[0] == 0
    assert run("patients", "update", patient, "--allergy", "EMLA cream")[0] == 0
    before = counts(engine)
    corrected = str(EXAMPLES / "03-hydration-mesotherapy.yaml")  # no known allergies
    code, out, err = run("consults", "correct", consult, corrected, "--reason", "meso")
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == (
        "error: allergies: the patient's record lists 'emla cream' (amide_anaesthetic), "
        "which the assessment leaves out"
    )
    assert counts(engine) == before


def test_a_draft_is_discarded_kept_frozen_and_frees_its_consult_for_a_new_correction(
    database: str, engine: Engine
) -> None:
    patient, practitioner = clinic_with_patient(engine)
    consult = save(patient)
    assert run("consults", "approve", consult)[0] == 0
    corrected = str(EXAMPLES / "03-hydration-mesotherapy.yaml")
    code, out, err = run("consults", "correct", consult, corrected, "--reason", "meso instead")
    assert code == 0, err
    mistaken = recorded(out, "recorded correction")

    before = counts(engine)
    for args, refusal in (
        ((consult, "--reason", "not wanted"), f"consult {consult} is approved and cannot change"),
        ((mistaken, "--reason", "  "), "reason: a discard needs a reason"),
    ):
        code, out, err = run("consults", "discard", *args)
        assert (code, out) == (2, "")
        assert err.startswith(f"error: {refusal}"), err
    assert counts(engine) == before

    code, out, err = run("consults", "discard", mistaken, "--reason", "the first plan stands")
    assert (code, err) == (0, "")
    assert out.startswith(f"discarded consult {mistaken} (draft of ")
    with transaction(engine, write=False) as session:
        kept = session.get_one(Consult, uuid.UUID(mistaken))
        assert (kept.status.value, kept.discard_reason) == ("discarded", "the first plan stands")
        assert str(kept.discarded_by_id) == str(practitioner)
        assert str(kept.supersedes_id) == consult  # what it was meant to correct, kept
    assert events(engine)[-1].action == "consult.discard"

    # a discarded draft is never approved, corrected or discarded again
    before = counts(engine)
    for args in (
        ("approve", mistaken),
        ("discard", mistaken, "--reason", "twice"),
        ("correct", mistaken, corrected, "--reason", "revive it"),
    ):
        code, _, err = run("consults", *args)
        assert (code, err) == (
            2,
            f"error: consult {mistaken} is discarded and cannot change; "
            "save a new consult instead\n",
        )
    assert counts(engine) == before

    # the consult it would have corrected takes another correction, and shows none pending
    code, out, _ = run("consults", "show", consult)
    assert "corrected by" not in out
    code, out, err = run("consults", "correct", consult, corrected, "--reason", "meso, again")
    assert code == 0, err
    second = recorded(out, "recorded correction")
    assert run("consults", "approve", second)[0] == 0
    code, out, _ = run("consults", "list", patient)
    listed = out.splitlines()
    assert len(listed) == 3
    assert listed[1].startswith(mistaken)
    assert ", discarded " in listed[1]
    assert listed[1].endswith(": the first plan stands")
    code, out, err = run("--as", ADMIN, "audit", "verify")
    assert code == 0, out + err
