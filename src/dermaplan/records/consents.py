"""Consents: versioned template texts, the consents patients sign, and their withdrawal.

A template version is published once and never changes (a new text is a new version). A
consent records the exact version shown, when it was opened and signed, by whom, and the
signature (typed, or a drawn PNG); photo consent says yes or no to every scope. A signed
consent never changes: a withdrawal (of the whole consent, or of one photo scope) is a row
added to it. Services never commit (see records.service).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Row
from sqlalchemy.orm import Session

from dermaplan.records.audit import AuditAction, record_event
from dermaplan.records.context import Context
from dermaplan.records.enums import ConsentKind, ConsentStatus, PhotoScope
from dermaplan.records.errors import ImmutableRecord, InvalidInput, NotFound, given_text, required
from dermaplan.records.lifecycle import written_reason
from dermaplan.records.models import (
    Consent,
    ConsentTemplate,
    ConsentWithdrawal,
    Staff,
    new_id,
)
from dermaplan.records.repository import (
    ConsentRepository,
    ConsentTemplateRepository,
    PatientRepository,
    nested,
)
from dermaplan.records.schemas import ConsentData

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_TEMPLATE_CHARS = 200_000
ALL = "all"


def text_hash(text: str) -> str:
    """The SHA-256 of a consent text, which its template row keeps as `content_hash`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def template_state(record: ConsentTemplate) -> dict[str, Any]:
    return {
        "id": record.id,
        "clinic_id": record.clinic_id,
        "kind": record.kind,
        "version": record.version,
        "content_hash": record.content_hash,
        "published_at": record.published_at,
        "published_by": record.published_by,
    }


class WithdrawalFacts(Protocol):
    """What a withdrawal says: a ConsentWithdrawal, or a WithdrawalLine read as a row."""

    @property
    def scope(self) -> str: ...
    @property
    def withdrawn_at(self) -> dt.datetime: ...
    @property
    def reason(self) -> str: ...


class ConsentFacts(Protocol):
    """What a consent says: a Consent, or a ConsentLine read as a row (the timeline)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def patient_id(self) -> uuid.UUID: ...
    @property
    def template_id(self) -> uuid.UUID: ...
    @property
    def kind(self) -> ConsentKind: ...
    @property
    def status(self) -> ConsentStatus: ...
    @property
    def opened_at(self) -> dt.datetime: ...
    @property
    def signed_at(self) -> dt.datetime | None: ...
    @property
    def signer_name(self) -> str | None: ...
    @property
    def signature_text(self) -> str | None: ...
    @property
    def signature_image(self) -> bytes | None: ...
    @property
    def signature_media_type(self) -> str | None: ...
    @property
    def photo_scopes(self) -> dict[str, bool] | None: ...


class WithdrawalLine(NamedTuple):
    """A withdrawal as a consent's line reads it (named as ConsentWithdrawal's columns)."""

    consent_id: uuid.UUID
    scope: str
    withdrawn_at: dt.datetime
    reason: str


@dataclass(frozen=True, slots=True)
class ConsentLine:
    """A consent as a patient's chart and consents read it: its columns (named as Consent's),
    its template's version and its withdrawals, oldest first; no ORM objects."""

    id: uuid.UUID
    patient_id: uuid.UUID
    template_id: uuid.UUID
    kind: ConsentKind
    status: ConsentStatus
    opened_at: dt.datetime
    signed_at: dt.datetime | None
    signer_name: str | None
    signature_text: str | None
    signature_image: bytes | None
    signature_media_type: str | None
    photo_scopes: dict[str, bool] | None
    template_version: int
    withdrawals: list[WithdrawalLine]


def consent_lines(rows: Iterable[Row[*tuple[Any, ...]]]) -> list[ConsentLine]:
    """The consents of ConsentRepository.rows_of_patient, a row per withdrawal."""
    return nested(
        rows,
        lambda row: ConsentLine(
            row.id,
            row.patient_id,
            row.template_id,
            row.kind,
            row.status,
            row.opened_at,
            row.signed_at,
            row.signer_name,
            row.signature_text,
            row.signature_image,
            row.signature_media_type,
            row.photo_scopes,
            row.template_version,
            [],
        ),
        lambda row: (
            None
            if row.withdrawn_scope is None
            else WithdrawalLine(row.id, row.withdrawn_scope, row.withdrawn_at, row.withdrawn_reason)
        ),
        lambda line: line.withdrawals,
    )


