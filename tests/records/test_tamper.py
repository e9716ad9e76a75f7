"""Every way an intruder with the database (but not the audit keyring) could tamper with the
records, done in real SQL on a real database, with triggers dropped and foreign keys off, and
found by `audit verify` (the application's use case, as the command runs it). The table in
docs/records.md ("What tampering `audit verify` finds") names each case by its id here."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from sqlalchemy import Engine, insert, select

from dermaplan.app import records_admin
from dermaplan.app.principal import Access
from dermaplan.app.records_admin import AuditReport
from dermaplan.app.unit import Application
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality
from dermaplan.records import adverse, consents, courses, demo, logins, outcomes, service, sessions
from dermaplan.records.anchor import LocalAnchorFile, anchor_engine
from dermaplan.records.audit import GENESIS, event_hash
from dermaplan.records.db import sqlite_file, transaction
from dermaplan.records.enums import ConsentKind, StaffRole
from dermaplan.records.errors import DatabaseError
from dermaplan.records.integrity import verify_log
from dermaplan.records.keyring import AuditKey, KeyringFile
from dermaplan.records.models import AuditEvent, Photo, ProductLot
from dermaplan.records.photos import LocalFolderStorage
from dermaplan.records.schemas import AdverseEventData, OutcomeData
from dermaplan.records.settings import Settings
from tests.records.database import keys_of
from tests.records.factories import (
    NOW,
    add_consent,
    add_patient,
    add_photos,
    context,
    make_practitioner,
    session_data,
)
from tests.records.test_courses import make_consult, plan

Verdict = Literal["changed", "broken", "cut", "ahead", "refused"]
MICRONEEDLING_CONSENT = ConsentKind.TREATMENT_MICRONEEDLING


class Intruder:
    """Raw SQL as whoever holds the database's files or its superuser types it: every
    trigger out of the way, foreign keys unchecked."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"

    @property
    def now(self) -> str:
        """A time, as each backend stores one."""
        return "'2026-11-02 09:30:00.000000'" if self.sqlite else "'2026-11-02 09:30:00+00'"

    def sql(self, *statements: str) -> None:
        if self.sqlite:
            with contextlib.closing(sqlite3.connect(sqlite_file(self.engine))) as db:
                db.execute("PRAGMA foreign_keys=OFF")
                triggers = db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                for (name,) in triggers.fetchall():
                    db.execute(f"DROP TRIGGER {name}")
                for statement in statements:
                    db.execute(statement)
                db.commit()
            return
        with self.engine.begin() as connection:
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for statement in statements:
                connection.exec_driver_sql(statement)

    def append(self, event: dict[str, Any], key: AuditKey | None) -> None:
        """An event added to the log with the hash `key` gives it (None: plain SHA-256)."""
        forged = AuditEvent(**event, key_id=key.id if key else None)
        forged.hash = event_hash(forged, key)
        with self.engine.begin() as connection:
            columns = (c.key for c in AuditEvent.__table__.columns if c.key != "id")
            connection.execute(insert(AuditEvent).values({c: getattr(forged, c) for c in columns}))


@dataclass(frozen=True, slots=True)
class Records:
    """A clinic with one of every kind of record, each made through the services."""

    engine: Engine
    storage: LocalFolderStorage
    keyring: Path
    anchor: Path
    clinic: uuid.UUID
    practitioner: uuid.UUID
    admin: uuid.UUID
    patient: uuid.UUID
    leaving: uuid.UUID  # a second patient, soft-deleted
    consent: uuid.UUID
    withdrawn: uuid.UUID  # a consent withdrawn
    template: uuid.UUID
    photo: uuid.UUID
    consult: uuid.UUID
    course: uuid.UUID
    session: uuid.UUID
    lot: uuid.UUID
    adverse_event: uuid.UUID
    outcome: uuid.UUID
    token: uuid.UUID  # an API token of the practitioner's, who signs in with a TOTP code
    revoked: uuid.UUID  # another, revoked

    def head(self, lane: int = 0) -> AuditEvent:
        with transaction(self.engine, write=False) as session:
            return session.scalars(
                select(AuditEvent)
                .where(AuditEvent.clinic_id == self.clinic, AuditEvent.lane == lane)
                .order_by(AuditEvent.seq.desc())
                .limit(1)
            ).one()

    def photo_row(self) -> Photo:
        with transaction(self.engine, write=False) as session:
            return session.get_one(Photo, self.photo)


