"""A patient's timeline: consults and every session version in date order, with products
and lots, for this clinic only, and audited as a read."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine

from dermaplan.knowledge import KnowledgeBase
from dermaplan.records import service, sessions
from dermaplan.records.db import transaction
from dermaplan.records.errors import NotFound
from dermaplan.records.models import Consult, SessionStatus, TreatmentSession
from dermaplan.records.photos import PhotoStorage
from tests.records.factories import (
    add_consent,
    add_patient,
    add_photos,
    context,
    document,
    events,
    make_clinic,
    make_practitioner,
    session_data,
)


def test_the_timeline_lists_consults_and_sessions_in_date_order(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, storage: PhotoStorage
) -> None:
    practitioner = make_practitioner(engine, clinic_id)
    patient = add_patient(engine, clinic_id, allergies=[])
    other = add_patient(engine, clinic_id, family_name="Ravel", given_names="Maurice")
    add_consent(engine, clinic_id, patient)
    add_photos(engine, clinic_id, storage, patient, "cheeks", "forehead")
    with transaction(engine) as session:
        later = sessions.record_session(
            session, context(), clinic_id,
            session_data(kb, patient, practitioner, performed_at="2026-11-20T10:00:00+00:00"),
            kb,
        ).id  # fmt: skip
        first = sessions.record_session(
            session, context(), clinic_id, session_data(kb, patient, practitioner), kb
        ).id
        sessions.sign_session(session, context(), clinic_id, first, kb)
        amendment = sessions.amend_session(
            session, context(), clinic_id, first,
            session_data(kb, patient, practitioner, notes="corrected"), kb, "wrong notes",
        ).id  # fmt: skip
        sessions.sign_session(session, context(), clinic_id, amendment, kb)
        stored = service.create_consult(session, context(), clinic_id, patient, document())
        elsewhere = session_data(kb, other, practitioner)
        sessions.record_session(session, context(), clinic_id, elsewhere, kb)
    with transaction(engine) as session:
        timeline = sessions.patient_timeline(session, context(), clinic_id, patient)
        # The consult of 2 November comes before that day's sessions (first, then its
        # amendment, which took its place), and the session of the 20th comes last.
        assert [entry.id for entry in timeline.entries] == [stored.id, first, amendment, later]
        assert isinstance(timeline.entries[0], Consult)
        session_rows = [e for e in timeline.entries if isinstance(e, TreatmentSession)]
        assert [e.status for e in session_rows] == [
            SessionStatus.AMENDED, SessionStatus.SIGNED, SessionStatus.DRAFT
        ]  # fmt: skip
        lot = session_rows[0].products[0].lot
        assert lot is not None
        assert (lot.lot_number, str(lot.expiry_date)) == ("HB2391", "2027-03-31")
    event = events(engine)[-1]
    assert (event.action, event.patient_id, event.record_id) == (
        "patient.timeline", patient, str(patient)
    )  # fmt: skip


def test_a_timeline_is_only_for_a_patient_of_this_clinic(
    engine: Engine, clinic_id: uuid.UUID
) -> None:
    patient = add_patient(engine, clinic_id)
    elsewhere = make_clinic(engine)
    written = len(events(engine))
    for clinic, wanted in ((elsewhere, patient), (clinic_id, uuid.uuid4())):
        with pytest.raises(NotFound), transaction(engine) as session:
            sessions.patient_timeline(session, context(), clinic, wanted)
    assert len(events(engine)) == written
