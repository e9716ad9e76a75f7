"""A patient's timeline: the whole record (consults, courses, consents and withdrawals,
every session and adverse event version, photos, outcomes) in date order, for this clinic
only, in a fixed number of queries, and audited as one read."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import Engine, event

from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality
from dermaplan.records import adverse, consents, courses, outcomes, photos, service, sessions
from dermaplan.records.adverse import adverse_event_lines, adverse_event_state
from dermaplan.records.db import transaction
from dermaplan.records.enums import PhotoScope, PhotoStage, SessionStatus
from dermaplan.records.errors import NotFound, required
from dermaplan.records.models import Outcome
from dermaplan.records.outcomes import outcome_state
from dermaplan.records.repository import AdverseEventRepository
from dermaplan.records.schemas import AdverseEventData, ConsultDocument, OutcomeData
from dermaplan.records.timeline import (
    SessionLine,
    patient_timeline,
    timeline_document,
    timeline_lines,
)
from tests.records.factories import (
    KNOWLEDGE,
    add_consent,
    add_patient,
    add_photos,
    context,
    events,
    make_clinic,
    make_practitioner,
    session_data,
)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


PLAN = {
    "schema_version": "2",
    "knowledge_version": KNOWLEDGE,
    "decisions": [{"modality": "microneedling", "decision": "recommended"}],
    "courses": [
        {
            "modality": "microneedling",
            "sessions": 2,
            "interval_days": 28,
            "dates": ["2026-10-06", "2026-11-03"],
        }
    ],
}


@dataclass(frozen=True, slots=True)
class Record:
    patient: uuid.UUID
    practitioner: uuid.UUID
    consult: uuid.UUID
    cancelled: uuid.UUID
    course: uuid.UUID
    original: uuid.UUID
    amendment: uuid.UUID
    photo_consent: uuid.UUID
    photo: uuid.UUID
    first_event: uuid.UUID
    follow_up: uuid.UUID
    outcome: uuid.UUID
    draft: uuid.UUID


def treat(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, patient: uuid.UUID,
    practitioner: uuid.UUID, performed_at: str,
) -> uuid.UUID:  # fmt: skip
    data = session_data(kb, patient, practitioner, performed_at=performed_at)
    with transaction(engine) as session:
        return sessions.record_session(session, context(), clinic_id, data, kb).id


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "salmon").save(out, format="JPEG")
    return out.getvalue()


def add_photo(
    engine: Engine, clinic_id: uuid.UUID, tmp_path: Path, patient: uuid.UUID,
    session_id: uuid.UUID | None, taken_at: dt.datetime,
) -> uuid.UUID:  # fmt: skip
    data = photos.PhotoData(
        patient=patient,
        area="cheeks",
        angle="frontal",
        taken_at=taken_at,
        stage=PhotoStage.AFTER,
        session=session_id,
    )
    storage = photos.LocalFolderStorage(tmp_path / "data" / "photos")
    with transaction(engine) as session:
        return photos.record_photo(session, context(), clinic_id, storage, data, jpeg()).id


def add_event(
    engine: Engine, clinic_id: uuid.UUID, patient: uuid.UUID, reporter: uuid.UUID,
    session_id: uuid.UUID, onset: str, now: dt.datetime,
) -> uuid.UUID:  # fmt: skip
    data = AdverseEventData.parse(
        {
            "patient": str(patient), "session": str(session_id), "type": "bruising",
            "severity": "mild", "onset": onset, "causality": "probable",
            "outcome": "recovering", "description": "Bruises on the cheeks.",
            "reporter": str(reporter),
            "lots": [{"product": "ha_skin_booster", "lot": "HB2391"}],
        }
    )  # fmt: skip
    with transaction(engine) as session:
        return adverse.record_adverse_event(session, context(now=now), clinic_id, data).id


def whole_record(engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, tmp_path: Path) -> Record:
    """A patient with every kind of entry, written on the days a clinic would have."""
    practitioner = make_practitioner(engine, clinic_id)
    patient = add_patient(engine, clinic_id, allergies=[])
    document = ConsultDocument(
        consult_date=dt.date(2026, 10, 1),
        assessment_json=json.dumps({"consult_date": "2026-10-01"}),
        plan_json=json.dumps(PLAN),
        knowledge_version=KNOWLEDGE,
    )
    with transaction(engine) as session:
        on_the_day = context(now=at("2026-10-01T11:00"))
        consult = service.create_consult(session, on_the_day, clinic_id, patient, document).id
        service.approve_consult(session, on_the_day, clinic_id, consult, practitioner)
        cancelled = courses.start_course(
            session, on_the_day, clinic_id, consult, Modality.MICRONEEDLING
        ).id
        next_day = context(now=at("2026-10-02T12:00"))
        courses.cancel_course(session, next_day, clinic_id, cancelled, "dates did not suit")
        course = courses.start_course(
            session, next_day, clinic_id, consult, Modality.MICRONEEDLING
        ).id
    add_consent(engine, clinic_id, patient, signed_at=at("2026-10-05T09:00"))
    scopes = {"clinical_record": True, "teaching": False, "marketing": True}
    photo_consent = add_consent(
        engine, clinic_id, patient, "photo", signed_at=at("2026-10-05T09:10"), scopes=scopes
    )
    original = treat(engine, clinic_id, kb, patient, practitioner, "2026-10-06T10:00:00+00:00")
    storage = photos.LocalFolderStorage(tmp_path / "data" / "photos")
    before = at("2026-10-06T09:50")
    add_photos(engine, clinic_id, storage, patient, "cheeks", "forehead", taken_at=before)
    with transaction(engine) as session:
        sessions.sign_session(session, context(), clinic_id, original, kb)
        corrected = session_data(
            kb, patient, practitioner, performed_at="2026-10-06T10:00:00+00:00", notes="fixed"
        )
        amendment = sessions.amend_session(
            session, context(), clinic_id, original, corrected, kb, "notes were wrong"
        ).id
        sessions.sign_session(session, context(), clinic_id, amendment, kb)
        courses.fulfil_planned_session(session, context(), clinic_id, course, 1, amendment)
    photo = add_photo(engine, clinic_id, tmp_path, patient, amendment, at("2026-10-06T10:30"))
    first_event = add_event(
        engine, clinic_id, patient, practitioner, amendment, "2026-10-07", at("2026-10-07T09:00")
    )
    with transaction(engine) as session:
        later = AdverseEventData.parse(
            {
                "patient": str(patient), "session": str(amendment), "type": "bruising",
                "severity": "mild", "onset": "2026-10-07", "causality": "probable",
                "outcome": "recovered", "description": "Gone.", "reporter": str(practitioner),
                "closed": True,
            }
        )  # fmt: skip
        follow_up = adverse.follow_up_adverse_event(
            session, context(now=at("2026-10-10T09:00")), clinic_id, first_event, later, "healed"
        ).id
        consents.withdraw_consent(
            session, context(now=at("2026-10-20T09:00")), clinic_id, photo_consent,
            "no more marketing", PhotoScope.MARKETING,
        )  # fmt: skip
        score = OutcomeData(
            patient=patient, session=amendment, scale="gais", score=2,
            date=dt.date(2026, 10, 30), assessor=practitioner,
        )  # fmt: skip
        outcome = outcomes.record_outcome(session, context(), clinic_id, score).id
    draft = treat(engine, clinic_id, kb, patient, practitioner, "2026-11-01T15:00:00+00:00")
    return Record(
        patient, practitioner, consult, cancelled, course, original, amendment, photo_consent,
        photo, first_event, follow_up, outcome, draft,
    )  # fmt: skip


def test_the_timeline_is_the_whole_record_in_date_order_with_every_version(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, tmp_path: Path
) -> None:
    record = whole_record(engine, clinic_id, kb, tmp_path)
    other = add_patient(engine, clinic_id, family_name="Ravel", given_names="Maurice")
    treat(engine, clinic_id, kb, other, record.practitioner, "2026-10-06T11:00:00+00:00")
    written = len(events(engine))
    with transaction(engine) as session:
        timeline = patient_timeline(session, context(), clinic_id, record.patient)
        document = timeline_document(timeline)
        fulfilled = [(done, p.number) for done, (_, p) in timeline.fulfilled.items()]
        assert fulfilled == [(record.amendment, 1)]
    entries = document["entries"]
    assert [(e["date"], e["kind"], e.get("id") or e.get("consent")) for e in entries] == [
        ("2026-10-01", "consult", str(record.consult)),
        ("2026-10-01", "course", str(record.cancelled)),
        ("2026-10-02", "course", str(record.course)),
        ("2026-10-05", "consent", entries[3]["id"]),
        ("2026-10-05", "consent", str(record.photo_consent)),
        ("2026-10-06", "photo", entries[5]["id"]),
        ("2026-10-06", "photo", entries[6]["id"]),
        ("2026-10-06", "session", str(record.original)),
        ("2026-10-06", "session", str(record.amendment)),
        ("2026-10-06", "photo", str(record.photo)),
        ("2026-10-07", "adverse_event", str(record.first_event)),
        ("2026-10-07", "adverse_event", str(record.follow_up)),
        ("2026-10-20", "consent_withdrawal", str(record.photo_consent)),
        ("2026-10-30", "outcome", str(record.outcome)),
        ("2026-11-01", "session", str(record.draft)),
    ]
    consult, cancelled, course, treatment, photo_consent = entries[:5]
    assert (consult["status"], consult["approved_by"]) == ("approved", str(record.practitioner))
    assert (cancelled["status"], cancelled["cancellation_reason"]) == (
        "cancelled", "dates did not suit"
    )  # fmt: skip
    assert [p["session"] for p in course["planned_sessions"]] == [str(record.amendment), None]
    assert (treatment["consent_kind"], treatment["withdrawn"]) == ("treatment_microneedling", [])
    assert photo_consent["withdrawn"] == ["marketing"]
    assert [(p["stage"], p["area"], p["session"]) for p in entries[5:7]] == [
        ("before", "cheeks", None),
        ("before", "forehead", None),
    ]
    original, amendment, photo, first_event, follow_up = entries[7:12]
    assert (original["status"], original["fulfils"]) == ("amended", None)
    assert amendment["status"] == "signed"
    assert amendment["fulfils"] == {"course": str(record.course), "number": 1}
    assert amendment["products"][0]["lot"] == "HB2391"
    assert (photo["session"], photo["angle"]) == (str(record.amendment), "frontal")
    # Scopes in force now: marketing was withdrawn after the photo, and that applies to it.
    assert photo["scopes"] == {"clinical_record": True, "teaching": False, "marketing": False}
    assert (first_event["status"], follow_up["status"]) == ("superseded", "closed")
    assert follow_up["follows"] == str(record.first_event)
    assert entries[13]["scale"] == "gais"
    # One read, one audit event for the patient.
    audit = events(engine)
    assert len(audit) == written + 1
    assert (audit[-1].action, audit[-1].patient_id) == ("patient.timeline", record.patient)

    text = timeline_lines(document)
    assert len(text) == len(entries)
    assert text[1].startswith("2026-10-01  course        cancelled")
    assert "dates did not suit" in text[1]
    assert f"planned session 1 of course {record.course}" in text[8]
    assert "may be used for: clinical_record" in text[9]
    assert "bruising, mild, causality probable" in text[11]
    assert text[12].startswith("2026-10-20  consent withdrawal marketing")
    assert f"gais 2 by {record.practitioner}" in text[13]


def test_courses_events_and_scores_read_as_rows_say_what_the_records_say(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, tmp_path: Path
) -> None:
    """The chart and the follow-up read adverse events (every version, with their lots) and
    scores as rows: the patient's own, in date order, with the same audited content as each
    record read whole."""
    record = whole_record(engine, clinic_id, kb, tmp_path)
    with transaction(engine, write=False) as session:
        reported = AdverseEventRepository(session, clinic_id)
        lines = adverse_event_lines(reported.rows_of_patient(record.patient))
        versions = [required(reported.get(line.id), "an event") for line in lines]
        score_lines = outcomes.patient_outcome_lines(session, clinic_id, record.patient)
        scores = [required(session.get(Outcome, line.id), "a score") for line in score_lines]
    assert [line.id for line in lines] == [record.first_event, record.follow_up]
    assert [adverse_event_state(line) for line in lines] == [
        adverse_event_state(v) for v in versions
    ]
    assert [[(lot.product, lot.lot_number) for lot in line.lots] for line in lines] == [
        [(lot.product, lot.lot_number) for lot in version.lots] for version in versions
    ]
    assert [line.created_at for line in lines] == [version.created_at for version in versions]
    assert [line.id for line in score_lines] == [record.outcome]
    assert [outcome_state(line) for line in score_lines] == [outcome_state(s) for s in scores]
    assert [line.created_at for line in score_lines] == [score.created_at for score in scores]


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_timeline_takes_the_same_few_queries_however_long_the_record(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, tmp_path: Path
) -> None:
    record = whole_record(engine, clinic_id, kb, tmp_path)

    def queries() -> int:
        with statements(engine) as seen, transaction(engine) as session:
            patient_timeline(session, context(), clinic_id, record.patient)
        return len(seen)

    before = queries()
    for day in ("2026-10-12", "2026-10-13", "2026-10-14"):
        treated = treat(engine, clinic_id, kb, record.patient, record.practitioner, f"{day}T10:00Z")
        add_photo(engine, clinic_id, tmp_path, record.patient, treated, at(f"{day}T11:00"))
        add_event(
            engine, clinic_id, record.patient, record.practitioner, treated, day, at(f"{day}T12:00")
        )
    assert queries() == before <= 20


# every instant an entry of the document shows, by kind: the first is the one its day is of
INSTANTS = {
    "course": (),
    "consent": ("signed_at",),
    "consent_withdrawal": ("withdrawn_at",),
    "session": ("performed_at",),
    "photo": ("taken_at",),
    "consult": ("approved_at", "discarded_at"),
    "adverse_event": ("closed_at",),
    "outcome": (),
}
DAY_OF_INSTANT = {"consent_withdrawal", "session", "photo"}


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Los_Angeles", "Asia/Kolkata"])
def test_a_timeline_gives_its_days_and_times_on_the_clinics_clock(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, tmp_path: Path, zone: str
) -> None:
    """Far from UTC (UTC+14, -8, +5:30), every time the chart shows carries the clinic's
    offset, and an entry's day is the clinic's day of its instant, in date order."""
    record = whole_record(engine, clinic_id, kb, tmp_path)
    with transaction(engine) as session:
        service.configure_clinic(session, context(), clinic_id, time_zone=zone)
    with transaction(engine) as session:
        document = timeline_document(
            patient_timeline(session, context(), clinic_id, record.patient)
        )
    where = ZoneInfo(zone)
    shown = 0
    for entry in document["entries"]:
        for field in INSTANTS[entry["kind"]]:
            if entry[field] is None:
                continue
            instant = dt.datetime.fromisoformat(entry[field])
            assert instant.utcoffset() == instant.astimezone(where).utcoffset(), (entry, field)
            shown += 1
            if field == INSTANTS[entry["kind"]][0] and entry["kind"] in DAY_OF_INSTANT:
                assert entry["date"] == instant.date().isoformat(), entry
    assert shown >= 8
    days = [entry["date"] for entry in document["entries"]]
    assert days == sorted(days)
    # the session performed at 2026-10-06 11:00 UTC is 7 October at UTC+14, not 6 October
    sessions = [e["date"] for e in document["entries"] if e["kind"] == "session"]
    expected = "2026-10-07" if zone == "Pacific/Kiritimati" else "2026-10-06"
    assert sessions[0] == expected


def test_a_deleted_patients_timeline_is_still_shown(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, tmp_path: Path
) -> None:
    record = whole_record(engine, clinic_id, kb, tmp_path)
    with transaction(engine) as session:
        service.delete_patient(session, context(), clinic_id, record.patient, "moved abroad")
    with transaction(engine) as session:
        timeline = patient_timeline(session, context(), clinic_id, record.patient)
        assert timeline.patient.deleted_at is not None
        versions = [e for e in timeline.entries if isinstance(e, SessionLine)]
        assert [e.columns["status"] for e in versions] == [
            SessionStatus.AMENDED, SessionStatus.SIGNED, SessionStatus.DRAFT
        ]  # fmt: skip
        assert len(timeline.entries) == 15
        assert timeline_document(timeline)["patient"]["deleted_at"] is not None


def test_a_timeline_is_only_for_a_patient_of_this_clinic(
    engine: Engine, clinic_id: uuid.UUID
) -> None:
    patient = add_patient(engine, clinic_id)
    elsewhere = make_clinic(engine)
    written = len(events(engine))
    for clinic, wanted in ((elsewhere, patient), (clinic_id, uuid.uuid4())):
        with pytest.raises(NotFound), transaction(engine) as session:
            patient_timeline(session, context(), clinic, wanted)
    assert len(events(engine)) == written