@pytest.fixture
def records(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    storage: LocalFolderStorage,
    keyring_path: Path,
) -> Records:
    anchor = keyring_path.with_name("audit-head.json")
    anchor_engine(engine, LocalAnchorFile(anchor))
    practitioner = make_practitioner(engine, clinic_id)
    patient = add_patient(engine, clinic_id, allergies=[])
    leaving = add_patient(engine, clinic_id, family_name="Leaving")
    consent = add_consent(engine, clinic_id, patient)
    withdrawn = add_consent(engine, clinic_id, patient, kind="treatment_mesotherapy")
    photo, _ = add_photos(engine, clinic_id, storage, patient, "cheeks", "forehead")
    consult = make_consult(engine, clinic_id, patient, practitioner, plan())
    with transaction(engine) as session:
        ctx = context()
        admin = service.add_staff(session, ctx, clinic_id, "Nadia Belkacem", StaffRole.ADMIN).id
        service.delete_patient(session, ctx, clinic_id, leaving, "duplicate")
        consents.withdraw_consent(session, ctx, clinic_id, withdrawn, "changed her mind")
        course = courses.start_course(session, ctx, clinic_id, consult, Modality.MICRONEEDLING)
        data = session_data(kb, patient, practitioner)
        treated = sessions.record_session(session, ctx, clinic_id, data, kb)
        sessions.sign_session(session, ctx, clinic_id, treated.id, kb)
        courses.fulfil_planned_session(session, ctx, clinic_id, course.id, 1, treated.id)
        event = adverse.record_adverse_event(
            session,
            ctx,
            clinic_id,
            AdverseEventData.parse(
                {
                    "patient": str(patient),
                    "session": str(treated.id),
                    "type": "bruising",
                    "severity": "moderate",
                    "onset": "2026-11-02",
                    "causality": "probable",
                    "outcome": "recovering",
                    "description": "Bruising of both cheeks.",
                    "reporter": str(practitioner),
                    "lots": [{"product": "ha_skin_booster", "lot": "HB2391"}],
                }
            ),
        )
        outcome = outcomes.record_outcome(
            session,
            ctx,
            clinic_id,
            OutcomeData.parse(
                {
                    "patient": str(patient),
                    "session": str(treated.id),
                    "scale": "gais",
                    "score": 2,
                    "date": "2026-11-02",
                    "assessor": str(practitioner),
                }
            ),
        )
        lot = session.scalars(select(ProductLot.id)).one()
        template = consents.consent_template(session, clinic_id, MICRONEEDLING_CONSENT).id
        logins.store_credential(session, ctx, clinic_id, practitioner, password_hash(), "pr")
        logins.enrol_totp(session, ctx, clinic_id, practitioner)
        token, _ = logins.create_token(session, ctx, clinic_id, practitioner, "reports")
        revoked, _ = logins.create_token(session, ctx, clinic_id, practitioner, "old laptop")
        logins.revoke_token(session, ctx, clinic_id, practitioner, revoked.id)
    return Records(
        engine, storage, keyring_path, anchor, clinic_id, practitioner, admin, patient, leaving,
        consent, withdrawn, template, photo, consult, course.id, treated.id, lot, event.id,
        outcome.id, token.id, revoked.id,
    )  # fmt: skip


@functools.cache
def password_hash() -> str:
    """One argon2id hash for every case (hashing costs a tenth of a second)."""
    return logins.hash_password("correct horse battery staple")


