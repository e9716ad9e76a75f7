"""Patients: every access audited, validation with located messages, indexed prefix search."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, Select, text
from sqlalchemy.orm import Session

from dermaplan.records import service
from dermaplan.records.audit import digest
from dermaplan.records.db import transaction
from dermaplan.records.errors import InvalidInput, NotFound
from dermaplan.records.lanes import hold_changes
from dermaplan.records.models import Patient
from dermaplan.records.names import search_key
from dermaplan.records.repository import PatientRepository
from dermaplan.records.schemas import PatientData
from tests.records.factories import (
    NOW,
    add_patient,
    context,
    counts,
    events,
    make_clinic,
    patient_data,
)


def test_create_read_update_delete_each_write_one_event(
    engine: Engine, clinic_id: uuid.UUID
) -> None:
    patient_id = add_patient(engine, clinic_id, allergies=["Lidocaine", "lidocaine "])
    with transaction(engine) as session:
        read = service.read_patient(session, context("staff:reader"), clinic_id, patient_id)
        assert read.allergies == ["lidocaine"]
        service.update_patient(session, context(), clinic_id, patient_id, {"email": "c@m.fr"})
        service.delete_patient(session, context(), clinic_id, patient_id, "entered twice")
    log = events(engine)[1:]  # after the clinic's creation
    assert [(e.action, e.record_type, e.record_id, e.patient_id) for e in log] == [
        (action, "patient", str(patient_id), patient_id)
        for action in ("patient.create", "patient.read", "patient.update", "patient.delete")
    ]
    create, read_event, update, delete = log
    assert create.before_digest is None
    assert read_event.actor == "staff:reader"
    assert update.before_digest == create.after_digest
    assert delete.before_digest == update.after_digest != delete.after_digest
    assert all(event.occurred_at == NOW for event in log)


def test_an_update_sets_identifiers_by_system_and_is_validated_whole(
    engine: Engine, clinic_id: uuid.UUID
) -> None:
    patient_id = add_patient(engine, clinic_id, identifiers={"chart": "1042", "old": "7"})
    with transaction(engine) as session:
        changes = {"identifiers": {"nhs": "943 476 5919", "old": None}}
        patient = service.update_patient(session, context(), clinic_id, patient_id, changes)
        assert patient.identifiers == {"chart": "1042", "nhs": "943 476 5919"}
    bad = {"identifiers": {"Bad System": "1"}, "email": "nope"}
    with transaction(engine) as session, pytest.raises(InvalidInput) as refused:
        service.update_patient(session, context(), clinic_id, patient_id, bad)
    assert [problem.split(":")[0] for problem in refused.value.problems] == [
        "email",
        "identifiers",
    ]
    with transaction(engine, write=False) as session:
        kept = PatientRepository(session, clinic_id).get(patient_id)
        assert kept is not None
        assert (kept.identifiers, kept.email) == ({"chart": "1042", "nhs": "943 476 5919"}, None)


def test_the_audited_digest_is_the_state_committed(engine: Engine, clinic_id: uuid.UUID) -> None:
    patient_id = add_patient(engine, clinic_id, history={"last_peel": dt.date(2026, 1, 5)})
    with transaction(engine, write=False) as session:
        patient = PatientRepository(session, clinic_id).get(patient_id)
        assert patient is not None
        assert digest(service.patient_state(patient)) == events(engine)[-1].after_digest
        assert patient.history == {"last_peel": "2026-01-05"}
        assert patient.created_at == NOW


def test_a_soft_deleted_patient_stays_readable_but_leaves_lists(
    engine: Engine, clinic_id: uuid.UUID
) -> None:
    deleted = add_patient(engine, clinic_id)
    kept = add_patient(engine, clinic_id, family_name="Ravel")
    with transaction(engine) as session:
        service.delete_patient(session, context(), clinic_id, deleted, "  entered twice  ")
    with transaction(engine) as session:
        assert service.search_patients(session, context(), clinic_id, "moreau") == []
        assert [p.id for p in service.list_patients(session, context(), clinic_id)] == [kept]
        everyone = service.list_patients(session, context(), clinic_id, include_deleted=True)
        assert [p.id for p in everyone] == [deleted, kept]
        record = service.read_patient(session, context(), clinic_id, deleted)
        assert (record.deletion_reason, record.deleted_by) == ("entered twice", "staff:test")
        with pytest.raises(NotFound):
            service.update_patient(session, context(), clinic_id, deleted, {"phone": "0102"})
        with pytest.raises(InvalidInput, match="needs a reason"):
            service.delete_patient(session, context(), clinic_id, kept, " ")


def test_another_clinics_patient_is_not_found(engine: Engine, clinic_id: uuid.UUID) -> None:
    patient_id = add_patient(engine, clinic_id)
    with transaction(engine) as session:
        other = service.create_clinic(session, context(), "Other clinic").id
    before = counts(engine)
    with pytest.raises(NotFound, match=str(patient_id)), transaction(engine) as session:
        service.read_patient(session, context(), other, patient_id)
    assert counts(engine) == before


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"family_name": "  "}, "family_name: must not be empty"),
        ({"family_name": "--"}, "family_name: needs at least one letter or digit"),
        ({"birth_date": "1990-02-30"}, "birth_date: '1990-02-30' is not a date (YYYY-MM-DD)"),
        ({"birth_date": 19900101}, "birth_date: a date is expected (YYYY-MM-DD)"),
        ({"sex": "f"}, "sex: Input should be 'female', 'male' or 'intersex'"),
        ({"email": "claire.moreau"}, "email: 'claire.moreau' is not an e-mail address"),
        ({"phone": "call me"}, "phone: 'call me' is not a phone number"),
        ({"identifiers": {"Chart No": "1"}}, "identifiers: 'Chart No' is not an identifier"),
        ({"allergies": [""]}, "allergies[0]: String should have at least 1 character"),
        (
            {"given_names": "A\x00"},
            "given_names: control character U+0000 at character 2 is not allowed",
        ),
        ({"nickname": "Cl"}, "nickname: Extra inputs are not permitted"),
    ],
)
def test_bad_fields_get_one_located_line_each(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        PatientData.parse({"family_name": "Moreau"} | fields)
    assert len(raised.value.problems) == 1
    assert raised.value.problems[0].startswith(problem)


@pytest.mark.parametrize(
    ("birth_date", "problem"),
    [("2026-11-03", "is in the future"), ("1890-01-01", "more than 130 years ago")],
)
def test_impossible_birth_dates_are_refused_and_nothing_written(
    engine: Engine, clinic_id: uuid.UUID, birth_date: str, problem: str
) -> None:
    before = counts(engine)
    with pytest.raises(InvalidInput, match=problem):
        add_patient(engine, clinic_id, birth_date=birth_date)
    assert counts(engine) == before


def test_an_update_is_validated_whole(engine: Engine, clinic_id: uuid.UUID) -> None:
    patient_id = add_patient(engine, clinic_id)
    before = counts(engine)
    with pytest.raises(InvalidInput, match="email"), transaction(engine) as session:
        service.update_patient(session, context(), clinic_id, patient_id, {"email": "nope"})
    assert counts(engine) == before


NAMES = [
    ("Moreau", "Claire"),
    ("moreau", "Anne"),
    ("Morel", "Jean"),
    ("Müller", "Jürgen"),
    ("O'Brien", "Siobhán"),
    ("Núñez-García", "Lucía"),
    ("Mo%_", "Edge"),
    ("Zhang", "Wei"),
]


def test_search_is_by_prefix_ignoring_case_and_accents(
    engine: Engine, clinic_id: uuid.UUID
) -> None:
    ids = {
        name: add_patient(engine, clinic_id, family_name=name[0], given_names=name[1])
        for name in NAMES
    }
    with transaction(engine) as session:

        def found(query: str) -> list[tuple[str, str]]:
            patients = service.search_patients(session, context(), clinic_id, query)
            return [(p.family_name, p.given_names) for p in patients]

        assert found("MOREAU") == [("moreau", "Anne"), ("Moreau", "Claire")]
        assert found("moreau c") == [("Moreau", "Claire")]
        assert found("more") == [("moreau", "Anne"), ("Moreau", "Claire"), ("Morel", "Jean")]
        assert found("mull") == [("Müller", "Jürgen")]
        assert found("obri") == [("O'Brien", "Siobhán")]
        assert found("nunez garcia l") == [("Núñez-García", "Lucía")]
        assert found("m%eau") == []  # punctuation is a space in a key, never a LIKE wildcard
        assert found("mo e") == [("Mo%_", "Edge")]
        assert found("x") == []
        assert [
            p.id for p in service.search_patients(session, context(), clinic_id, "m", limit=2)
        ] == [
            ids[("Mo%_", "Edge")],
            ids[("moreau", "Anne")],
        ]
        with pytest.raises(InvalidInput, match="at least one letter"):
            service.search_patients(session, context(), clinic_id, " - ")
    search = events(engine)[-1]
    assert (search.action, search.record_id, search.patient_id) == ("patient.search", None, None)


def test_search_uses_the_name_index(engine: Engine, clinic_id: uuid.UUID, backend: str) -> None:
    for n in range(30):
        add_patient(engine, clinic_id, family_name=f"Name{n:03d}")
    with transaction(engine) as session:
        statement = PatientRepository(session, clinic_id).search_statement("name01").limit(20)
        compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        if backend == "sqlite":
            rows = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            plan = " ".join(str(row[-1]) for row in rows)
            index = "ix_patient_search_name (clinic_id=? AND search_name>? AND search_name<?)"
            assert f"USING INDEX {index}" in plan
            assert "TEMP B-TREE" not in plan  # the index gives the order: no sort
        else:
            plan = _postgresql_generic_plan(session, statement)
            assert "Index Scan using ix_patient_search_name" in plan
            condition = re.search(r"Index Cond: (.*?\)\))  ", plan)
            assert condition is not None, plan
            assert "search_name)::text >= ($2)" in condition.group(1)
            assert "search_name)::text < ($3)" in condition.group(1)


def _postgresql_generic_plan(session: Session, statement: Select[Patient]) -> str:
    """The plan PostgreSQL reuses for any parameter values (a prepared statement's)."""
    compiled = statement.compile(session.get_bind())
    names = list(compiled.params)
    sql = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", str(compiled))
    session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: force it
    session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    session.execute(text(f"PREPARE search AS {sql}"))
    values = ", ".join(f"'{compiled.params[name]}'" for name in names)
    rows = session.execute(text(f"EXPLAIN EXECUTE search({values})"))
    session.execute(text("DEALLOCATE search"))
    return " ".join(row[0] for row in rows)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(st.text(min_size=1, max_size=12).filter(search_key), min_size=1, max_size=6),
    query=st.text(min_size=1, max_size=4).filter(search_key),
)
def test_search_finds_exactly_the_names_with_that_key_prefix(
    engine: Engine, names: list[str], query: str
) -> None:
    """The key range on the database equals a plain startswith in Python, for any text."""
    clinic_id = make_clinic(engine)
    stored = []
    for name in names:
        try:
            data = patient_data(family_name=name)
        except InvalidInput:  # e.g. control characters: refused, not this property
            continue
        with transaction(engine) as session:
            stored.append(service.create_patient(session, context(), clinic_id, data).family_name)
    key = search_key(query)
    expected = sorted(name for name in stored if search_key(name).startswith(key))
    with transaction(engine) as session:
        found = service.search_patients(session, context(), clinic_id, query, limit=100)
    assert sorted(p.family_name for p in found) == expected


