"""Plain functions that make what tests need: contexts, patient data, consult documents."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
import uuid
import zlib
from typing import Any

from PIL import Image
from sqlalchemy import Engine, func, select

from dermaplan.knowledge import KnowledgeBase
from dermaplan.records import service
from dermaplan.records.context import Context
from dermaplan.records.db import transaction
from dermaplan.records.enums import PhotoStage, StaffRole
from dermaplan.records.models import AuditEvent, Consult, Patient, TreatmentSession
from dermaplan.records.photos import PhotoData, PhotoStorage, record_photo
from dermaplan.records.schemas import ConsultDocument, PatientData, SessionData

NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
KNOWLEDGE = "kb-test-0001"


def context(actor: str = "staff:test", now: dt.datetime = NOW) -> Context:
    return Context(actor=actor, now=now)


def patient_data(**fields: Any) -> PatientData:
    values: dict[str, Any] = {"family_name": "Moreau", "given_names": "Claire"} | fields
    return PatientData.parse(values)


TODAY = NOW.date()


def document(note: str = "first", consult_date: dt.date = TODAY) -> ConsultDocument:
    """A stand-in for the engine's output: the records layer stores it, never reads it."""
    return ConsultDocument(
        consult_date=consult_date,
        assessment_json=json.dumps({"consult_date": consult_date.isoformat(), "notes": note}),
        plan_json=json.dumps({"schema_version": "2", "knowledge_version": KNOWLEDGE, "note": note}),
        knowledge_version=KNOWLEDGE,
    )


def make_clinic(engine: Engine) -> uuid.UUID:
    with transaction(engine) as session:
        return service.create_clinic(session, context(), "Clinique du Parc").id


def make_practitioner(
    engine: Engine, clinic_id: uuid.UUID, role: StaffRole = StaffRole.PRACTITIONER
) -> uuid.UUID:
    with transaction(engine) as session:
        return service.add_staff(session, context(), clinic_id, "Dr Ana Lima", role, "GMC 1234").id


def add_patient(engine: Engine, clinic_id: uuid.UUID, **fields: Any) -> uuid.UUID:
    with transaction(engine) as session:
        return service.create_patient(session, context(), clinic_id, patient_data(**fields)).id


def add_consult(engine: Engine, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> uuid.UUID:
    with transaction(engine) as session:
        return service.create_consult(session, context(), clinic_id, patient_id, document()).id


def counts(engine: Engine) -> tuple[int, int, int]:
    """(patients, consults, audit events) as committed."""
    with transaction(engine, write=False) as session:
        return (
            session.scalar(select(func.count()).select_from(Patient)) or 0,
            session.scalar(select(func.count()).select_from(Consult)) or 0,
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def events(engine: Engine) -> list[AuditEvent]:
    with transaction(engine, write=False) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def session_fields(
    patient_id: uuid.UUID, practitioner_id: uuid.UUID, **fields: Any
) -> dict[str, Any]:
    """A safe, complete microneedling session, as a session file would give it."""
    return {
        "patient": str(patient_id),
        "practitioner": str(practitioner_id),
        "performed_at": "2026-11-02T10:30:00+01:00",
        "modality": "microneedling",
        "areas": ["cheeks", "forehead"],
        "device": "Dermapen 4",
        "needle_cartridge": "16-pin",
        "depths_mm": {"cheeks": 1.5, "forehead": 0.5},
        "passes": {"cheeks": 3, "forehead": 2},
        "products": [
            {
                "product": "ha_skin_booster",
                "lot": "HB2391",
                "expiry": "2027-03-31",
                "volumes_ml": {"cheeks": 1.0, "forehead": 0.5},
            }
        ],
        "injection_points": [{"area": "cheeks", "x": 0.31, "y": 0.55}],
        "anaesthesia": "topical lidocaine 5%, 30 minutes",
        "deviations": [{"change": "forehead at 0.5 mm", "reason": "thin skin"}],
        "notes": "pinpoint bleeding on the cheeks",
    } | fields


def session_data(
    kb: KnowledgeBase, patient_id: uuid.UUID, practitioner_id: uuid.UUID, **fields: Any
) -> SessionData:
    return SessionData.parse(session_fields(patient_id, practitioner_id, **fields), kb)


def session_counts(engine: Engine) -> tuple[int, int]:
    """(sessions, audit events) as committed."""
    with transaction(engine, write=False) as session:
        return (
            session.scalar(select(func.count()).select_from(TreatmentSession)) or 0,
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def add_consent(
    engine: Engine,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    kind: str = "treatment_microneedling",
    signed_at: dt.datetime = NOW - dt.timedelta(days=1),
    **fields: Any,
) -> uuid.UUID:
    """A signed consent of this kind (publishing a template version for it)."""
    from dermaplan.records import consents
    from dermaplan.records.enums import ConsentKind
    from dermaplan.records.schemas import ConsentData

    with transaction(engine) as session:
        early = context(now=signed_at - dt.timedelta(days=1))
        template = consents.publish_template(
            session, early, clinic_id, ConsentKind(kind), f"I consent to {kind}."
        )
        data = ConsentData.parse(
            {
                "patient": str(patient_id),
                "template": str(template.id),
                "opened_at": (signed_at - dt.timedelta(minutes=10)).isoformat(),
                "signed_at": signed_at.isoformat(),
                "signer": "Claire Moreau",
                "signature": "C. Moreau",
            }
            | fields
        )
        now = max(NOW, signed_at + dt.timedelta(minutes=1))
        return consents.record_consent(session, context(now=now), clinic_id, data).id


def image_bytes(colour: str = "salmon", image_format: str = "PNG") -> bytes:
    """A small photo file, as a camera or a scanner would hand it over."""
    out = io.BytesIO()
    Image.new("RGB", (16, 8), colour).save(out, format=image_format)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed one-bit grey PNG of `width`×`height` pixels, all zeros, compressed to
    a few kilobytes per megapixel: what a decompression bomb looks like."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then the row's bits
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def add_photos(
    engine: Engine,
    clinic_id: uuid.UUID,
    storage: PhotoStorage,
    patient_id: uuid.UUID,
    *areas: str,
    stage: str = "before",
    session_id: uuid.UUID | None = None,
    taken_at: dt.datetime = NOW - dt.timedelta(minutes=30),
    colour: str = "salmon",
) -> list[uuid.UUID]:
    """One photo of each area (by default, before-photos on the day of `session_fields`)."""
    with transaction(engine) as session:
        return [
            record_photo(
                session,
                context(),
                clinic_id,
                storage,
                PhotoData(patient_id, area, "frontal", taken_at, PhotoStage(stage), session_id),
                image_bytes(colour),
            ).id
            for area in areas
        ]