@pytest.fixture
def audit(
    records: Records, database_url: str, tmp_path: Path
) -> Iterator[Callable[[], AuditReport]]:
    """`audit verify` as the admin runs it, with the settings of the home folder the
    records' keyring, anchor and photos are in."""
    settings = Settings(home=records.keyring.parent, database_url=database_url, actor="os:admin")
    assert (settings.audit_keyring, settings.audit_anchor, settings.photos) == (
        records.keyring,
        records.anchor,
        records.storage.root,
    )
    application = Application(settings)

    def verify() -> AuditReport:
        with application.unit(str(records.admin), access=Access.READ) as uow:
            return records_admin.verify(uow)

    yield verify
    application.close()


Tamper = Callable[[Intruder, Records], str]  # does it; returns what the report must say
TAMPERING: dict[str, tuple[Verdict, Tamper]] = {}


def tampering(name: str, verdict: Verdict = "changed") -> Callable[[Tamper], Tamper]:
    def register(tamper: Tamper) -> Tamper:
        TAMPERING[name] = (verdict, tamper)
        return tamper

    return register


def new() -> str:
    return uuid.uuid4().hex


def row(name: str, found: uuid.UUID) -> str:
    return f"{name} {found}: its stored row no longer matches its last audited state"


def gone(name: str, found: uuid.UUID) -> str:
    return f"{name} {found}: its row is gone, yet the log records it"


def added(name: str, found: str) -> str:
    return f"{name} {uuid.UUID(found)}: no event records its creation"


# -- rows of every audited table: edited, deleted, inserted -----------------------------


@tampering("patient edited")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE patient SET phone = '+1 555 0100' WHERE id = '{r.patient.hex}'")
    return row("patient", r.patient)


@tampering("patient deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM patient WHERE id = '{r.leaving.hex}'")
    return gone("patient", r.leaving)


@tampering("patient inserted")
def _(intruder: Intruder, r: Records) -> str:
    made = new()
    intruder.sql(
        "INSERT INTO patient (id, clinic_id, family_name, given_names, search_name, "
        "identifiers, history, created_at, updated_at) VALUES "
        f"('{made}', '{r.clinic.hex}', 'Ghost', 'Gail', 'ghost gail', '{{}}', '{{}}', "
        f"{intruder.now}, {intruder.now})"
    )
    return added("patient", made)


@tampering("patient hidden from search (search_name edited)")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE patient SET search_name = 'zz' WHERE id = '{r.patient.hex}'")
    return f"patient {r.patient}: its search name no longer follows from its name"


@tampering("consult edited")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE consult SET knowledge_version = 'k-other' WHERE id = '{r.consult.hex}'")
    return row("consult", r.consult)


@tampering("consult deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM consult WHERE id = '{r.consult.hex}'")
    return gone("consult", r.consult)


@tampering("consult inserted")
def _(intruder: Intruder, r: Records) -> str:
    made = new()
    intruder.sql(
        "INSERT INTO consult (id, patient_id, status, consult_date, assessment_json, plan_json, "
        "knowledge_version, created_by, created_at, updated_at) VALUES "
        f"('{made}', '{r.patient.hex}', 'draft', '2026-11-01', '{{}}', '{{}}', 'k', 'os:x', "
        f"{intruder.now}, {intruder.now})"
    )
    return added("consult", made)


@tampering("session edited")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE treatment_session SET notes = 'nothing' WHERE id = '{r.session.hex}'")
    return row("session", r.session)


@tampering("session deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM treatment_session WHERE id = '{r.session.hex}'")
    return gone("session", r.session)


@tampering("session inserted")
def _(intruder: Intruder, r: Records) -> str:
    made = new()
    intruder.sql(
        "INSERT INTO treatment_session (id, patient_id, practitioner_id, status, performed_at, "
        "modality, areas, depths_mm, passes, injection_points, deviations, created_by, "
        f"created_at, updated_at) VALUES ('{made}', '{r.patient.hex}', '{r.practitioner.hex}', "
        f"'draft', {intruder.now}, 'microneedling', '[]', '{{}}', '{{}}', '[]', '[]', 'os:x', "
        f"{intruder.now}, {intruder.now})"
    )
    return added("session", made)


@tampering("session product line edited")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(
        'UPDATE session_product SET volumes_ml = \'{"cheeks": 9.0, "forehead": 0.5}\' '
        f"WHERE session_id = '{r.session.hex}'"
    )
    return row("session", r.session)