def consent_state(record: ConsentFacts, withdrawals: Collection[WithdrawalFacts]) -> dict[str, Any]:
    """Everything a consent says, withdrawals included, for the audit digests (of a Consent
    or of a ConsentLine alike)."""
    image = record.signature_image
    return {
        "id": record.id,
        "patient_id": record.patient_id,
        "template_id": record.template_id,
        "kind": record.kind,
        "status": record.status,
        "opened_at": record.opened_at,
        "signed_at": record.signed_at,
        "signer_name": record.signer_name,
        "signature_text": record.signature_text,
        "signature_image_sha256": hashlib.sha256(image).hexdigest() if image else None,
        "signature_media_type": record.signature_media_type,
        "photo_scopes": record.photo_scopes,
        "withdrawals": sorted(
            [w.scope, w.withdrawn_at.astimezone(dt.UTC).isoformat(), w.reason] for w in withdrawals
        ),
    }


def _publisher(session: Session, context: Context) -> str:
    """Who published a text, as people read it: the member of staff acting, by name (the
    operating-system user where nobody is named, as in the demo's set-up)."""
    member = session.get(Staff, context.staff_id) if context.staff_id else None
    return member.name if member is not None else context.actor


def publish_template(
    session: Session, context: Context, clinic_id: uuid.UUID, kind: ConsentKind, text: str
) -> ConsentTemplate:
    """Publish the next version of a kind's consent text; published versions never change."""
    body = given_text(text, "text", prose=True)
    if not body:
        raise InvalidInput.one("text: a consent template needs its text")
    if len(body) > MAX_TEMPLATE_CHARS:
        raise InvalidInput.one(f"text: longer than {MAX_TEMPLATE_CHARS} characters")
    templates = ConsentTemplateRepository(session, clinic_id)
    record = ConsentTemplate(
        id=new_id(),
        clinic_id=clinic_id,
        kind=kind,
        version=templates.latest_version(kind) + 1,
        text=body,
        content_hash=text_hash(body),
        published_at=context.now,
        published_by=_publisher(session, context),
    )
    templates.add(record)
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.CONSENT_TEMPLATE_CREATE,
        "consent_template",
        record.id,
        after=template_state(record),
    )
    return record


def _aware(value: dt.datetime, field: str, problems: list[str]) -> bool:
    if value.tzinfo is None or value.utcoffset() is None:
        problems.append(f"{field}: {value.isoformat()} has no timezone; give one")
        return False
    return True


def _signature(data: ConsentData, problems: list[str]) -> tuple[str | None, bytes | None]:
    if (data.signature is None) == (data.signature_png is None):
        problems.append("signature: give a typed signature or signature_png, exactly one")
        return None, None
    if data.signature is not None:
        if not data.signature:
            problems.append("signature: a typed signature cannot be empty")
        return data.signature, None
    assert data.signature_png is not None
    try:
        image = base64.b64decode(data.signature_png, validate=True)
    except (binascii.Error, ValueError):
        problems.append("signature_png: not base64 data")
        return None, None
    problem = _drawn_signature_problem(image)
    if problem is not None:
        problems.append(problem)
    return None, image


def _drawn_signature_problem(image: bytes) -> str | None:
    """Why a drawn signature is refused: not a whole PNG, larger than a signature may be, in
    bytes or in pixels (read from its header before anything is decoded), or blank (every
    pixel the same: a pad sent without a stroke on it), whichever way it is signed."""
    from PIL import UnidentifiedImageError

    from dermaplan.records.images import SIGNATURE, opened_image, unwarned

    if not image.startswith(PNG_SIGNATURE):
        return "signature_png: not a PNG image"
    try:
        with opened_image(image, SIGNATURE) as opened, unwarned():
            opened.verify()
        with opened_image(image, SIGNATURE) as opened, unwarned():  # verify() spends it
            extrema = opened.convert("RGBA").getextrema()
    except InvalidInput as error:
        return error.problems[0]
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return "signature_png: not a readable PNG image"
    if all(low == high for low, high in extrema):  # type: ignore[misc]
        return "signature_png: the signature is blank; sign in the box"
    return None


