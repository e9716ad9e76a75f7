"""The records commands as a clinic uses them: outputs, exit codes, nothing written on error."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine
from typer.testing import CliRunner

from dermaplan.cli import app
from dermaplan.cli.sessions import RECALL_CSV
from dermaplan.records.db import HEAD_REVISION, create_records_engine, transaction
from dermaplan.records.keyring import KeyringFile
from dermaplan.records.models import Consult
from dermaplan.records.photos import photo_storage
from dermaplan.records.repository import ClinicRepository
from dermaplan.records.settings import records_settings
from tests.commands.cli import UUID, acting, as_admin, loaded, run, start_clinic
from tests.conftest import EXAMPLES
from tests.records.database import tampering
from tests.records.factories import (
    add_consent,
    add_photos,
    counts,
    events,
    image_bytes,
    session_counts,
    session_fields,
)


def add(*args: str) -> str:
    code, out, err = run("patients", "add", *args)
    assert code == 0, err
    found = re.search(UUID, out)
    assert found is not None, out
    return found.group(0)


def test_help_does_not_load_the_database_layer() -> None:
    probe = "import sys, dermaplan.cli; sys.exit('sqlalchemy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


def test_a_records_command_loads_neither_migrations_nor_the_engine(database: str) -> None:
    """A database at this revision is checked without Alembic; a patient list needs neither
    the knowledge nor the engine, and SQLite no PostgreSQL dialect."""
    absent = ("alembic", "dermaplan.knowledge", "dermaplan.clinical", "yaml", "rich")
    if database.startswith("sqlite"):
        absent += ("sqlalchemy.dialects.postgresql", "psycopg")
    assert loaded(["patients", "list"], absent) == []


def test_add_list_search_show_and_verify(database: str, engine: Engine) -> None:
    claire = add(
        "--family-name", "Moreau", "--given-names", "Claire", "--birth-date", "1988-04-12",
        "--sex", "female", "--email", "claire@example.org", "--phone", "+33 6 12 34 56 78",
        "--allergy", "Lidocaine", "--allergy", "nickel", "--identifier", "chart=1042",
    )  # fmt: skip
    add("--family-name", "Müller", "--given-names", "Jürgen", "--no-known-allergies")

    code, out, _ = run("patients", "list")
    assert code == 0
    assert [line.split("  ")[-1] for line in out.splitlines()] == [
        "Moreau, Claire",
        "Müller, Jürgen",
    ]
    code, out, _ = run("patients", "search", "MUL")
    assert (code, out.split("  ")[-1].strip()) == (0, "Müller, Jürgen")
    code, out, err = run("patients", "search", "zz")
    assert (code, out, err.strip()) == (0, "", "no patient's name starts with 'zz'")

    code, out, _ = run("patients", "show", claire)
    assert code == 0
    assert out.splitlines()[0] == "Moreau, Claire"
    assert "allergies   lidocaine, nickel" in out
    assert "chart       1042" in out
    assert "consults (0)" in out
    assert out.endswith("consents (0)\n")

    acting = uuid.UUID(os.environ["DERMAPLAN_STAFF"])
    assert [(e.action, e.actor, e.staff_id, e.lane) for e in events(engine)] == [
        ("clinic.create", "staff:test", None, 0),  # the clinic and its practitioner, before
        ("staff.create", "staff:test", None, 0),
        ("staff.create", "staff:test", None, 0),
        ("patient.create", "os:tester", acting, 0),  # changes on the change lane,
        ("patient.create", "os:tester", acting, 0),
        ("patient.list", "os:tester", acting, 1),  # reads on the first read lane
        ("patient.search", "os:tester", acting, 1),
        ("patient.search", "os:tester", acting, 1),
        ("patient.read", "os:tester", acting, 1),
        ("consent.list", "os:tester", acting, 1),
    ]
    code, out, _ = as_admin("audit", "verify")
    assert code == 0
    assert out == (
        "ok: 10 events in 2 chains, intact, 2 anchored, records and photo files match the log\n"
    )


def test_show_as_json(database: str) -> None:
    patient = add("--family-name", "Ravel", "--given-names", "Maurice")
    code, out, _ = run("patients", "show", patient, "--format", "json")
    assert code == 0
    assert '"family_name": "Ravel"' in out
    assert '"allergies": null' in out  # not asked is not "none"


def test_add_from_a_yaml_file(database: str, tmp_path: Path) -> None:
    file = tmp_path / "patient.yaml"
    file.write_text(
        "family_name: Lima\ngiven_names: Ana\nbirth_date: 1979-11-30\nallergies: []\n"
        "history:\n  last_peel: 2026-01-05\n",
        encoding="utf-8",
    )
    patient = add("--file", str(file))
    code, out, _ = run("patients", "show", patient, "-f", "json")
    assert code == 0
    assert '"last_peel": "2026-01-05"' in out


@pytest.mark.parametrize(
    ("args", "problems"),
    [
        (
            ["--family-name", "Moreau", "--birth-date", "1990-02-30", "--sex", "f",
             "--email", "nope", "--identifier", "chart"],
            [
                "--identifier 'chart': expected SYSTEM=VALUE, e.g. chart=1042",
                "birth_date: '1990-02-30' is not a date (YYYY-MM-DD)",
                "sex: Input should be 'female', 'male' or 'intersex'",
                "email: 'nope' is not an e-mail address",
            ],
        ),
        (["--given-names", "Claire"], ["family_name: Field required"]),
        (["--family-name", "Moreau", "--birth-date", "2099-01-01"],
         ["birth_date: 2099-01-01 is in the future"]),
        (["--family-name", "X", "--allergy", "latex", "--no-known-allergies"],
         ["--allergy and --no-known-allergies contradict each other"]),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line_per_problem_and_writes_nothing(
    database: str, engine: Engine, args: list[str], problems: list[str]
) -> None:
    before = counts(engine)
    code, out, err = run("patients", "add", *args)
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"error: {problem}" for problem in problems]
    assert counts(engine) == before


def test_bad_files_exit_2(database: str, engine: Engine, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("family_name: [unclosed\n", encoding="utf-8")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("family_name: Lima\nnickname: Ana\n", encoding="utf-8")
    cases = {
        (str(tmp_path / "missing.yaml"),): "missing.yaml: no such file",
        (str(broken),): "broken.yaml:2:1: not valid YAML or JSON",
        (str(wrong),): "wrong.yaml: nickname: Extra inputs are not permitted",
        (str(wrong), "--family-name", "Lima"): "either as --file or as options, not both",
    }
    for args, problem in cases.items():
        code, _, err = run("patients", "add", "--file", *args)
        assert code == 2
        assert problem in err
        assert len(err.splitlines()) == 1
    assert counts(engine) == (0, 0, 3)  # the clinic and its staff, made before


def test_unknown_or_malformed_ids_exit_2(database: str, engine: Engine) -> None:
    missing = str(uuid.uuid4())
    assert run("patients", "show", missing)[0::2] == (2, f"error: no patient {missing}\n")
    code, _, err = run("patients", "show", "42")
    assert code == 2
    assert err.startswith("error: '42' is not a patient id")
    code, _, err = run("patients", "search", "!?")
    assert (code, err) == (2, "error: search: needs at least one letter or digit\n")


def test_audit_verify_reports_the_first_broken_link(database: str, engine: Engine) -> None:
    add("--family-name", "Moreau")
    add("--family-name", "Ravel")
    with tampering(engine) as connection:
        connection.exec_driver_sql("UPDATE audit_event SET actor = 'staff:nobody' WHERE seq = 2")
    clinic = events(engine)[0].clinic_id
    code, out, err = as_admin("audit", "verify")
    assert (code, out) == (1, "")
    assert err == (
        f"broken: event 2 of clinic {clinic} lane 0 was altered after it was written; "
        "the 1 events before it verify\n"
    )


def test_audit_verify_finds_a_cut_off_end_and_an_edited_row(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    """The cut event created Ravel, whose row is then one no event records."""
    moreau = add("--family-name", "Moreau")
    ravel = add("--family-name", "Ravel")
    with tampering(engine) as connection:
        connection.exec_driver_sql("DELETE FROM audit_event WHERE seq = 5")
        connection.exec_driver_sql(
            "UPDATE patient SET family_name = 'Morel', search_name = 'morel' "
            f"WHERE id = '{uuid.UUID(moreau).hex}'"
        )
    code, out, err = as_admin("audit", "verify")
    assert (code, out) == (1, "")
    anchor = re.escape(str(tmp_path / "data" / "audit-head.json"))
    lane = f"clinic {events(engine)[0].clinic_id} lane 0"
    assert re.fullmatch(
        f"broken: the log ends at event 4 of {lane} but the anchor {anchor} records event 5 "
        r"\(written \S+\): the events after 4 were cut off the end\n"
        f"broken: patient {moreau}: its stored row no longer matches its last audited state "
        rf"\(event 4 of {lane}\)\n"
        f"broken: patient {ravel}: no event records its creation "
        r"\(a row added behind the services' back\)\n",
        err,
    ), err


def test_audit_verify_warns_when_there_is_no_anchor(database: str, tmp_path: Path) -> None:
    add("--family-name", "Moreau")
    (tmp_path / "data" / "audit-head.json").unlink()
    code, out, err = as_admin("audit", "verify")
    assert code == 0
    assert out == "ok: 4 events in 1 chain, intact, records and photo files match the log\n"
    assert err.startswith("warning: no audit anchor at ")
    add("--family-name", "Ravel")  # the next change writes it
    code, out, err = as_admin("audit", "verify")
    assert (code, err) == (0, "")
    assert out.startswith("ok: 5 events in 1 chain, intact, 1 anchored,")


def test_db_upgrade_creates_then_reports_the_revision(uninitialised: str) -> None:
    code, out, _ = run("db", "upgrade")
    assert code == 0
    head = HEAD_REVISION
    assert re.fullmatch(rf"ok: \S+ upgraded from empty to {head}\n", out)
    code, out, _ = run("db", "upgrade")
    assert code == 0
    assert out.endswith(f"is at schema revision {head}\n")
    code, out, _ = run("init")
    assert (code, out.startswith("already initialised: ")) == (0, True)


def test_unusable_databases_exit_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DERMAPLAN_DATABASE_URL", "mysql://clinic:secret@db/records")
    code, _, err = run("patients", "list")
    assert code == 1
    assert err.startswith(
        "error: DERMAPLAN_DATABASE_URL: 'mysql://clinic:***@db/records': Dermaplan keeps records in"
    )
    foreign = tmp_path / "other.db"
    monkeypatch.setenv("DERMAPLAN_DATABASE_URL", f"sqlite:///{foreign}")
    monkeypatch.setenv("DERMAPLAN_HOME", str(tmp_path / "data"))
    engine = create_records_engine(f"sqlite:///{foreign}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE invoices (id INTEGER)")
    engine.dispose()
    for command in (["patients", "list"], ["db", "upgrade"], ["init"]):
        code, _, err = run(*command)
        assert code == 1
        assert err == f"error: {foreign} has tables but is not a Dermaplan database\n"


# -- sessions, recall and consult --save -----------------------------------------------


def clinic_with_patient(engine: Engine) -> tuple[str, str]:
    """(patient id, practitioner id): the patient added by the CLI, which makes the clinic,
    with what signing asks for (consent, allergies, before-photos)."""
    patient = add("--family-name", "Moreau", "--given-names", "Claire", "--no-known-allergies")
    with transaction(engine, write=False) as session:
        [clinic] = ClinicRepository(session).all()
    add_consent(engine, clinic.id, uuid.UUID(patient))
    storage = photo_storage(records_settings())
    add_photos(engine, clinic.id, storage, uuid.UUID(patient), "cheeks", "forehead")
    return patient, acting()


def session_file(tmp_path: Path, patient: str, practitioner: str, **fields: object) -> Path:
    file = tmp_path / "session.yaml"
    file.write_text(
        yaml.safe_dump(session_fields(uuid.UUID(patient), uuid.UUID(practitioner), **fields)),
        encoding="utf-8",
    )
    return file


def test_record_sign_and_recall_a_session(database: str, engine: Engine, tmp_path: Path) -> None:
    patient, practitioner = clinic_with_patient(engine)
    code, out, err = run("sessions", "record", str(session_file(tmp_path, patient, practitioner)))
    assert (code, err) == (0, "")
    found = re.fullmatch(f"recorded session ({UUID}) \\(draft\\)\n", out)
    assert found is not None, out
    session_id = found.group(1)
    code, out, _ = run("sessions", "sign", session_id)
    assert (code, out) == (0, f"signed session {session_id} by {practitioner}\n")
    code, out, _ = run("sessions", "sign", session_id)
    assert code == 2

    code, out, _ = run("recall", "HB2391")
    assert code == 0
    header, line = out.splitlines()
    assert header.split("  ")[:3] == ["performed", "session", "status"]
    assert line.split("  ") == [
        "2026-11-02T09:30+00:00", session_id, "signed", patient, "Moreau, Claire",
        "ha_skin_booster", "1.5 mL", "expires 2027-03-31",
    ]  # fmt: skip
    assert run("recall", "NOPE") == (0, "", "no session used lot 'NOPE'\n")
    run("patients", "update", patient, "--phone", "+33 6 12 34 56 78", "--email", "c@example.org")
    code, out, _ = run("recall", "HB2391", "--format", "csv")
    assert code == 0
    assert list(csv.DictReader(io.StringIO(out))) == [
        {
            "patient_name": "Moreau, Claire", "phone": "+33 6 12 34 56 78",
            "email": "c@example.org", "session_date": "2026-11-02",
            "performed_at": "2026-11-02T09:30+00:00", "product": "ha_skin_booster",
            "lot": "HB2391", "expiry": "2027-03-31", "session_status": "signed",
            "session_id": session_id, "patient_id": patient,
        }
    ]  # fmt: skip
    assert run("recall", "NOPE", "--format", "csv")[1].splitlines() == [",".join(RECALL_CSV)]

    event = tmp_path / "event.yaml"
    event.write_text(
        yaml.safe_dump(
            {
                "patient": patient, "session": session_id, "type": "bruising",
                "severity": "mild", "onset": "2026-11-02", "causality": "probable",
                "outcome": "recovering", "description": "Bruises.", "reporter": practitioner,
                "lots": [{"product": "ha_skin_booster", "lot": "HB2391"}],
            }
        ),
        encoding="utf-8",
    )  # fmt: skip
    code, out, err = run("adverse-events", "record", str(event))
    assert code == 0, err
    event_id = re.findall(UUID, out)[0]
    code, out, _ = run("recall", "HB2391")
    assert code == 0
    assert out.splitlines()[2:] == [
        "",
        "adverse events involving the lot:",
        "event  patient  name  onset  type  severity  status",
        f"{event_id}  {patient}  Moreau, Claire  2026-11-02  bruising  mild  open",
    ]


def test_a_session_and_the_timeline_give_times_and_days_on_the_clinics_clock(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    """At UTC+10, a session performed at 21:30 UTC on 2 November was on 3 November: the
    session's versions and the patient's timeline say so, as the clinic's other pages do."""
    patient, practitioner = clinic_with_patient(engine)
    file = session_file(tmp_path, patient, practitioner, performed_at="2026-11-02T21:30+00:00")
    _, out, _ = run("sessions", "record", str(file))
    session_id = out.split()[2]
    assert as_admin("clinic", "set", "--time-zone", "Australia/Brisbane")[0] == 0
    code, out, _ = run("sessions", "show", session_id, "--format", "json")
    assert code == 0
    assert json.loads(out)[0]["performed_at"] == "2026-11-03T07:30:00+10:00"
    code, out, _ = run("sessions", "show", session_id)
    assert f"session {session_id}  draft  2026-11-03T07:30:00+10:00" in out
    code, out, _ = run("patients", "timeline", patient, "--format", "json")
    [entry] = [e for e in json.loads(out)["entries"] if e["kind"] == "session"]
    assert (entry["date"], entry["performed_at"]) == ("2026-11-03", "2026-11-03T07:30:00+10:00")