@tampering("session product line deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM session_product WHERE session_id = '{r.session.hex}'")
    return row("session", r.session)


@tampering("session product line inserted for no session")
def _(intruder: Intruder, r: Records) -> str:
    nowhere = new()
    intruder.sql(
        "INSERT INTO session_product (id, session_id, position, product, volumes_ml) "
        f"VALUES ('{new()}', '{nowhere}', 0, 'ha_skin_booster', '{{}}')"
    )
    return f"a product line of session {uuid.UUID(nowhere)}: that session does not exist"


@tampering("course edited")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE course SET interval_days = 99 WHERE id = '{r.course.hex}'")
    return row("course", r.course)


@tampering("course deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM course WHERE id = '{r.course.hex}'")
    return gone("course", r.course)


@tampering("course inserted")
def _(intruder: Intruder, r: Records) -> str:
    made = new()
    intruder.sql(
        "INSERT INTO course (id, clinic_id, patient_id, consult_id, modality, products, "
        "sessions_planned, interval_days, status, created_by, created_at, updated_at) VALUES "
        f"('{made}', '{r.clinic.hex}', '{r.patient.hex}', '{r.consult.hex}', 'microneedling', "
        f"'[]', 1, 0, 'planned', 'os:x', {intruder.now}, {intruder.now})"
    )
    return added("course", made)


@tampering("planned session edited")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(
        "UPDATE planned_session SET planned_on = '2030-01-01' "
        f"WHERE course_id = '{r.course.hex}' AND number = 2"
    )
    return row("course", r.course)


@tampering("planned session deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM planned_session WHERE course_id = '{r.course.hex}' AND number = 2")
    return row("course", r.course)


@tampering("adverse event edited")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE adverse_event SET severity = 'mild' WHERE id = '{r.adverse_event.hex}'")
    return row("adverse event", r.adverse_event)


@tampering("adverse event deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM adverse_event WHERE id = '{r.adverse_event.hex}'")
    return gone("adverse event", r.adverse_event)


@tampering("adverse event inserted")
def _(intruder: Intruder, r: Records) -> str:
    made = new()
    intruder.sql(
        "INSERT INTO adverse_event (id, patient_id, status, event_type, severity, onset_date, "
        "causality, outcome, description, reporter_id, created_by, created_at, updated_at) "
        f"VALUES ('{made}', '{r.patient.hex}', 'open', 'bruising', 'mild', '2026-11-02', "
        f"'possible', 'recovering', 'x', '{r.practitioner.hex}', 'os:x', {intruder.now}, "
        f"{intruder.now})"
    )
    return added("adverse event", made)


@tampering("adverse event's lot unlinked")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM adverse_event_lot WHERE adverse_event_id = '{r.adverse_event.hex}'")
    return row("adverse event", r.adverse_event)


@tampering("outcome edited")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE outcome SET score = 5 WHERE id = '{r.outcome.hex}'")
    return row("outcome", r.outcome)


@tampering("outcome deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM outcome WHERE id = '{r.outcome.hex}'")
    return gone("outcome", r.outcome)


@tampering("outcome inserted")
def _(intruder: Intruder, r: Records) -> str:
    made = new()
    intruder.sql(
        "INSERT INTO outcome (id, patient_id, scale, score, assessed_on, assessor_id, "
        "patient_reported, created_by, created_at, updated_at) VALUES "
        f"('{made}', '{r.patient.hex}', 'gais', 1, '2026-11-02', '{r.practitioner.hex}', false, "
        f"'os:x', {intruder.now}, {intruder.now})"
    )
    return added("outcome", made)


@tampering("consent edited")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE consent SET signer_name = 'Someone' WHERE id = '{r.consent.hex}'")
    return row("consent", r.consent)


@tampering("consent deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM consent WHERE id = '{r.consent.hex}'")
    return gone("consent", r.consent)


