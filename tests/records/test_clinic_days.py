"""A day means the clinic's day: its IANA time zone decides expiry, the same-day photo and
the consent's place before the session - never UTC's day nor an input file's offset."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event

from dermaplan.knowledge import KnowledgeBase
from dermaplan.records.db import transaction
from dermaplan.records.errors import InvalidInput
from dermaplan.records.photos import LocalFolderStorage
from dermaplan.records.safety import safety_refusals
from dermaplan.records.schemas import SessionData
from dermaplan.records.service import configure_clinic
from dermaplan.records.sessions import completeness, record_session
from tests.records.factories import (
    add_consent,
    add_patient,
    add_photos,
    context,
    make_practitioner,
    session_fields,
)

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize("written", ["2026-12-02T00:30:00+01:00", "2026-12-01T23:30:00+00:00"])
def test_the_same_instant_gives_the_same_expiry_whatever_its_offset(
    kb: KnowledgeBase, written: str
) -> None:
    """Half past midnight in Paris on 2 December: a lot that expired on 1 December is
    refused, however the file wrote the instant."""
    fields = session_fields(uuid.uuid4(), uuid.uuid4(), performed_at=written)
    fields["products"][0]["expiry"] = "2026-12-01"
    session = SessionData.parse(fields, kb)
    refusals = safety_refusals(session, kb, [], None, (), PARIS)
    assert [r.code for r in refusals] == ["expired_product"]
    assert "before the session (2026-12-02)" in refusals[0].message


def test_a_consent_signed_after_the_session_does_not_count_for_it(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, storage: LocalFolderStorage
) -> None:
    """In a UTC+10 clinic, a session at 11:00 and a consent signed at 15:00 the same day
    (both on the same UTC day too): the consent came after the treatment."""
    with transaction(engine) as session:
        configure_clinic(session, context(), clinic_id, time_zone="Australia/Brisbane")
    patient = add_patient(engine, clinic_id, allergies=[])
    practitioner = make_practitioner(engine, clinic_id)
    performed = dt.datetime(2026, 11, 2, 11, 0, tzinfo=ZoneInfo("Australia/Brisbane"))
    add_consent(engine, clinic_id, patient, signed_at=performed + dt.timedelta(hours=4))
    add_photos(engine, clinic_id, storage, patient, "cheeks", "forehead",
               taken_at=performed - dt.timedelta(minutes=20))  # fmt: skip
    fields = session_fields(patient, practitioner, performed_at=performed.isoformat())
    with transaction(engine) as session:
        stored = record_session(session, context(), clinic_id, SessionData.parse(fields, kb), kb)
        missing = completeness(session, clinic_id, stored, kb)
    assert missing == ["no valid signed consent for microneedling"]


def test_a_before_photo_counts_on_the_clinics_day(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, storage: LocalFolderStorage
) -> None:
    """A photo at 23:50 UTC is on the next day in Paris, as the session at 9:00 is."""
    with transaction(engine) as session:
        configure_clinic(session, context(), clinic_id, time_zone="Europe/Paris")
    patient = add_patient(engine, clinic_id, allergies=[])
    practitioner = make_practitioner(engine, clinic_id)
    add_consent(engine, clinic_id, patient)
    evening = dt.datetime(2026, 11, 1, 23, 50, tzinfo=dt.UTC)  # 2 November, 00:50 in Paris
    add_photos(engine, clinic_id, storage, patient, "cheeks", "forehead", taken_at=evening)
    fields = session_fields(patient, practitioner, performed_at="2026-11-02T09:00:00+01:00")
    with transaction(engine) as session:
        stored = record_session(session, context(), clinic_id, SessionData.parse(fields, kb), kb)
        assert completeness(session, clinic_id, stored, kb) == []


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "", "+01:00"])
def test_a_time_zone_is_an_iana_name(engine: Engine, clinic_id: uuid.UUID, name: str) -> None:
    with (
        pytest.raises(InvalidInput, match="is not an IANA time zone"),
        transaction(engine) as session,
    ):
        configure_clinic(session, context(), clinic_id, time_zone=name)


def test_a_session_and_its_checks_read_the_clinic_once(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, storage: LocalFolderStorage
) -> None:
    """Recording a session asks for the clinic's day several times (earlier treatments,
    expiry, photos, consents): the clinic row is read once per transaction."""
    patient = add_patient(engine, clinic_id, allergies=[])
    practitioner = make_practitioner(engine, clinic_id)
    add_consent(engine, clinic_id, patient)
    add_photos(engine, clinic_id, storage, patient, "cheeks", "forehead")
    fields = session_fields(patient, practitioner)
    reads: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM clinic " in statement:
            reads.append(statement)

    with transaction(engine) as session:
        event.listen(engine, "before_cursor_execute", count)
        try:
            stored = record_session(
                session, context(), clinic_id, SessionData.parse(fields, kb), kb
            )
            completeness(session, clinic_id, stored, kb)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert len(reads) == 1, reads