def test_a_session_and_the_patient_timeline_are_shown(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient, practitioner = clinic_with_patient(engine)
    _, out, _ = run("sessions", "record", str(session_file(tmp_path, patient, practitioner)))
    session_id = out.split()[2]
    code, out, _ = run("sessions", "show", session_id, "--format", "json")
    assert code == 0
    [version] = json.loads(out)
    assert (version["id"], version["status"]) == (session_id, "draft")
    code, out, _ = run("patients", "timeline", patient)
    assert code == 0
    first, consent, *photos, entry = out.splitlines()
    assert [line.split()[2:4] for line in photos] == [
        ["before:", "cheeks,"],
        ["before:", "forehead,"],
    ]
    assert "Moreau" in first
    assert re.fullmatch(
        f"2026-11-01  consent       signed  {UUID} treatment_microneedling \\(version 1\\) "
        "by Claire Moreau",
        consent,
    )
    assert entry.startswith(f"2026-11-02  session       draft  {session_id} microneedling")
    assert "ha_skin_booster lot HB2391" in entry
    code, out, _ = run("patients", "timeline", patient, "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["patient"]["id"] == patient
    assert [e["kind"] for e in document["entries"]] == ["consent", "photo", "photo", "session"]
    assert document["entries"][3]["products"][0]["lot"] == "HB2391"
    assert run("sessions", "show", "not-a-uuid")[0] == 2


def test_an_unsafe_session_is_refused_unless_overridden(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient, practitioner = clinic_with_patient(engine)
    file = session_file(tmp_path, patient, practitioner, depths_mm={"cheeks": 2.5, "forehead": 1})
    before = session_counts(engine)
    code, out, err = run("sessions", "record", str(file))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "error: depths_mm.cheeks: 2.5 mm is deeper than the cheeks limit of 2.0 mm",
        "error: depths_mm.forehead: 1.0 mm is deeper than the forehead limit of 0.75 mm",
        "hint: to record it anyway, the practitioner gives a written reason: --override REASON",
    ]
    assert session_counts(engine) == before
    code, out, _ = run("sessions", "record", str(file), "--override", "deep acne scars")
    assert code == 0
    assert events(engine)[-1].action == "session.override"


def test_signing_an_incomplete_session_needs_a_reason(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient, practitioner = clinic_with_patient(engine)
    file = session_file(tmp_path, patient, practitioner, products=[{"product": "ha_skin_booster"}])
    code, out, err = run("sessions", "record", str(file))
    assert code == 0
    assert "to complete before signing: products[0]: the lot number" in err
    session_id = out.split()[2]
    code, _, err = run("sessions", "sign", session_id)
    assert code == 2
    assert err.splitlines()[-1].startswith("hint: complete the record, or sign with")
    code, out, _ = run("sessions", "sign", session_id, "--reason", "vial label unreadable")
    assert (code, out.endswith(", with 2 gaps explained\n")) == (0, True)


def test_a_bad_session_file_exits_2_with_one_located_line_per_problem(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient, practitioner = clinic_with_patient(engine)
    file = session_file(
        tmp_path, patient, practitioner,
        performed_at="2026-11-02T10:30:00", modality="laser", areas=["cheeks", "elbow"],
        injection_points=[{"area": "cheeks", "x": 1.5, "y": 0.2}],
    )  # fmt: skip
    before = session_counts(engine)
    code, out, err = run("sessions", "record", str(file))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"error: {file}: performed_at: Input should have timezone info",
        f"error: {file}: modality: Input should be 'mesotherapy', 'microneedling' or 'combined'",
        f"error: {file}: injection_points[0].x: Input should be less than or equal to 1",
    ]
    file = session_file(tmp_path, patient, practitioner, areas=["cheeks", "elbow"])
    code, _, err = run("sessions", "record", str(file))
    assert code == 2
    assert err.splitlines() == [
        f"error: {file}: areas[1]: unknown area 'elbow'",
        f"error: {file}: depths_mm: 'forehead' is not one of the session's areas",
        f"error: {file}: passes: 'forehead' is not one of the session's areas",
        f"error: {file}: products[0].volumes_ml: 'forehead' is not one of the session's areas",
    ]
    missing = str(uuid.uuid4())
    file = session_file(tmp_path, missing, practitioner)
    assert run("sessions", "record", str(file)) == (
        2,
        "",
        f"error: patient: no patient {missing}\n",
    )
    assert session_counts(engine) == before


def test_consult_save_stores_the_plan_byte_for_byte(database: str, engine: Engine) -> None:
    patient = add("--family-name", "Moreau")
    example = str(EXAMPLES / "01-acne-scars-dehydration.yaml")
    code, out, err = run("consult", example, "--format", "json", "--save", patient)
    assert code == 0
    found = re.fullmatch(f"saved consult ({UUID}) \\(draft\\) for patient {patient}\n", err)
    assert found is not None, err
    with transaction(engine, write=False) as session:
        stored = session.get_one(Consult, uuid.UUID(found.group(1)))
        assert stored.plan_json == out
        assert str(stored.patient_id) == patient
    before = counts(engine)
    missing = str(uuid.uuid4())
    code, out, err = run("consult", example, "--format", "json", "--save", missing)
    assert (code, out, err) == (2, "", f"error: no patient {missing}\n")
    assert counts(engine) == before


def test_backup_and_restore_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DERMAPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'live.db'}")
    monkeypatch.setenv("DERMAPLAN_HOME", str(tmp_path / "data"))
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    start_clinic(monkeypatch)
    added = runner.invoke(app, ["patients", "add", "--family-name", "Kept"])
    assert added.exit_code == 0, added.stderr
    photo = tmp_path / "face.png"
    photo.write_bytes(image_bytes())
    options = ["--area", "cheeks", "--angle", "frontal", "--stage", "before"]
    taken = runner.invoke(app, ["photos", "add", added.stdout.split()[1], str(photo), *options])
    assert taken.exit_code == 0, taken.stderr
    stored = {p.name: p.read_bytes() for p in (tmp_path / "data" / "photos").rglob("*.png")}
    saved = tmp_path / "saved.backup"
    made = runner.invoke(app, ["--as", "Nadia Belkacem", "backup", str(saved)])
    assert made.exit_code == 0, made.stderr
    assert made.stdout.startswith(f"ok: {saved}")
    assert made.stdout.endswith(f"1 photo files in {saved}.photos\n")
    shutil.rmtree(tmp_path / "data" / "photos")  # as on a new machine
    again = runner.invoke(app, ["--as", "Nadia Belkacem", "backup", str(saved)])
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    runner.invoke(app, ["patients", "add", "--family-name", "Later"])
    unconfirmed = runner.invoke(app, ["--as", "Nadia Belkacem", "restore", str(saved)])
    assert unconfirmed.exit_code == 2
    assert "add --yes" in unconfirmed.stderr
    restored = runner.invoke(app, ["--as", "Nadia Belkacem", "restore", str(saved), "--yes"])
    assert restored.exit_code == 0, restored.stderr
    assert "1 photo files, checked; 1 copied into the storage" in restored.stdout
    assert "kept as" in restored.stdout
    back = {p.name: p.read_bytes() for p in (tmp_path / "data" / "photos").rglob("*.png")}
    assert back == stored
    verified = runner.invoke(
        app, ["--as", "Nadia Belkacem", *["audit", "verify"]]
    )  # anchored to the restored head
    assert verified.exit_code == 0, verified.stderr
    assert verified.stdout.startswith("ok: 5 events in 1 chain, intact, 1 anchored,")
    listed = runner.invoke(app, ["patients", "list"])
    assert "Kept" in listed.stdout
    assert "Later" not in listed.stdout
    garbage = tmp_path / "garbage.backup"
    garbage.write_text("not a database")
    refused = runner.invoke(app, ["restore", str(garbage), "--yes"])
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: ")


def test_a_saved_consult_is_approved_and_starts_a_course(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient, practitioner = clinic_with_patient(engine)
    example = EXAMPLES / "02-stretch-marks-microneedling.yaml"
    code, _, err = run("consult", str(example), "--format", "json", "--save", patient)
    assert code == 0, err
    saved = re.search(f"saved consult ({UUID})", err)
    assert saved is not None, err
    consult_id = saved.group(1)
    refused = run("courses", "start", consult_id, "microneedling")
    assert refused[0] == 2  # a draft plan starts no course
    assert run("consults", "approve", consult_id) == (
        0,
        f"approved consult {consult_id} by {practitioner}\n",
        "",
    )
    code, out, err = run("courses", "start", consult_id, "microneedling")
    assert code == 0, err
    assert "microneedling  planned" in out
    again = run("consults", "approve", consult_id)
    assert again[0] == 2
    assert "error:" in again[2]


def test_a_session_under_a_course_fulfils_it_and_cannot_be_linked_twice(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    patient, practitioner = clinic_with_patient(engine)
    example = EXAMPLES / "02-stretch-marks-microneedling.yaml"
    code, _, err = run("consult", str(example), "--format", "json", "--save", patient)
    saved = re.search(f"saved consult ({UUID})", err)
    assert saved is not None, err
    consult_id = saved.group(1)
    assert run("consults", "approve", consult_id)[0] == 0
    code, out, err = run("courses", "start", consult_id, "microneedling")
    assert code == 0, err
    course_id = out.split()[1]
    file = session_file(tmp_path, patient, practitioner, consult=consult_id)
    code, out, err = run("sessions", "record", str(file))
    assert code == 0, err
    found = re.fullmatch(
        f"recorded session ({UUID}) \\(draft\\)\nit fulfils planned session 1 of course "
        f"{course_id}\n",
        out,
    )
    assert found is not None, out
    treated = found.group(1)
    code, out, _ = run("courses", "show", course_id)
    assert re.search(f"\n  1  \\S+  done: session {treated}\n  2  \\S+  to do\n", out), out
    before = len(events(engine))
    assert run("courses", "fulfil", course_id, "2", treated) == (
        2,
        "",
        f"error: session {treated} already fulfils planned session 1 of course {course_id}\n",
    )
    assert len(events(engine)) == before


def test_consult_save_counts_the_sessions_on_record_against_a_labels_total(
    database: str, engine: Engine, tmp_path: Path
) -> None:
    """Six deoxycholic acid sessions on the record use up the label's total: the consult
    stored for the patient proposes no more, though its file lists no earlier procedure."""
    patient, practitioner = clinic_with_patient(engine)
    for month in range(5, 11):
        file = session_file(
            tmp_path,
            patient,
            practitioner,
            performed_at=f"2026-{month:02d}-04T10:00:00+00:00",
            modality="mesotherapy",
            areas=["submental"],
            depths_mm={},
            passes={},
            injection_points=[],
            deviations=[],
            products=[
                {
                    "product": "deoxycholic_acid_10mg_ml",
                    "lot": "DC100",
                    "expiry": "2027-06-30",
                    "volumes_ml": {"submental": 4.0},
                }
            ],
        )
        code, _, err = run("sessions", "record", str(file))
        assert code == 0, err
    example = str(EXAMPLES / "09-submental-fat-deoxycholic.yaml")
    code, out, err = run("consult", example, "--format", "json", "--save", patient)
    assert code == 0, err
    plan = json.loads(out)
    meso = next(d for d in plan["decisions"] if d["modality"] == "mesotherapy")
    assert meso["decision"] == "contraindicated"
    assert any("6 were given before" in r["text"] for r in meso["reasons"])
    assert err.count("from the patient's record: procedures: deoxycholic_acid on 2026-") == 6


def test_lists_and_records_come_as_json_for_programs(database: str) -> None:
    moreau = add("--family-name", "Moreau", "--given-names", "Claire")
    code, out, _ = run("patients", "list", "--format", "json")
    assert code == 0
    [line] = json.loads(out)
    assert line == {
        "id": moreau,
        "family_name": "Moreau",
        "given_names": "Claire",
        "birth_date": None,
        "deleted": False,
    }
    assert json.loads(run("patients", "search", "zz", "-f", "json")[1]) == []
    staff = json.loads(run("staff", "list", "-f", "json")[1])
    assert sorted(member["role"] for member in staff) == ["admin", "practitioner"]
    assert json.loads(run("consults", "list", moreau, "-f", "json")[1]) == []
    clinic = json.loads(run("clinic", "show", "-f", "json")[1])
    assert clinic["time_zone"] == "UTC"


def test_audit_verify_warns_when_the_log_is_ahead_of_its_anchor(
    database: str, tmp_path: Path
) -> None:
    """An anchor put back to an earlier copy (or left behind by a crash): a warning naming
    the chain, and still ok."""
    anchor = tmp_path / "data" / "audit-head.json"
    add("--family-name", "Moreau")
    earlier = anchor.read_bytes()
    add("--family-name", "Ravel")
    anchor.write_bytes(earlier)
    code, out, err = as_admin("audit", "verify")
    assert code == 0
    assert out.startswith("ok: 5 events in 1 chain, intact, 1 anchored,")
    assert re.fullmatch(
        r"warning: clinic \S+ lane 0: events 5 to 5 are not in the anchor "
        f"{re.escape(str(anchor))}, which records event 4 " + r"\(written \S+\): a crash "
        "between a commit and the anchor's write leaves this, and so does an anchor put back "
        "to an earlier copy; the chain's next change anchors it\n",
        err,
    ), err


def test_audit_rotate_key_is_an_admins_and_the_log_verifies_across_it(
    database: str, tmp_path: Path
) -> None:
    keyring = tmp_path / "data" / "audit-keyring.json"
    add("--family-name", "Moreau")
    code, out, err = run("audit", "rotate-key")  # the practitioner acting
    assert (code, out) == (2, "")
    assert "may not; it needs admin" in err
    code, out, err = as_admin("audit", "rotate-key")
    assert (code, err) == (0, "")
    first, current = (key.id for key in KeyringFile(keyring).require().keys)
    assert out == (
        f"ok: the audit key {current} signs from now on; {first} is retired and kept to "
        f"verify what it signed (2 keys in {keyring}: back it up again)\n"
    )
    add("--family-name", "Ravel")
    code, out, err = as_admin("audit", "verify")
    assert (code, err) == (0, "")
    assert out.startswith("ok: 6 events in 1 chain, intact, 1 anchored,")


ANY_ID = "0190a3c4-9f0e-7a00-8000-000000000001"
# every command that reads a file (or a photo) given for a use case, with that file
FILE_COMMANDS = [
    ["adverse-events", "record", "{F}"],
    ["adverse-events", "follow-up", ANY_ID, "{F}", "--reason", "later"],
    ["consents", "sign", "{F}"],
    ["outcomes", "record", "{F}"],
    ["sessions", "record", "{F}"],
    ["sessions", "revise", ANY_ID, "{F}"],
    ["sessions", "amend", ANY_ID, "{F}", "--reason", "typo"],
    ["photos", "add", ANY_ID, "{F}", "--area", "cheeks", "--angle", "frontal", "--stage", "before"],
    ["consults", "correct", ANY_ID, "{F}", "--reason", "typo"],
    ["consult", "{F}", "--save", ANY_ID],
    ["patients", "add", "--file", "{F}"],
    ["patients", "update", ANY_ID, "--file", "{F}"],
]


@pytest.mark.parametrize("command", FILE_COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("present", [True, False], ids=["broken-file", "missing-file"])
def test_a_member_who_may_not_is_refused_before_the_file_is_read(
    command: list[str], present: bool, admin: str, tmp_path: Path
) -> None:
    """The clinic's admin may call none of these: refused, and told nothing of the file
    (neither that it is missing nor what is wrong in it), as the web refuses before it
    checks a form."""
    given = tmp_path / "secret-name.yaml"
    if present:
        given.write_text("family_name: [unclosed\n")
    arguments = [given.as_posix() if part == "{F}" else part for part in command]
    code, out, err = run("--as", admin, *arguments)
    assert code == 2, (out, err)
    assert "Nadia Belkacem (admin) may not" in err
    assert "secret-name" not in err + out
    assert err.count("error:") == 1


def test_a_command_asked_first_opens_the_records_once(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check before the input is read and the use case after it share one opening of
    the records (their schema, interrupted restore and anchor checked once)."""
    from dermaplan.records import db

    opened: list[object] = []
    real = db.open_records

    def counted(settings: object) -> object:
        opened.append(settings)
        return real(settings)  # type: ignore[arg-type]

    monkeypatch.setattr(db, "open_records", counted)
    code, _, err = run("patients", "add", "--family-name", "Once", "--sex", "female")
    assert (code, err) == (0, "")
    assert len(opened) == 1