@tampering("consent inserted")
def _(intruder: Intruder, r: Records) -> str:
    made = new()
    intruder.sql(
        "INSERT INTO consent (id, patient_id, template_id, kind, status, opened_at, created_by, "
        f"created_at, updated_at) VALUES ('{made}', '{r.patient.hex}', '{r.template.hex}', "
        f"'treatment_microneedling', 'opened', {intruder.now}, 'os:x', {intruder.now}, "
        f"{intruder.now})"
    )
    return added("consent", made)


@tampering("consent withdrawal deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM consent_withdrawal WHERE consent_id = '{r.withdrawn.hex}'")
    return row("consent", r.withdrawn)


@tampering("consent withdrawal inserted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(
        "INSERT INTO consent_withdrawal (consent_id, scope, withdrawn_at, reason, withdrawn_by) "
        f"VALUES ('{r.consent.hex}', 'all', {intruder.now}, 'x', 'os:x')"
    )
    return row("consent", r.consent)


@tampering("consent text edited")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE consent_template SET text = 'Other' WHERE id = '{r.template.hex}'")
    return f"consent text {r.template}: its text no longer has the SHA-256 its row records"


@tampering("consent text edited with its hash")
def _(intruder: Intruder, r: Records) -> str:
    digest = hashlib.sha256(b"Other").hexdigest()
    intruder.sql(
        f"UPDATE consent_template SET text = 'Other', content_hash = '{digest}' "
        f"WHERE id = '{r.template.hex}'"
    )
    return row("consent text", r.template)


@tampering("consent text deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM consent_template WHERE id = '{r.template.hex}'")
    return gone("consent text", r.template)


@tampering("consent text inserted")
def _(intruder: Intruder, r: Records) -> str:
    made = new()
    intruder.sql(
        "INSERT INTO consent_template (id, clinic_id, kind, version, text, content_hash, "
        f"published_at, published_by) VALUES ('{made}', '{r.clinic.hex}', 'photo', 9, 'x', "
        f"'{hashlib.sha256(b'x').hexdigest()}', {intruder.now}, 'os:x')"
    )
    return added("consent text", made)


@tampering("photo edited")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE photo SET area = 'neck' WHERE id = '{r.photo.hex}'")
    return row("photo", r.photo)


@tampering("photo deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM photo WHERE id = '{r.photo.hex}'")
    return gone("photo", r.photo)


@tampering("photo inserted")
def _(intruder: Intruder, r: Records) -> str:
    made, photo = new(), r.photo_row()
    intruder.sql(
        "INSERT INTO photo (id, patient_id, area, angle, taken_at, stage, media_type, sha256, "
        f"size_bytes, storage_key, created_by, created_at, updated_at) VALUES ('{made}', "
        f"'{r.patient.hex}', 'neck', 'frontal', {intruder.now}, 'after', 'image/png', "
        f"'{photo.sha256}', {photo.size_bytes}, '{photo.storage_key}', 'os:x', {intruder.now}, "
        f"{intruder.now})"
    )
    return added("photo", made)


@tampering("photo file replaced")
def _(intruder: Intruder, r: Records) -> str:
    key = r.photo_row().storage_key
    (r.storage.root / key).write_bytes(b"another picture")
    return f"photo {r.photo}: its file {key} is not the file its row records"


@tampering("photo file deleted")
def _(intruder: Intruder, r: Records) -> str:
    key = r.photo_row().storage_key
    (r.storage.root / key).unlink()
    return f"photo {r.photo}: its file {key} is missing from the storage"


@tampering("member of staff edited (role)")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE staff SET role = 'admin' WHERE id = '{r.practitioner.hex}'")
    return row("member of staff", r.practitioner)


@tampering("member of staff deactivated")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE staff SET active = NOT active WHERE id = '{r.practitioner.hex}'")
    return row("member of staff", r.practitioner)


@tampering("member of staff deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM staff WHERE id = '{r.practitioner.hex}'")
    return gone("member of staff", r.practitioner)


@tampering("member of staff inserted")
def _(intruder: Intruder, r: Records) -> str:
    made = new()
    intruder.sql(
        "INSERT INTO staff (id, clinic_id, name, role, active, created_at, updated_at) VALUES "
        f"('{made}', '{r.clinic.hex}', 'Eve', 'admin', true, {intruder.now}, {intruder.now})"
    )
    return added("member of staff", made)