def open_consent(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    kind: ConsentKind,
) -> Consent:
    """Record that the current version of a kind's text is shown to the patient now; the
    consent counts for nothing until it is signed (`record_consent` with `consent`)."""
    patient = required(
        PatientRepository(session, clinic_id).get(patient_id), f"no patient {patient_id}"
    )
    templates = ConsentTemplateRepository(session, clinic_id)
    template = required(
        templates.version(kind, templates.latest_version(kind)),
        f"kind: no {kind.value} consent text is published yet",
    )
    record = Consent(
        id=new_id(),
        patient=patient,
        template_id=template.id,
        kind=template.kind,
        status=ConsentStatus.OPENED,
        opened_at=context.now,
        # Photo consent always carries its scopes: none is granted before the signature.
        photo_scopes={scope.value: False for scope in PhotoScope}
        if kind is ConsentKind.PHOTO
        else None,
        created_by=context.actor,
        created_at=context.now,
        updated_at=context.now,
    )
    ConsentRepository(session, clinic_id).add(record)
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.CONSENT_OPEN,
        "consent",
        record.id,
        patient_id=record.patient_id,
        after=consent_state(record, []),
    )
    return record


def _shown(
    session: Session, clinic_id: uuid.UUID, data: ConsentData
) -> tuple[ConsentTemplate, dt.datetime, Consent | None]:
    """The template version shown and when, from the file or from the opened consent."""
    if data.consent is not None:
        opened = ConsentRepository(session, clinic_id).get(data.consent)
        if opened is None or opened.patient_id != data.patient:
            raise NotFound.one(f"consent: no consent {data.consent} for this patient")
        if opened.status is not ConsentStatus.OPENED:
            raise ImmutableRecord.one(f"consent: {opened.id} is already signed")
        return opened.template, opened.opened_at, opened
    if data.template is None or data.opened_at is None:
        raise InvalidInput.one("template: give the version shown and opened_at, or consent")
    template = required(
        ConsentTemplateRepository(session, clinic_id).get(data.template),
        f"template: no consent template version {data.template}",
    )
    return template, data.opened_at, None


def record_consent(
    session: Session, context: Context, clinic_id: uuid.UUID, data: ConsentData
) -> Consent:
    """Store a signed consent, or sign an opened one; an unsigned one is refused (it cannot
    be completed)."""
    patient = required(
        PatientRepository(session, clinic_id).get(data.patient),
        f"patient: no patient {data.patient}",
    )
    template, opened_at, opened = _shown(session, clinic_id, data)
    problems: list[str] = []
    if data.signed_at is None:
        problems.append("signed_at: a consent cannot be completed unsigned")
    if not data.signer:
        problems.append("signer: a consent needs the signer's name")
    text, image = _signature(data, problems)
    opened_ok = _aware(opened_at, "opened_at", problems)
    if data.signed_at is not None and _aware(data.signed_at, "signed_at", problems):
        if opened_ok and data.signed_at < opened_at:
            problems.append("signed_at: before the consent was opened")
        if data.signed_at > context.now:
            problems.append("signed_at: in the future")
        if data.signed_at < template.published_at:
            problems.append("signed_at: before this template version was published")
    scopes: dict[str, bool] | None = None
    if template.kind is ConsentKind.PHOTO:
        given = data.scopes or {}
        absent = [scope.value for scope in PhotoScope if scope not in given]
        if absent:
            problems.append(f"scopes: photo consent must answer every scope; missing {absent}")
        scopes = {scope.value: bool(granted) for scope, granted in given.items()}
    elif data.scopes is not None:
        problems.append(f"scopes: only photo consent has scopes, not {template.kind.value}")
    if problems:
        raise InvalidInput(problems)
    before = None if opened is None else consent_state(opened, [])
    record = opened or Consent(
        id=new_id(),
        patient=patient,
        template_id=template.id,
        kind=template.kind,
        opened_at=opened_at,
        created_by=context.actor,
        created_at=context.now,
    )
    record.status = ConsentStatus.SIGNED
    record.signed_at = data.signed_at
    record.signer_name = data.signer
    record.signature_text = text
    record.signature_image = image
    record.signature_media_type = "image/png" if image is not None else None
    record.photo_scopes = scopes
    record.updated_at = context.now
    if opened is None:
        ConsentRepository(session, clinic_id).add(record)
    else:
        session.flush()
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.CONSENT_CREATE if opened is None else AuditAction.CONSENT_SIGN,
        "consent",
        record.id,
        patient_id=record.patient_id,
        before=before,
        after=consent_state(record, []),
    )
    return record


def patient_consents(
    session: Session, context: Context, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> list[ConsentLine]:
    """Every consent of a patient, soft-deleted or not, opened or signed, with its template's
    version and its withdrawals, in the order they were opened; the read is audited."""
    patient = required(
        PatientRepository(session, clinic_id).get(patient_id, include_deleted=True),
        f"no patient {patient_id}",
    )
    found = consent_lines(ConsentRepository(session, clinic_id).rows_of_patient(patient.id))
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.CONSENT_LIST,
        "patient",
        patient.id,
        patient_id=patient.id,
        after=[consent_state(record, record.withdrawals) for record in found],
    )
    return found


