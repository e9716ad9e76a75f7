"""A lot recall: exactly the current sessions that used the lot, with their patients, from
one indexed query, and the adverse events that involved it (their latest version)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, text

from dermaplan.knowledge import KnowledgeBase
from dermaplan.records import adverse, sessions
from dermaplan.records.db import transaction
from dermaplan.records.enums import AdverseEventStatus
from dermaplan.records.photos import PhotoStorage
from dermaplan.records.repository import LotRepository
from dermaplan.records.schemas import AdverseEventData
from tests.records.factories import (
    add_consent,
    add_patient,
    add_photos,
    context,
    events,
    make_clinic,
    make_practitioner,
    session_data,
)


def give(
    engine: Engine,
    kb: KnowledgeBase,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    *lots: tuple[str, str],
) -> uuid.UUID:
    """Record a mesotherapy session using each (product, lot)."""
    products = [
        {"product": product, "lot": lot, "expiry": "2027-06-30", "volumes_ml": {"cheeks": 1.0}}
        for product, lot in lots
    ]
    data = session_data(
        kb, patient_id, practitioner_id, modality="mesotherapy", areas=["cheeks"],
        depths_mm={}, passes={}, products=products,
    )  # fmt: skip
    with transaction(engine) as session:
        return sessions.record_session(session, context(), clinic_id, data, kb).id


def recall_all(engine: Engine, clinic_id: uuid.UUID, lot: str) -> sessions.Recall:
    with transaction(engine) as session:
        return sessions.recall_lot(session, context(), clinic_id, lot)


def recall(engine: Engine, clinic_id: uuid.UUID, lot: str) -> list[sessions.RecallLine]:
    return recall_all(engine, clinic_id, lot).sessions


def event_data(
    patient_id: uuid.UUID, reporter_id: uuid.UUID, *lots: str, **fields: object
) -> AdverseEventData:
    return AdverseEventData.parse(
        {
            "patient": str(patient_id), "type": "bruising", "severity": "mild",
            "onset": "2026-11-02", "causality": "probable", "outcome": "recovering",
            "description": "Bruises.", "reporter": str(reporter_id),
            "lots": [{"product": "ha_skin_booster", "lot": lot} for lot in lots],
        }
        | fields
    )  # fmt: skip


def test_recall_finds_exactly_the_sessions_that_used_the_lot(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase
) -> None:
    practitioner = make_practitioner(engine, clinic_id)
    claire = add_patient(engine, clinic_id, allergies=[])
    maurice = add_patient(engine, clinic_id, family_name="Ravel", given_names="Maurice")
    first = give(engine, kb, clinic_id, claire, practitioner, ("ha_skin_booster", "A1"))
    give(engine, kb, clinic_id, claire, practitioner, ("ha_skin_booster", "B2"))
    both = give(
        engine, kb, clinic_id, maurice, practitioner,
        ("txa_4mg_ml", "A1"), ("ha_skin_booster", "A1"),
    )  # fmt: skip
    elsewhere = make_clinic(engine)  # another clinic's lot with the same number
    give(
        engine, kb, elsewhere, add_patient(engine, elsewhere), make_practitioner(engine, elsewhere),
        ("ha_skin_booster", "A1"),
    )  # fmt: skip

    found = recall(engine, clinic_id, " A1 ")
    assert [(line.session_id, line.patient_name, line.product) for line in found] == [
        (first, "Moreau, Claire", "ha_skin_booster"),
        (both, "Ravel, Maurice", "txa_4mg_ml"),
        (both, "Ravel, Maurice", "ha_skin_booster"),
    ]
    assert {line.patient_id for line in found} == {claire, maurice}
    assert recall(engine, clinic_id, "Z9") == []
    audit = events(engine)[-1]
    assert (audit.action, audit.record_type) == ("lot.recall", "product_lot")


def test_an_amended_session_leaves_the_recall_of_the_lot_it_no_longer_names(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, storage: PhotoStorage
) -> None:
    practitioner = make_practitioner(engine, clinic_id)
    patient = add_patient(engine, clinic_id, allergies=[])
    add_consent(engine, clinic_id, patient, "treatment_mesotherapy")
    add_photos(engine, clinic_id, storage, patient, "cheeks")
    original = give(engine, kb, clinic_id, patient, practitioner, ("ha_skin_booster", "WRONG"))
    products = [{"product": "ha_skin_booster", "lot": "RIGHT", "expiry": "2027-06-30"}]
    data = session_data(
        kb, patient, practitioner, modality="mesotherapy", areas=["cheeks"], depths_mm={},
        passes={}, products=products,
    )  # fmt: skip
    with transaction(engine) as session:
        sessions.sign_session(session, context(), clinic_id, original, kb)
        amendment = sessions.amend_session(
            session, context(), clinic_id, original, data, kb, "lot misread"
        ).id
    assert [line.session_id for line in recall(engine, clinic_id, "WRONG")] == [original]
    with transaction(engine) as session:
        sessions.sign_session(session, context(), clinic_id, amendment, kb)
    assert recall(engine, clinic_id, "WRONG") == []
    assert [line.session_id for line in recall(engine, clinic_id, "RIGHT")] == [amendment]


def test_recall_lists_the_latest_version_of_each_adverse_event_that_involved_the_lot(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase
) -> None:
    practitioner = make_practitioner(engine, clinic_id)
    claire = add_patient(engine, clinic_id, allergies=[])
    maurice = add_patient(engine, clinic_id, family_name="Ravel", given_names="Maurice")
    give(engine, kb, clinic_id, claire, practitioner, ("ha_skin_booster", "A1"))
    with transaction(engine) as session:
        record = adverse.record_adverse_event
        followed = record(session, context(), clinic_id, event_data(claire, practitioner, "A1"))
        latest = adverse.follow_up_adverse_event(
            session, context(), clinic_id, followed.id,
            event_data(claire, practitioner, "A1", severity="moderate", closed=True),
            "worse on day 2",
        )  # fmt: skip
        misread = record(session, context(), clinic_id, event_data(maurice, practitioner, "A1"))
        adverse.follow_up_adverse_event(  # the lot was misread: no longer this lot's event
            session, context(), clinic_id, misread.id,
            event_data(maurice, practitioner, "B2"), "lot misread",
        )  # fmt: skip
        other = record(session, context(), clinic_id, event_data(maurice, practitioner, "A1", "C3"))
        record(session, context(), clinic_id, event_data(claire, practitioner, "C3"))

    found = recall_all(engine, clinic_id, "A1")
    assert [line.patient_id for line in found.sessions] == [claire]
    assert [
        (e.event.id, e.patient_name, e.event.severity.value, e.event.status)
        for e in found.adverse_events
    ] == [
        (latest.id, "Moreau, Claire", "moderate", AdverseEventStatus.CLOSED),
        (other.id, "Ravel, Maurice", "mild", AdverseEventStatus.OPEN),
    ]
    assert recall_all(engine, clinic_id, "B2").adverse_events[0].patient_name == "Ravel, Maurice"
    assert events(engine)[-1].action == "lot.recall"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_recall_is_one_query_through_the_indexes(engine: Engine, clinic_id: uuid.UUID) -> None:
    with transaction(engine, write=False) as session:
        statement = LotRepository(session, clinic_id).recall_statement("A1")
        compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        rows = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
        plan = [str(row[-1]) for row in rows]
    assert (
        "SEARCH product_lot USING INDEX ix_product_lot_lot_number (clinic_id=? AND lot_number=?)"
        in plan
    )
    assert "SEARCH session_product USING INDEX ix_session_product_lot_id (lot_id=?)" in plan
    assert not [step for step in plan if step.startswith("SCAN")], plan


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_adverse_events_of_a_lot_are_found_through_the_indexes(
    engine: Engine, clinic_id: uuid.UUID
) -> None:
    with transaction(engine, write=False) as session:
        statement = LotRepository(session, clinic_id).adverse_events_statement("A1")
        compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = [str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]
    assert (
        "SEARCH product_lot USING INDEX ix_product_lot_lot_number (clinic_id=? AND lot_number=?)"
        in plan
    )
    assert any("adverse_event_lot USING" in step and "lot_id=?" in step for step in plan), plan
    assert not [step for step in plan if step.startswith("SCAN")], plan