@tampering("lot edited (expiry)")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE product_lot SET expiry_date = '2030-01-01' WHERE id = '{r.lot.hex}'")
    return row("lot", r.lot)


@tampering("lot deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM product_lot WHERE id = '{r.lot.hex}'")
    return gone("lot", r.lot)


@tampering("lot inserted")
def _(intruder: Intruder, r: Records) -> str:
    made = new()
    intruder.sql(
        "INSERT INTO product_lot (id, clinic_id, product, lot_number, created_at, updated_at) "
        f"VALUES ('{made}', '{r.clinic.hex}', 'ha_skin_booster', 'X1', {intruder.now}, "
        f"{intruder.now})"
    )
    return added("lot", made)


@tampering("clinic edited (time zone)")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE clinic SET time_zone = 'Pacific/Kiritimati' WHERE id = '{r.clinic.hex}'")
    return row("clinic", r.clinic)


@tampering("clinic inserted")
def _(intruder: Intruder, r: Records) -> str:
    made = new()
    intruder.sql(
        "INSERT INTO clinic (id, name, time_zone, created_at, updated_at) VALUES "
        f"('{made}', 'Elsewhere', 'UTC', {intruder.now}, {intruder.now})"
    )
    return added("clinic", made)


@tampering("sign-in credential edited (password hash replaced)")
def _(intruder: Intruder, r: Records) -> str:
    known = logins.hash_password("a password the intruder knows")
    intruder.sql(
        f"UPDATE staff_credential SET password_hash = '{known}' "
        f"WHERE staff_id = '{r.practitioner.hex}'"
    )
    return row("sign-in credential of member", r.practitioner)


@tampering("sign-in credential edited (TOTP secret replaced)")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(
        "UPDATE staff_credential SET totp_secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' "
        f"WHERE staff_id = '{r.practitioner.hex}'"
    )
    return row("sign-in credential of member", r.practitioner)


@tampering("sign-in credential edited (second factor removed)")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(
        f"UPDATE staff_credential SET totp_secret = NULL WHERE staff_id = '{r.practitioner.hex}'"
    )
    return row("sign-in credential of member", r.practitioner)


@tampering("sign-in credential deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM staff_credential WHERE staff_id = '{r.practitioner.hex}'")
    return gone("sign-in credential of member", r.practitioner)


@tampering("sign-in credential inserted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(
        "INSERT INTO staff_credential (staff_id, login, password_hash, created_at, updated_at) "
        f"VALUES ('{r.admin.hex}', 'nadia', '{password_hash()}', {intruder.now}, {intruder.now})"
    )
    return added("sign-in credential of member", r.admin.hex)


@tampering("API token edited (hash replaced)")
def _(intruder: Intruder, r: Records) -> str:
    known = logins.secret_hash("dpat_a-secret-the-intruder-knows")
    intruder.sql(f"UPDATE api_token SET token_hash = '{known}' WHERE id = '{r.token.hex}'")
    return row("API token", r.token)


@tampering("API token edited (moved to another member)")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE api_token SET staff_id = '{r.admin.hex}' WHERE id = '{r.token.hex}'")
    return row("API token", r.token)


@tampering("API token edited (expiry extended)")
def _(intruder: Intruder, r: Records) -> str:
    later = intruder.now.replace("2026", "2036")
    intruder.sql(f"UPDATE api_token SET expires_at = {later} WHERE id = '{r.token.hex}'")
    return row("API token", r.token)


@tampering("API token edited (revocation cleared)")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE api_token SET revoked_at = NULL WHERE id = '{r.revoked.hex}'")
    return row("API token", r.revoked)


@tampering("API token deleted")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"DELETE FROM api_token WHERE id = '{r.token.hex}'")
    return gone("API token", r.token)


@tampering("API token inserted")
def _(intruder: Intruder, r: Records) -> str:
    made, known = new(), logins.secret_hash("dpat_a-secret-the-intruder-knows")
    intruder.sql(
        "INSERT INTO api_token (id, staff_id, clinic_id, name, token_hash, prefix, created_at, "
        f"expires_at) VALUES ('{made}', '{r.admin.hex}', '{r.clinic.hex}', 'x', '{known}', "
        f"'dpat_x', {intruder.now}, {intruder.now.replace('2026', '2036')})"
    )
    return added("API token", made)