def read_consent(
    session: Session, context: Context, clinic_id: uuid.UUID, consent_id: uuid.UUID
) -> Consent:
    """One consent of the clinic's, with its template (the exact text shown) and
    withdrawals; the read is audited."""
    record = required(
        ConsentRepository(session, clinic_id).get(consent_id), f"no consent {consent_id}"
    )
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.CONSENT_READ,
        "consent",
        record.id,
        patient_id=record.patient_id,
        after=consent_state(record, record.withdrawals),
    )
    return record


def consent_templates(session: Session, clinic_id: uuid.UUID) -> Sequence[ConsentTemplate]:
    """Every published version of every kind (texts, not patient data: not audited)."""
    return ConsentTemplateRepository(session, clinic_id).every()


def consent_template(
    session: Session, clinic_id: uuid.UUID, kind: ConsentKind, version: int | None = None
) -> ConsentTemplate:
    """One published version of a kind's text, by default the current one."""
    templates = ConsentTemplateRepository(session, clinic_id)
    wanted = templates.latest_version(kind) if version is None else version
    return required(
        templates.version(kind, wanted),
        f"no {kind.value} consent text"
        + (" is published yet" if version is None else f" version {version}"),
    )


def withdraw_consent(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    consent_id: uuid.UUID,
    reason: str,
    scope: PhotoScope | None = None,
) -> ConsentWithdrawal:
    """Withdraw a signed consent, or one scope of a photo consent; from now on it (or that
    scope) no longer counts, for what is done next and for photos already taken."""
    consents = ConsentRepository(session, clinic_id)
    record = required(consents.get(consent_id), f"no consent {consent_id}")
    if record.status is not ConsentStatus.SIGNED:
        raise InvalidInput.one(f"consent {record.id} was opened, never signed: nothing to withdraw")
    written = written_reason(reason, "a withdrawal")
    if scope is not None and record.kind is not ConsentKind.PHOTO:
        raise InvalidInput.one(f"scope: only photo consent has scopes, not {record.kind.value}")
    withdrawn = {w.scope for w in record.withdrawals}
    key = scope.value if scope else ALL
    if ALL in withdrawn or key in withdrawn:
        raise ImmutableRecord.one(f"consent {record.id}: {key} is already withdrawn")
    if scope is not None and not (record.photo_scopes or {}).get(scope.value):
        raise InvalidInput.one(f"scope: {scope.value} was never granted in consent {record.id}")
    before = consent_state(record, record.withdrawals)
    withdrawal = ConsentWithdrawal(
        consent_id=record.id,
        scope=key,
        withdrawn_at=context.now,
        reason=written,
        withdrawn_by=context.actor,
    )
    consents.add_withdrawal(withdrawal)
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.CONSENT_WITHDRAW,
        "consent",
        record.id,
        patient_id=record.patient_id,
        before=before,
        after=consent_state(record, [*record.withdrawals, withdrawal]),
    )
    return withdrawal


def photo_scopes_in_force(
    session: Session, clinic_id: uuid.UUID, consent_id: uuid.UUID
) -> dict[PhotoScope, bool]:
    """What a photo consent allows now: granted and not withdrawn, scope by scope."""
    record = ConsentRepository(session, clinic_id).get(consent_id)
    if record is None or record.kind is not ConsentKind.PHOTO:
        raise NotFound.one(f"no photo consent {consent_id}")
    withdrawn = {w.scope for w in record.withdrawals}
    granted = record.photo_scopes or {}
    return {
        scope: record.status is ConsentStatus.SIGNED
        and bool(granted.get(scope.value))
        and ALL not in withdrawn
        and scope.value not in withdrawn
        for scope in PhotoScope
    }


SESSION_MINUTE = dt.timedelta(minutes=1)  # the precision a session's time is written to


def consented_kinds(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID, at: dt.datetime
) -> set[ConsentKind]:
    """The consent kinds valid for a session at `at`: signed before it, not later that day,
    and not withdrawn by then. A session's time is written to the minute (the charting form,
    a session file), so whatever happened within that minute happened at the session: a
    consent signed in it counts (the patient signs, then the session is charted), and a
    withdrawal made in it is in force (a withdrawal always wins)."""
    minute = at.replace(second=0, microsecond=0)
    return ConsentRepository(session, clinic_id).valid_kinds(patient_id, minute + SESSION_MINUTE)
