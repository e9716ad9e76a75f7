"""Adverse events: recorded with their lots, frozen once closed (service and triggers),
followed up by new versions, reported without identifying the patient; all audited."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from dermaplan.knowledge import KnowledgeBase
from dermaplan.records import adverse, sessions
from dermaplan.records.db import transaction
from dermaplan.records.enums import AdverseEventStatus
from dermaplan.records.errors import ImmutableRecord, InvalidInput, NotFound
from dermaplan.records.models import AdverseEvent
from dermaplan.records.schemas import AdverseEventData
from tests.records.factories import (
    add_patient,
    context,
    events,
    make_practitioner,
    session_data,
)


@pytest.fixture
def practitioner_id(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    return make_practitioner(engine, clinic_id)


@pytest.fixture
def patient_id(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    return add_patient(
        engine, clinic_id, allergies=[], birth_date="1988-04-12", sex="female",
        email="claire@example.org", phone="+33 6 12 34 56 78", identifiers={"chart": "1042"},
    )  # fmt: skip


@pytest.fixture
def session_id(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> uuid.UUID:  # fmt: skip
    data = session_data(kb, patient_id, practitioner_id)
    with transaction(engine) as session:
        return sessions.record_session(session, context(), clinic_id, data, kb).id


def event_fields(patient_id: uuid.UUID, reporter_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
    return {
        "patient": str(patient_id),
        "type": "bruising",
        "severity": "moderate",
        "onset": "2026-11-02",
        "causality": "probable",
        "treatment": "arnica, cold compresses",
        "outcome": "recovering",
        "description": "Bruising of both cheeks the evening after the session.",
        "reporter": str(reporter_id),
        "lots": [{"product": "ha_skin_booster", "lot": "HB2391", "expiry": "2027-03-31"}],
    } | fields


def record(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, reporter_id: uuid.UUID,
    **fields: Any,
) -> uuid.UUID:  # fmt: skip
    data = AdverseEventData.parse(event_fields(patient_id, reporter_id, **fields))
    with transaction(engine) as session:
        return adverse.record_adverse_event(session, context(), clinic_id, data).id


def event_count(engine: Engine) -> int:
    with transaction(engine, write=False) as session:
        return session.scalar(select(func.count()).select_from(AdverseEvent)) or 0


def test_an_event_is_recorded_with_its_session_and_lots_and_audited(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID,
    session_id: uuid.UUID,
) -> None:  # fmt: skip
    event_id = record(
        engine, clinic_id, patient_id, practitioner_id, session=str(session_id),
        lots=[
            {"product": "ha_skin_booster", "lot": "HB2391"},  # known from the session
            {"product": "Lidocaine cream", "lot": "LC7", "expiry": "2028-01-31"},
        ],
    )  # fmt: skip
    with transaction(engine, write=False) as session:
        [stored] = adverse.adverse_event_history(session, clinic_id, event_id)
        assert stored.status is AdverseEventStatus.OPEN
        assert stored.session_id == session_id
        assert [(lot.lot_number, str(lot.expiry_date)) for lot in stored.lots] == [
            ("LC7", "2028-01-31"),
            ("HB2391", "2027-03-31"),
        ]
    assert [e.action for e in events(engine)][-2:] == ["lot.create", "adverse_event.create"]
    assert events(engine)[-1].record_id == str(event_id)


def test_bad_references_and_dates_are_refused_with_nothing_written(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID,
    session_id: uuid.UUID,
) -> None:  # fmt: skip
    before = (event_count(engine), len(events(engine)))
    with pytest.raises(NotFound, match="patient: no patient"):
        record(engine, clinic_id, uuid.uuid4(), practitioner_id)
    with pytest.raises(NotFound, match="reporter: no member of staff"):
        record(engine, clinic_id, patient_id, uuid.uuid4())
    with pytest.raises(InvalidInput, match="reporter: give the member of staff"):
        record(engine, clinic_id, patient_id, practitioner_id, reporter=None)
    with pytest.raises(InvalidInput, match=r"onset: 2026-11-01 is before the session"):
        record(engine, clinic_id, patient_id, practitioner_id, session=str(session_id),
               onset="2026-11-01")  # fmt: skip
    other_expiry = [{"product": "ha_skin_booster", "lot": "HB2391", "expiry": "2030-01-01"}]
    with pytest.raises(InvalidInput, match=r"lots\[0\]\.expiry: lot HB2391"):
        record(engine, clinic_id, patient_id, practitioner_id, lots=other_expiry)
    assert (event_count(engine), len(events(engine))) == before


def test_the_file_is_validated_against_the_vocabularies(practitioner_id: uuid.UUID) -> None:
    fields = event_fields(
        uuid.uuid4(), practitioner_id, type="rash", severity="awful", causality="likely",
        outcome="fine", onset="02/11/2026",
    )  # fmt: skip
    with pytest.raises(InvalidInput) as raised:
        AdverseEventData.parse(fields, where="ae.yaml: ")
    located = [problem.split(":")[1].strip() for problem in raised.value.problems]
    assert located == ["type", "severity", "onset", "causality", "outcome"]


def test_a_closed_event_cannot_change_even_by_hand_typed_sql(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    event_id = record(engine, clinic_id, patient_id, practitioner_id)
    with transaction(engine) as session:
        closed = adverse.close_adverse_event(session, context(), clinic_id, event_id)
        assert closed.status is AdverseEventStatus.CLOSED
    assert events(engine)[-1].action == "adverse_event.close"
    with pytest.raises(ImmutableRecord, match="record a follow-up"), transaction(engine) as s:
        adverse.close_adverse_event(s, context(), clinic_id, event_id)
    for statement in (
        "UPDATE adverse_event SET outcome = 'recovered'",
        "UPDATE adverse_event SET status = 'open', closed_at = NULL",
        "DELETE FROM adverse_event",
        "DELETE FROM adverse_event_lot",
        "UPDATE adverse_event_lot SET lot_id = lot_id",
        f"INSERT INTO adverse_event_lot (adverse_event_id, lot_id) "
        f"SELECT '{event_id.hex}', id FROM product_lot",
    ):
        with (
            pytest.raises(DBAPIError, match="closed adverse event is immutable"),
            engine.begin() as connection,
        ):
            connection.execute(text(statement))
    with transaction(engine, write=False) as session:
        [stored] = adverse.adverse_event_history(session, clinic_id, event_id)
        assert (stored.outcome.value, len(stored.lots)) == ("recovering", 1)


def test_a_follow_up_is_a_new_version_and_the_old_one_is_kept(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    original = record(engine, clinic_id, patient_id, practitioner_id, closed=True)
    later = AdverseEventData.parse(
        event_fields(patient_id, practitioner_id, outcome="recovered", closed=True)
    )
    with pytest.raises(InvalidInput, match="needs a reason"), transaction(engine) as session:
        adverse.follow_up_adverse_event(session, context(), clinic_id, original, later, " ")
    with transaction(engine) as session:
        newer = adverse.follow_up_adverse_event(
            session, context(), clinic_id, original, later, "resolved at two weeks"
        ).id
    with pytest.raises(InvalidInput, match="already followed up"), transaction(engine) as s:
        adverse.follow_up_adverse_event(s, context(), clinic_id, original, later, "again")
    with transaction(engine, write=False) as session:
        versions = adverse.adverse_event_history(session, clinic_id, newer)
        assert [(v.id, v.status.value) for v in versions] == [
            (original, "superseded"),
            (newer, "closed"),
        ]
        assert versions[1].follow_up_reason == "resolved at two weeks"
        assert len(versions[1].lots) == 1
    assert [e.action for e in events(engine)][-3:] == [
        "adverse_event.create",
        "adverse_event.close",
        "adverse_event.supersede",
    ]


def test_the_report_identifies_the_patient_by_initials_age_and_sex_only(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID,
    session_id: uuid.UUID,
) -> None:  # fmt: skip
    event_id = record(
        engine, clinic_id, patient_id, practitioner_id, session=str(session_id),
        description="Claire Moreau (chart 1042, claire@example.org) called: bruised cheeks.",
    )  # fmt: skip
    with transaction(engine) as session:
        report = adverse.adverse_event_report(session, context(), clinic_id, event_id)
    assert report["patient"] == {"initials": "C.M.", "age_at_onset": 38, "sex": "female"}
    assert report["products"] == [
        {"product": "ha_skin_booster", "lot": "HB2391", "expiry": "2027-03-31"}
    ]
    assert report["event"]["causality"] == "probable"
    assert report["event"]["outcome"] == "recovering"
    assert report["treatment_session"]["modality"] == "microneedling"
    assert report["reported_by"]["reporter"] == "Dr Ana Lima"
    everything = json.dumps(report) + adverse.report_text(report)
    # record ids and digests are opaque hex: by chance they hold any four digits
    everything = re.sub(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{64}", "", everything)
    for secret in ("Claire", "Moreau", "claire@example.org", "+33 6 12", "1042", "1988"):
        assert secret.casefold() not in everything.casefold()
    assert "[patient] [patient] (chart [patient], [patient])" in report["event"]["description"]
    assert "lot HB2391  expiry 2027-03-31" in adverse.report_text(report)
    last = events(engine)[-1]
    assert (last.action, last.patient_id) == ("adverse_event.report", patient_id)


def test_the_report_leaves_out_the_patient_however_the_text_spells_them(
    engine: Engine, clinic_id: uuid.UUID, practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    """Only exact spellings used to be caught: "Nunez" for "Núñez", "Obrien", the birth date
    in another format, the phone without its country code, the identifier without spaces
    all reached the manufacturer, in the description, the treatment or a follow-up's reason."""
    patient = add_patient(
        engine, clinic_id, family_name="Núñez-O'Brien", given_names="María José",
        birth_date="1979-03-08", phone="+34 612 345 678", identifiers={"nhs": "943 476 5919"},
    )  # fmt: skip
    written = "Nunez and Obrien, born 08/03/1979 (8 March 1979), 0612345678, NHS 9434765919"
    first = record(engine, clinic_id, patient, practitioner_id, description=written)
    with transaction(engine) as session:
        data = AdverseEventData.parse(
            event_fields(patient, practitioner_id, treatment=f"cold compresses; {written}")
        )
        later = adverse.follow_up_adverse_event(
            session, context(), clinic_id, first, data, f"maria jose NUNEZ called ({written})"
        )
    with transaction(engine) as session:
        report = adverse.adverse_event_report(session, context(), clinic_id, later.id)
    everything = json.dumps(report, ensure_ascii=False) + adverse.report_text(report)
    for secret in ("Nunez", "Obrien", "María", "Maria", "José", "Jose", "1979", "8 March",
                   "612345678", "9434765919"):  # fmt: skip
        assert secret.casefold() not in everything.casefold(), secret
    assert report["patient"]["initials"] == "M.J.N.O.B."
    assert report["follow_up_reason"] == (
        "[patient] [patient] called ([patient] and [patient], born [patient] ([patient]), "
        "[patient], NHS [patient])"
    )


def test_another_clinics_event_is_not_found(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID, practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    from tests.records.factories import make_clinic

    event_id = record(engine, clinic_id, patient_id, practitioner_id)
    other = make_clinic(engine)
    with pytest.raises(NotFound), transaction(engine) as session:
        adverse.adverse_event_report(session, context(), other, event_id)