# -- the log itself ---------------------------------------------------------------------


@tampering("event edited", "broken")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(
        f"UPDATE audit_event SET actor = 'os:someone' WHERE clinic_id = '{r.clinic.hex}' "
        "AND lane = 0 AND seq = 3"
    )
    return f"event 3 of clinic {r.clinic} lane 0 was altered after it was written"


@tampering("event deleted from the middle of a chain", "broken")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(
        f"DELETE FROM audit_event WHERE clinic_id = '{r.clinic.hex}' AND lane = 0 AND seq = 2"
    )
    return f"event 2 of clinic {r.clinic} lane 0 is missing (the next is 3)"


@tampering("events reordered", "broken")
def _(intruder: Intruder, r: Records) -> str:
    chain = f"clinic_id = '{r.clinic.hex}' AND lane = 0"
    intruder.sql(
        f"UPDATE audit_event SET seq = -2 WHERE {chain} AND seq = 2",
        f"UPDATE audit_event SET seq = 2 WHERE {chain} AND seq = 3",
        f"UPDATE audit_event SET seq = 3 WHERE {chain} AND seq = -2",
    )
    return f"event 2 of clinic {r.clinic} lane 0 does not follow the one before"


@tampering("chain cut off at its end", "cut")
def _(intruder: Intruder, r: Records) -> str:
    last = r.head().seq
    intruder.sql(
        f"DELETE FROM audit_event WHERE clinic_id = '{r.clinic.hex}' AND lane = 0 "
        f"AND seq > {last - 2}"
    )
    return f"the log ends at event {last - 2} of clinic {r.clinic} lane 0 but the anchor"


def _forgery(r: Records) -> dict[str, Any]:
    """A `patient.update` an intruder appends after editing the patient: every field
    right, the state after the edit digested."""
    head = r.head()
    return {
        "clinic_id": r.clinic,
        "lane": 0,
        "seq": head.seq + 1,
        "occurred_at": NOW,
        "actor": "os:someone",
        "staff_id": r.practitioner,
        "action": "patient.update",
        "record_type": "patient",
        "record_id": str(r.patient),
        "patient_id": r.patient,
        "before_digest": None,
        "after_digest": "0" * 64,
        "prev_hash": head.hash,
    }


@tampering("event appended in the unsigned form of revision 0012", "broken")
def _(intruder: Intruder, r: Records) -> str:
    forged = _forgery(r)
    intruder.append(forged, None)
    return (
        f"event {forged['seq']} of clinic {r.clinic} lane 0 is not signed by the audit key, "
        "yet follows signed events"
    )


@tampering("event appended, signed with another key", "broken")
def _(intruder: Intruder, r: Records) -> str:
    forged, key = _forgery(r), AuditKey.new(NOW)
    intruder.append(forged, key)
    return (
        f"event {forged['seq']} of clinic {r.clinic} lane 0 is signed by the audit key "
        f"{key.id}, which the keyring {r.keyring} does not hold"
    )


@tampering("event appended under the key's id, without the key", "broken")
def _(intruder: Intruder, r: Records) -> str:
    forged, guess = _forgery(r), AuditKey.new(NOW)
    real = KeyringFile(r.keyring).require().keys[-1]
    intruder.append(forged, AuditKey(real.id, guess.secret, guess.created_at))
    return f"event {forged['seq']} of clinic {r.clinic} lane 0 was altered after it was written"


@tampering("new chain of unsigned events", "broken")
def _(intruder: Intruder, r: Records) -> str:
    forged = _forgery(r) | {"lane": 7, "seq": 1, "prev_hash": GENESIS}
    intruder.append(forged, None)
    return f"clinic {r.clinic} lane 7 ends with event 1, which no audit key signed"