def test_concurrent_updates_lose_nothing(engine: Engine, clinic_id: uuid.UUID) -> None:
    """Each writer holds the clinic's change lane, as a unit of work that changes records
    does, then reads the allergies and adds one; serialised writers keep them all."""
    patient_id = add_patient(engine, clinic_id, allergies=[])

    def add_allergies(writer: int) -> None:
        for n in range(10):
            with transaction(engine) as session:
                hold_changes(session, clinic_id)
                patient = PatientRepository(session, clinic_id).get(patient_id)
                assert patient is not None
                allergies = [*(patient.allergies or []), f"allergen {writer}-{n}"]
                service.update_patient(
                    session, context(), clinic_id, patient_id, {"allergies": allergies}
                )

    threads = [threading.Thread(target=add_allergies, args=(writer,)) for writer in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with transaction(engine, write=False) as session:
        patient = PatientRepository(session, clinic_id).get(patient_id)
        assert patient is not None
        assert len(patient.allergies or []) == 20


def test_unknown_patients_are_not_found(engine: Engine, clinic_id: uuid.UUID) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFound, match=f"no patient {missing}"), transaction(engine) as session:
        service.read_patient(session, context(), clinic_id, missing)


def test_patient_data_round_trips(engine: Engine, clinic_id: uuid.UUID) -> None:
    data = patient_data(
        birth_date="1988-04-12",
        sex="female",
        email="claire@example.org",
        phone="+33 6 12 34 56 78",
        identifiers={"chart": "1042", "fr.nir": "2880475123456"},
        allergies=None,
        history={"conditions": {"herpes_labialis": True}},
    )
    with transaction(engine) as session:
        patient_id = service.create_patient(session, context(), clinic_id, data).id
    with transaction(engine) as session:
        patient = service.read_patient(session, context(), clinic_id, patient_id)
        assert service.patient_data(patient) == data
        assert patient.search_name == "moreau claire"
