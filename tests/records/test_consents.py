"""Consents: versioned templates, signed consents frozen but for withdrawal (service and
triggers), granular photo scopes, and the session completeness check; all audited."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from dermaplan.bounds import SIGNATURE_BYTES
from dermaplan.knowledge import KnowledgeBase
from dermaplan.records import consents, sessions
from dermaplan.records.db import transaction
from dermaplan.records.enums import ConsentKind, ConsentStatus, PhotoScope
from dermaplan.records.errors import (
    ImmutableRecord,
    IncompleteRecord,
    InvalidInput,
    NotFound,
    required,
)
from dermaplan.records.models import Consent, ConsentTemplate, ConsentWithdrawal
from dermaplan.records.photos import PhotoStorage, scopes_allowed
from dermaplan.records.repository import ConsentRepository
from dermaplan.records.schemas import ConsentData
from tests.records.factories import (
    NOW,
    add_consent,
    add_patient,
    add_photos,
    context,
    events,
    make_practitioner,
    png_claiming,
    session_data,
)

PNG = (  # a 2x1 PNG: a transparent pixel and a black stroke
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAYAAAD0In+KAAAAEUlEQVR4nGP4//8/AwMDw38AFfMD/TRbfe8AAAAASUVORK5CYII="
)
BLANK_PNG = (  # a 1x1 PNG: every pixel the same, a pad sent without a stroke
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg=="
)


@pytest.fixture
def practitioner_id(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    return make_practitioner(engine, clinic_id)


@pytest.fixture
def patient_id(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    return add_patient(engine, clinic_id, allergies=[])


def publish(engine: Engine, clinic_id: uuid.UUID, kind: ConsentKind, body: str) -> uuid.UUID:
    earlier = context(now=NOW - dt.timedelta(days=30))
    with transaction(engine) as session:
        return consents.publish_template(session, earlier, clinic_id, kind, body).id


def consent_fields(patient_id: uuid.UUID, template_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
    return {
        "patient": str(patient_id),
        "template": str(template_id),
        "opened_at": "2026-11-01T09:00:00+00:00",
        "signed_at": "2026-11-01T09:10:00+00:00",
        "signer": "Claire Moreau",
        "signature": "C. Moreau",
    } | fields


def table_counts(engine: Engine) -> tuple[int, int, int]:
    with transaction(engine, write=False) as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (ConsentTemplate, Consent, ConsentWithdrawal)
        )


def test_templates_are_versioned_and_a_published_version_never_changes(
    engine: Engine, clinic_id: uuid.UUID
) -> None:
    first = publish(engine, clinic_id, ConsentKind.PHOTO, "Photos v1")
    second = publish(engine, clinic_id, ConsentKind.PHOTO, "Photos v2")
    other = publish(engine, clinic_id, ConsentKind.TREATMENT_MESOTHERAPY, "Meso v1")
    with transaction(engine, write=False) as session:
        rows = {t.id: t for t in session.scalars(select(ConsentTemplate))}
    assert (rows[first].version, rows[second].version, rows[other].version) == (1, 2, 1)
    assert len(rows[first].content_hash) == 64
    assert rows[first].content_hash != rows[second].content_hash
    for statement in (
        f"UPDATE consent_template SET text = 'changed' WHERE id = '{first}'",
        f"DELETE FROM consent_template WHERE id = '{first}'",
    ):
        with (
            pytest.raises(DBAPIError, match="published consent template is immutable"),
            engine.begin() as connection,
        ):
            connection.execute(text(_ids(engine, statement)))
    with pytest.raises(InvalidInput, match="needs its text"), transaction(engine) as session:
        consents.publish_template(session, context(), clinic_id, ConsentKind.PHOTO, "  ")
    assert [e.action for e in events(engine)].count("consent_template.create") == 3


def _ids(engine: Engine, statement: str) -> str:
    """SQLite stores UUIDs as 32 hex digits; PostgreSQL as uuid."""
    if engine.dialect.name == "sqlite":
        for word in statement.split("'"):
            with contextlib.suppress(ValueError):
                statement = statement.replace(word, uuid.UUID(word).hex)
    return statement


def test_an_unsigned_consent_is_refused_by_the_service_and_the_database(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    template = publish(engine, clinic_id, ConsentKind.TREATMENT_MICRONEEDLING, "Needling")
    before = table_counts(engine)
    unsigned = ConsentData.parse(
        consent_fields(patient_id, template, signed_at=None, signature=None, signer=None)
    )
    with pytest.raises(InvalidInput) as raised, transaction(engine) as session:
        consents.record_consent(session, context(), clinic_id, unsigned)
    assert raised.value.problems == [
        "signed_at: a consent cannot be completed unsigned",
        "signer: a consent needs the signer's name",
        "signature: give a typed signature or signature_png, exactly one",
    ]
    assert table_counts(engine) == before
    with transaction(engine, write=False) as session:
        patient_row = session.execute(text("SELECT count(*) FROM patient")).scalar()
    assert patient_row == 1
    with (
        pytest.raises(DBAPIError, match="signed_has_signature"),
        engine.begin() as connection,
    ):
        connection.execute(
            text(
                "INSERT INTO consent (id, patient_id, template_id, kind, status, opened_at,"
                " created_by, created_at, updated_at) VALUES (:id, :patient, :template,"
                " 'treatment_microneedling', 'signed', :now, 'sql', :now, :now)"
            ).bindparams(
                id=_db_id(engine, uuid.uuid4()),
                patient=_db_id(engine, patient_id),
                template=_db_id(engine, template),
                now=NOW,
            )
        )
    assert table_counts(engine) == before


def _db_id(engine: Engine, value: uuid.UUID) -> str | uuid.UUID:
    return value.hex if engine.dialect.name == "sqlite" else value


def test_a_signed_consent_is_immutable_except_for_withdrawal(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    consent_id = add_consent(engine, clinic_id, patient_id, signature=None, signature_png=PNG)
    with transaction(engine, write=False) as session:
        stored = session.get(Consent, consent_id)
        assert stored is not None
        assert (stored.signature_media_type, stored.signature_text) == ("image/png", None)
        assert stored.signature_image is not None
        assert stored.signature_image.startswith(b"\x89PNG")
    key = _db_id(engine, consent_id)
    for statement in (
        "UPDATE consent SET signer_name = 'Someone else' WHERE id = :id",
        "UPDATE consent SET signed_at = opened_at WHERE id = :id",
        "DELETE FROM consent WHERE id = :id",
    ):
        with (
            pytest.raises(DBAPIError, match="signed consent is immutable"),
            engine.begin() as connection,
        ):
            connection.execute(text(statement), {"id": key})
    with transaction(engine) as session:
        consents.withdraw_consent(session, context(), clinic_id, consent_id, "changed her mind")
    with pytest.raises(ImmutableRecord, match="already withdrawn"), transaction(engine) as s:
        consents.withdraw_consent(s, context(), clinic_id, consent_id, "again")
    for statement in (
        "UPDATE consent_withdrawal SET reason = 'never mind' WHERE consent_id = :id",
        "DELETE FROM consent_withdrawal WHERE consent_id = :id",
    ):
        with (
            pytest.raises(DBAPIError, match="withdrawal is permanent"),
            engine.begin() as connection,
        ):
            connection.execute(text(statement), {"id": key})
    actions = [e.action for e in events(engine)]
    assert actions[-2:] == ["consent.create", "consent.withdraw"]


def test_withdrawing_marketing_keeps_the_clinical_record_scope(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    scopes = {"clinical_record": True, "teaching": False, "marketing": True}
    consent_id = add_consent(engine, clinic_id, patient_id, "photo", scopes=scopes)
    with (
        pytest.raises(InvalidInput, match="teaching was never granted"),
        transaction(engine) as session,
    ):
        consents.withdraw_consent(
            session, context(), clinic_id, consent_id, "no", PhotoScope.TEACHING
        )
    with transaction(engine) as session:
        consents.withdraw_consent(
            session, context(), clinic_id, consent_id, "not in adverts", PhotoScope.MARKETING
        )
    with transaction(engine, write=False) as session:
        in_force = consents.photo_scopes_in_force(session, clinic_id, consent_id)
    assert in_force == {
        PhotoScope.CLINICAL_RECORD: True,
        PhotoScope.TEACHING: False,
        PhotoScope.MARKETING: False,
    }
    with transaction(engine) as session:
        consents.withdraw_consent(session, context(), clinic_id, consent_id, "all of it")
    with transaction(engine, write=False) as session:
        assert not any(consents.photo_scopes_in_force(session, clinic_id, consent_id).values())


def test_a_consent_read_as_a_row_says_what_the_record_says(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    """The chart and the consents page read consents as rows (ConsentRepository.
    rows_of_patient): every consent of the patient, in the order they were opened, with the
    same audited content and the same photo scopes in force as each record read whole (a
    drawn signature, withdrawals, one only opened)."""
    scopes = {"clinical_record": True, "teaching": True, "marketing": True}
    photo = add_consent(
        engine, clinic_id, patient_id, "photo", scopes=scopes, signature=None, signature_png=PNG
    )
    add_consent(engine, clinic_id, patient_id, signed_at=NOW - dt.timedelta(days=3))
    with transaction(engine) as session:
        for days, scope in ((2, PhotoScope.MARKETING), (1, PhotoScope.TEACHING)):
            later = context(now=NOW - dt.timedelta(days=days))
            consents.withdraw_consent(session, later, clinic_id, photo, "not that", scope)
        consents.open_consent(session, context(), clinic_id, patient_id, ConsentKind.PHOTO)
    with transaction(engine, write=False) as session:
        repository = ConsentRepository(session, clinic_id)
        lines = consents.consent_lines(repository.rows_of_patient(patient_id))
        records = [required(repository.get(line.id), "a consent") for line in lines]
        every = session.scalars(select(Consent.id).where(Consent.patient_id == patient_id))
        assert sorted(line.id for line in lines) == sorted(every)
    assert [(r.opened_at, r.id) for r in records] == sorted((r.opened_at, r.id) for r in records)
    assert [consents.consent_state(line, line.withdrawals) for line in lines] == [
        consents.consent_state(record, record.withdrawals) for record in records
    ]
    assert [line.template_version for line in lines] == [r.template_version for r in records]
    assert [[w.scope for w in line.withdrawals] for line in lines] == [
        [w.scope for w in record.withdrawals] for record in records
    ]
    signed = [line for line in lines if line.status is ConsentStatus.SIGNED]
    assert scopes_allowed(line for line in signed if line.kind is ConsentKind.PHOTO) == {
        PhotoScope.CLINICAL_RECORD: True,
        PhotoScope.TEACHING: False,
        PhotoScope.MARKETING: False,
    }
    with transaction(engine) as session:
        consents.withdraw_consent(session, context(), clinic_id, photo, "all of it")
    with transaction(engine, write=False) as session:
        lines = consents.consent_lines(
            ConsentRepository(session, clinic_id).rows_of_patient(patient_id)
        )
    photos_allowed = [line for line in lines if line.kind is ConsentKind.PHOTO]
    assert not any(scopes_allowed(photos_allowed[:1]).values())


def test_photo_consent_answers_every_scope_and_treatment_consent_has_none(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    photo = publish(engine, clinic_id, ConsentKind.PHOTO, "Photos")
    meso = publish(engine, clinic_id, ConsentKind.TREATMENT_MESOTHERAPY, "Meso")
    before = table_counts(engine)
    for template, fields, problem in (
        (photo, {"scopes": {"marketing": True}}, "photo consent must answer every scope"),
        (meso, {"scopes": {"marketing": True}}, "only photo consent has scopes"),
        (meso, {"signed_at": "2026-10-31T09:00:00+00:00"}, "before the consent was opened"),
        (meso, {"signed_at": "2026-12-01T09:00:00+00:00"}, "in the future"),
        (meso, {"signature": None, "signature_png": "bm90IGEgcG5n"}, "not a PNG image"),
        (meso, {"opened_at": "2026-11-01T09:00:00"}, "has no timezone"),
    ):
        data = ConsentData.parse(consent_fields(patient_id, template, **fields))
        with pytest.raises(InvalidInput, match=problem), transaction(engine) as session:
            consents.record_consent(session, context(), clinic_id, data)
    assert table_counts(engine) == before


def test_a_drawn_signature_is_bounded_in_bytes_and_pixels(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    template = publish(engine, clinic_id, ConsentKind.TREATMENT_MESOTHERAPY, "Meso")
    before = table_counts(engine)

    def drawn(png: bytes) -> dict[str, Any]:
        return {"signature": None, "signature_png": base64.b64encode(png).decode()}

    with pytest.raises(InvalidInput, match="signature_png: String should have at most"):
        ConsentData.parse(consent_fields(patient_id, template, **drawn(bytes(20_000_000))))
    for png, problem in (
        (
            png_claiming(3000, 3000),
            "signature_png: 3000×3000 pixels, more than the 4 megapixels an image here may have",
        ),
        (png_claiming(400, 200)[:-20], "signature_png: not a readable PNG image"),
        (base64.b64decode(BLANK_PNG), "signature_png: the signature is blank; sign in the box"),
        (
            png_claiming(400, 200).ljust(SIGNATURE_BYTES + 1, b"\x00"),
            "signature_png: larger than 256 KB",
        ),
    ):
        data = ConsentData.parse(consent_fields(patient_id, template, **drawn(png)))
        with pytest.raises(InvalidInput) as refused, transaction(engine) as session:
            consents.record_consent(session, context(), clinic_id, data)
        assert refused.value.problems == [problem]
    assert table_counts(engine) == before


def record(
    engine: Engine,
    kb: KnowledgeBase,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    **fields: Any,
) -> uuid.UUID:
    data = session_data(kb, patient_id, practitioner_id, **fields)
    with transaction(engine) as session:
        return sessions.record_session(session, context(), clinic_id, data, kb).id


def sign(
    engine: Engine, kb: KnowledgeBase, clinic_id: uuid.UUID, session_id: uuid.UUID
) -> list[str]:
    """What signing finds missing ([] when it signs)."""
    try:
        with transaction(engine) as session:
            sessions.sign_session(session, context(), clinic_id, session_id, kb)
    except IncompleteRecord as error:
        return error.problems
    return []


MISSING = "missing: no valid signed consent for microneedling"


def test_the_completeness_check_asks_for_a_valid_consent(
    engine: Engine,
    kb: KnowledgeBase,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    storage: PhotoStorage,
) -> None:
    add_photos(engine, clinic_id, storage, patient_id, "cheeks", "forehead")
    session_id = record(engine, kb, clinic_id, patient_id, practitioner_id)
    assert sign(engine, kb, clinic_id, session_id) == [MISSING]
    # signed after the session's day: does not count
    add_consent(engine, clinic_id, patient_id, signed_at=NOW + dt.timedelta(days=1))
    assert sign(engine, kb, clinic_id, session_id) == [MISSING]
    # a consent for another treatment: does not count
    add_consent(engine, clinic_id, patient_id, "treatment_mesotherapy")
    assert sign(engine, kb, clinic_id, session_id) == [MISSING]
    # withdrawn before the session: does not count
    withdrawn = add_consent(engine, clinic_id, patient_id, signed_at=NOW - dt.timedelta(days=3))
    with transaction(engine) as session:
        consents.withdraw_consent(
            session, context(now=NOW - dt.timedelta(days=2)), clinic_id, withdrawn, "no"
        )
    assert sign(engine, kb, clinic_id, session_id) == [MISSING]
    # signed the same day, before the session: counts
    add_consent(engine, clinic_id, patient_id, signed_at=NOW - dt.timedelta(hours=1))
    assert sign(engine, kb, clinic_id, session_id) == []


def test_combined_needs_a_combined_consent_or_both_others(
    engine: Engine,
    kb: KnowledgeBase,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    storage: PhotoStorage,
) -> None:
    add_photos(engine, clinic_id, storage, patient_id, "cheeks", "forehead")
    session_id = record(engine, kb, clinic_id, patient_id, practitioner_id, modality="combined")
    add_consent(engine, clinic_id, patient_id, "treatment_microneedling")
    assert sign(engine, kb, clinic_id, session_id) == [
        "missing: no valid signed consent for combined"
    ]
    add_consent(engine, clinic_id, patient_id, "treatment_mesotherapy")
    assert sign(engine, kb, clinic_id, session_id) == []
    other = add_patient(engine, clinic_id, family_name="Ravel", allergies=[])
    add_consent(engine, clinic_id, other, "treatment_combined")
    add_photos(engine, clinic_id, storage, other, "cheeks", "forehead")
    second = record(engine, kb, clinic_id, other, practitioner_id, modality="combined")
    assert sign(engine, kb, clinic_id, second) == []


def test_a_withdrawal_after_the_session_leaves_its_consent_valid_for_it(
    engine: Engine,
    kb: KnowledgeBase,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    storage: PhotoStorage,
) -> None:
    add_photos(engine, clinic_id, storage, patient_id, "cheeks", "forehead")
    consent_id = add_consent(engine, clinic_id, patient_id)
    session_id = record(engine, kb, clinic_id, patient_id, practitioner_id)
    with transaction(engine) as session:
        later = context(now=NOW + dt.timedelta(days=1))
        consents.withdraw_consent(session, later, clinic_id, consent_id, "no more sessions")
    assert sign(engine, kb, clinic_id, session_id) == []
    with transaction(engine, write=False) as session:
        assert (
            consents.consented_kinds(session, clinic_id, patient_id, NOW + dt.timedelta(days=2))
            == set()
        )


def open_one(
    engine: Engine,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    kind: ConsentKind = ConsentKind.TREATMENT_MICRONEEDLING,
    at: dt.datetime = NOW - dt.timedelta(days=1),
) -> uuid.UUID:
    with transaction(engine) as session:
        return consents.open_consent(session, context(now=at), clinic_id, patient_id, kind).id


def completion(patient_id: uuid.UUID, consent_id: uuid.UUID, **fields: Any) -> ConsentData:
    """The file that signs an opened consent: no template or opened_at, the opened id."""
    values = consent_fields(patient_id, consent_id, consent=str(consent_id), **fields)
    del values["template"], values["opened_at"]
    return ConsentData.parse(values)


def test_an_opened_consent_counts_for_nothing_until_it_is_signed(
    engine: Engine,
    kb: KnowledgeBase,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    storage: PhotoStorage,
) -> None:
    add_photos(engine, clinic_id, storage, patient_id, "cheeks", "forehead")
    publish(engine, clinic_id, ConsentKind.TREATMENT_MICRONEEDLING, "Needling v1")
    current = publish(engine, clinic_id, ConsentKind.TREATMENT_MICRONEEDLING, "Needling v2")
    opened_at = NOW - dt.timedelta(days=1)
    consent_id = open_one(engine, clinic_id, patient_id, at=opened_at)
    with transaction(engine, write=False) as session:
        stored = session.get_one(Consent, consent_id)
        assert (stored.status.value, stored.template_id, stored.signed_at) == (
            "opened",
            current,
            None,
        )
        assert consents.consented_kinds(session, clinic_id, patient_id, NOW) == set()
    session_id = record(engine, kb, clinic_id, patient_id, practitioner_id)
    assert sign(engine, kb, clinic_id, session_id) == [MISSING]
    with pytest.raises(InvalidInput, match="never signed"), transaction(engine) as session:
        consents.withdraw_consent(session, context(), clinic_id, consent_id, "changed mind")

    signed_at = (opened_at + dt.timedelta(minutes=5)).isoformat()
    with transaction(engine) as session:
        done = consents.record_consent(
            session, context(), clinic_id, completion(patient_id, consent_id, signed_at=signed_at)
        )
        assert (done.id, done.status.value, done.opened_at) == (consent_id, "signed", opened_at)
    assert sign(engine, kb, clinic_id, session_id) == []
    assert [e.action for e in events(engine) if e.record_type == "consent"] == [
        "consent.open",
        "consent.sign",
    ]
    before = table_counts(engine)
    with pytest.raises(ImmutableRecord, match="already signed"), transaction(engine) as session:
        consents.record_consent(session, context(), clinic_id, completion(patient_id, consent_id))
    assert table_counts(engine) == before


def test_signing_an_opened_consent_is_checked_like_a_one_step_signature(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    publish(engine, clinic_id, ConsentKind.PHOTO, "Photos")
    consent_id = open_one(engine, clinic_id, patient_id, ConsentKind.PHOTO)
    with transaction(engine, write=False) as session:
        assert not any(consents.photo_scopes_in_force(session, clinic_id, consent_id).values())
    other = add_patient(engine, clinic_id, family_name="Ravel")
    before = (table_counts(engine), len(events(engine)))
    with pytest.raises(InvalidInput) as raised, transaction(engine) as session:
        consents.record_consent(
            session,
            context(),
            clinic_id,
            completion(patient_id, consent_id, signed_at="2026-10-01T09:00:00+00:00"),
        )
    assert raised.value.problems == [
        "signed_at: before the consent was opened",
        "signed_at: before this template version was published",
        "scopes: photo consent must answer every scope; missing "
        "['clinical_record', 'teaching', 'marketing']",
    ]
    scopes = {scope.value: True for scope in PhotoScope}
    with pytest.raises(NotFound, match="for this patient"), transaction(engine) as session:
        consents.record_consent(
            session, context(), clinic_id, completion(other, consent_id, scopes=scopes)
        )
    assert (table_counts(engine), len(events(engine))) == before
    with pytest.raises(NotFound, match="no treatment_combined consent text"):
        open_one(engine, clinic_id, patient_id, ConsentKind.TREATMENT_COMBINED)


def test_a_consent_file_names_the_template_or_the_opened_consent_not_both(
    patient_id: uuid.UUID,
) -> None:
    template = consent = uuid.uuid4()
    with pytest.raises(InvalidInput) as raised:
        ConsentData.parse(consent_fields(patient_id, template, consent=str(consent)))
    assert raised.value.problems == [
        "template: leave it out: the opened consent records it",
        "opened_at: leave it out: the opened consent records it",
    ]
    fields = consent_fields(patient_id, template, signer=["not", "text"])
    del fields["template"]
    with pytest.raises(InvalidInput) as raised:
        ConsentData.parse(fields)
    assert raised.value.problems == [
        "signer: Input should be a valid string",
        "template: required, unless the file names an opened consent (consent: ID)",
    ]


def test_a_patients_consents_are_listed_opened_and_signed_and_the_read_is_audited(
    engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> None:
    signed = add_consent(engine, clinic_id, patient_id, signed_at=NOW - dt.timedelta(days=3))
    opened = open_one(engine, clinic_id, patient_id)
    with transaction(engine) as session:
        consents.withdraw_consent(session, context(), clinic_id, signed, "moving away")
    with transaction(engine) as session:
        found = consents.patient_consents(session, context(), clinic_id, patient_id)
        listed = [(c.id, c.status.value, [w.scope for w in c.withdrawals]) for c in found]
        versions = [c.template_version for c in found]
    assert listed == [(signed, "signed", ["all"]), (opened, "opened", [])]
    assert versions == [1, 1]
    last = events(engine)[-1]
    assert (last.action, last.patient_id) == ("consent.list", patient_id)


def _minute(instant: dt.datetime) -> dt.datetime:
    return instant.replace(second=0, microsecond=0)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    session_second=st.integers(0, 59),
    signed=st.integers(-150, 150),  # seconds from the session's time
    withdrawn=st.none() | st.integers(0, 150),  # seconds after the signature
)
def test_a_consent_is_judged_to_the_minute_a_session_is_written_to(
    engine: Engine, clinic_id: uuid.UUID, session_second: int, signed: int, withdrawn: int | None
) -> None:
    """A session charted in the minute the patient signed is covered by that consent; a
    withdrawal made in the session's minute is in force; nothing signed in a later minute
    counts, whatever the seconds on either side."""
    at = NOW.replace(second=session_second)
    signed_at = at + dt.timedelta(seconds=signed)
    patient_id = add_patient(engine, clinic_id)
    consent_id = add_consent(engine, clinic_id, patient_id, signed_at=signed_at)
    if withdrawn is not None:
        when = signed_at + dt.timedelta(seconds=withdrawn)
        with transaction(engine) as session:
            consents.withdraw_consent(session, context(now=when), clinic_id, consent_id, "no")
    with transaction(engine, write=False) as session:
        valid = consents.consented_kinds(session, clinic_id, patient_id, at)
    in_force = _minute(signed_at) <= _minute(at) and (
        withdrawn is None or _minute(signed_at + dt.timedelta(seconds=withdrawn)) > _minute(at)
    )
    assert (ConsentKind.TREATMENT_MICRONEEDLING in valid) is in_force