@tampering("anchor moved back to an earlier valid event", "ahead")
def _(intruder: Intruder, r: Records) -> str:
    earlier = r.anchor.read_bytes()
    head = r.head().seq
    add_patient(r.engine, r.clinic, family_name="Later")
    r.anchor.write_bytes(earlier)
    return f"clinic {r.clinic} lane 0: events {head + 1} to {head + 1} are not in the anchor"


@tampering("keyring replaced", "broken")
def _(intruder: Intruder, r: Records) -> str:
    r.keyring.unlink()
    KeyringFile(r.keyring).create(NOW)
    return f"which the keyring {r.keyring} does not hold: put back the keyring"


@tampering("keyring deleted", "broken")
def _(intruder: Intruder, r: Records) -> str:
    r.keyring.unlink()
    return f"which the keyring {r.keyring} does not hold: put back the keyring"


@tampering("keyring put back to before a rotation", "broken")
def _(intruder: Intruder, r: Records) -> str:
    before = r.keyring.read_bytes()
    with transaction(r.engine) as session:
        from dermaplan.records.audit import rotate_audit_key

        rotated = rotate_audit_key(session, context(), r.clinic, KeyringFile(r.keyring))
    r.keyring.write_bytes(before)
    return f"is signed by the audit key {rotated.keys[-1].id}, which the keyring {r.keyring}"


@tampering("database identity edited", "refused")
def _(intruder: Intruder, r: Records) -> str:
    intruder.sql(f"UPDATE database_identity SET id = '{new()}'")
    return "belongs to another database"


def test_untouched_records_verify(records: Records, audit: Callable[[], AuditReport]) -> None:
    report = audit()
    assert report.intact, report
    assert (report.changed, report.ahead, report.broken, report.cut) == ([], [], None, None)


@pytest.mark.parametrize("name", list(TAMPERING))
def test_audit_verify_finds_it(
    name: str, records: Records, audit: Callable[[], AuditReport]
) -> None:
    verdict, tamper = TAMPERING[name]
    expected = tamper(Intruder(records.engine), records)
    if verdict == "refused":
        with pytest.raises(DatabaseError, match=expected):
            audit()
        return
    report = audit()
    said = {
        "changed": report.changed,
        "broken": [report.broken or ""],
        "cut": [report.cut or ""],
        "ahead": report.ahead,
    }[verdict]
    assert any(expected in line for line in said), (expected, report)
    assert report.intact == (verdict == "ahead"), report


@pytest.fixture
def imported(engine: Engine, kb: KnowledgeBase, storage: LocalFolderStorage) -> Engine:
    """A small clinic loaded in bulk: no event per row, a `records.import` per type."""
    clinic = demo.DemoClinic(kb, seed=3, patients=4, sessions=8, today=NOW.date())
    demo.bulk_load(engine, context(), clinic, storage)
    return engine


def first(table: str) -> str:
    return f"(SELECT id FROM {table} ORDER BY id LIMIT 1)"


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (f"UPDATE patient SET phone = '+1 555 0100' WHERE id = {first('patient')}", "patient"),
        (f"DELETE FROM photo WHERE id = {first('photo')}", "photo"),
        (f"UPDATE treatment_session SET notes = 'x' WHERE id = {first('treatment_session')}",
         "session"),
        ("INSERT INTO product_lot (id, clinic_id, product, lot_number, created_at, updated_at) "
         f"SELECT '{uuid.uuid4().hex}', clinic_id, product, 'X9', created_at, updated_at "
         f"FROM product_lot WHERE id = {first('product_lot')}", "lot"),
    ],
)  # fmt: skip
def test_a_bulk_import_is_checked_whole(
    imported: Engine, storage: LocalFolderStorage, change: str, kind: str
) -> None:
    """Rows loaded in bulk have no event each, but their import's count and keyed sum:
    any one of them edited, deleted or added is found (by its type, not its id)."""
    Intruder(imported).sql(change)
    with transaction(imported, write=False) as session:
        report = verify_log(session, None, keyring=keys_of(imported), photos=storage)
    assert not report.intact
    assert any(
        line.startswith(f"{kind}s imported in bulk (event ")
        and "are not the rows it recorded" in line
        for line in report.changed
    ), report.changed
