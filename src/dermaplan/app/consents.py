"""Consents: the clinic's versioned consent texts, and the consents patients are shown,
sign and withdraw.

An admin publishes the texts; everyone may read them. Reception hands consent forms over
at the desk as practitioners do in the room, so both open, sign, withdraw and list a
patient's consents; neither reaches clinical notes through them.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dermaplan.app.patients import ConsentEntry, Withdrawal
from dermaplan.app.principal import ADMIN, EVERYONE, FRONT_DESK, Access, allowed
from dermaplan.app.reads import ReadModel, Refused
from dermaplan.app.unit import UnitOfWork
from dermaplan.records.consents import MAX_TEMPLATE_CHARS as MAX_TEMPLATE_CHARS  # for forms
from dermaplan.records.enums import ConsentKind, PhotoScope
from dermaplan.records.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from dermaplan.records.schemas import ConsentData


class TemplateVersion(ReadModel):
    """One published version of a consent text, as lists show it."""

    id: uuid.UUID
    kind: ConsentKind
    version: int
    published_at: dt.datetime
    published_by: str


class TemplateText(TemplateVersion):
    """A version with its exact text, as patients are shown it."""

    text: str


class ConsentDesk(ReadModel):
    """A patient's consents, and the current version of each kind that may be shown next."""

    patient_id: uuid.UUID
    consents: list[ConsentEntry]
    current: list[TemplateVersion]


class ShownConsent(ReadModel):
    """One consent with the exact text of its version, as the patient reads and signs it,
    and how it was signed: a typed name, or a drawn signature (base64 PNG)."""

    patient_id: uuid.UUID
    consent: ConsentEntry
    text: str
    typed_signature: str | None
    drawn_signature_png: str | None


@allowed(ADMIN)
def publish(uow: UnitOfWork, kind: ConsentKind, text: str) -> TemplateVersion:
    """Publish the next version of a kind's text; published versions never change."""
    from dermaplan.records.consents import publish_template

    record = publish_template(uow.session, uow.context, uow.clinic_id, kind, text)
    return TemplateVersion.model_validate(record)


@allowed(*EVERYONE, access=Access.READ)
def templates(uow: UnitOfWork) -> list[TemplateVersion]:
    """Every published version of every kind (texts, not patient data: not audited)."""
    from dermaplan.records.consents import consent_templates

    return [
        TemplateVersion.model_validate(record)
        for record in consent_templates(uow.session, uow.clinic_id)
    ]


@allowed(ADMIN, access=Access.READ)
def texts(uow: UnitOfWork) -> list[TemplateText]:
    """Every published version of every kind with its exact text: what an admin reads
    before publishing the next."""
    from dermaplan.records.consents import consent_templates

    return [
        TemplateText.model_validate(record)
        for record in consent_templates(uow.session, uow.clinic_id)
    ]


@allowed(*EVERYONE, access=Access.READ)
def template(uow: UnitOfWork, kind: ConsentKind, version: int | None = None) -> TemplateText:
    """One version of a kind's text, by default the current one."""
    from dermaplan.records.consents import consent_template

    return TemplateText.model_validate(consent_template(uow.session, uow.clinic_id, kind, version))


@allowed(*FRONT_DESK)
def open_consent(uow: UnitOfWork, patient_id: uuid.UUID, kind: ConsentKind) -> ConsentEntry:
    """Record that the current version of a kind's text is shown to the patient now; it
    counts for nothing until it is signed."""
    from dermaplan.records.consents import open_consent as open_one

    record = open_one(uow.session, uow.context, uow.clinic_id, patient_id, kind)
    return _entry(uow, record.id)


@allowed(*FRONT_DESK)
def sign(uow: UnitOfWork, data: ConsentData) -> ConsentEntry:
    """Store a signed consent, or complete an opened one (`data.consent`)."""
    from dermaplan.records.consents import record_consent

    record = record_consent(uow.session, uow.context, uow.clinic_id, data)
    return _entry(uow, record.id)


@allowed(*FRONT_DESK)
def withdraw(
    uow: UnitOfWork, consent_id: uuid.UUID, reason: str, scope: PhotoScope | None = None
) -> Withdrawal:
    """Withdraw a signed consent, or one scope of a photo consent; it stays on record."""
    return _withdrawn(uow, consent_id, reason, scope)


def _withdrawn(
    uow: UnitOfWork, consent_id: uuid.UUID, reason: str, scope: PhotoScope | None
) -> Withdrawal:
    from dermaplan.records.consents import withdraw_consent

    done = withdraw_consent(uow.session, uow.context, uow.clinic_id, consent_id, reason, scope)
    return Withdrawal(scope=done.scope, at=done.withdrawn_at, reason=done.reason)


@allowed(*FRONT_DESK, access=Access.AUDITED_READ)
def of_patient(uow: UnitOfWork, patient_id: uuid.UUID) -> list[ConsentEntry]:
    """A patient's consents in the order they were opened; the reading is audited."""
    from dermaplan.records.consents import patient_consents

    found = patient_consents(uow.session, uow.context, uow.clinic_id, patient_id)
    return [ConsentEntry.of(consent) for consent in found]


@allowed(*FRONT_DESK, access=Access.AUDITED_READ)
def desk(uow: UnitOfWork, patient_id: uuid.UUID) -> ConsentDesk:
    """A patient's consents and what may be shown to them next; the reading is audited."""
    from dermaplan.records.consents import consent_templates, patient_consents

    found = patient_consents(uow.session, uow.context, uow.clinic_id, patient_id)
    latest = {record.kind: record for record in consent_templates(uow.session, uow.clinic_id)}
    return ConsentDesk(
        patient_id=patient_id,
        consents=[ConsentEntry.of(consent) for consent in found],
        current=[TemplateVersion.model_validate(latest[kind]) for kind in sorted(latest)],
    )


@allowed(*FRONT_DESK, access=Access.AUDITED_READ)
def shown(uow: UnitOfWork, consent_id: uuid.UUID) -> ShownConsent:
    """One consent with its exact text and signature; the reading is audited."""
    return _shown(uow, consent_id)


def _shown(uow: UnitOfWork, consent_id: uuid.UUID) -> ShownConsent:
    from dermaplan.records.consents import read_consent

    record = read_consent(uow.session, uow.context, uow.clinic_id, consent_id)
    image = record.signature_image
    return ShownConsent(
        patient_id=record.patient_id,
        consent=ConsentEntry.of(record),
        text=record.template.text,
        typed_signature=record.signature_text,
        drawn_signature_png=base64.b64encode(image).decode("ascii") if image else None,
    )


@dataclass(frozen=True, slots=True)
class DeskSignature:
    """A consent signed in front of the member: the patient's name, and their signature
    typed or drawn (base64 PNG, exactly one, not blank); a photo consent answers every
    scope."""

    signer: str
    typed: str | None = None
    drawn_png: str | None = None
    scopes: dict[PhotoScope, bool] | None = None


@allowed(*FRONT_DESK)
def sign_shown(uow: UnitOfWork, consent_id: uuid.UUID, signature: DeskSignature) -> ConsentEntry:
    """Sign an opened consent now, in front of the member acting."""
    return _signed(uow, consent_id, signature)


@allowed(*FRONT_DESK)
def sign_or_show(
    uow: UnitOfWork, consent_id: uuid.UUID, signature: DeskSignature
) -> ConsentEntry | Refused[ShownConsent]:
    """The consent page's *Sign* (`sign_shown`); refused, the consent as it stands with why,
    its reading audited, in the same unit of work."""
    try:
        with uow.attempt():
            return _signed(uow, consent_id, signature)
    except InvalidInput as refused:
        return Refused(error=refused, shown=_shown(uow, consent_id))


@allowed(*FRONT_DESK)
def withdraw_or_show(
    uow: UnitOfWork, consent_id: uuid.UUID, reason: str, scope: PhotoScope | None = None
) -> Withdrawal | Refused[ShownConsent]:
    """The consent page's *Withdraw* (`withdraw`); refused, the consent as it stands with
    why, its reading audited, in the same unit of work."""
    try:
        with uow.attempt():
            return _withdrawn(uow, consent_id, reason, scope)
    except InvalidInput as refused:
        return Refused(error=refused, shown=_shown(uow, consent_id))


def _signed(uow: UnitOfWork, consent_id: uuid.UUID, signature: DeskSignature) -> ConsentEntry:
    from dermaplan.records.consents import record_consent
    from dermaplan.records.repository import ConsentRepository
    from dermaplan.records.schemas import ConsentData

    opened = ConsentRepository(uow.session, uow.clinic_id).get(consent_id)
    if opened is None:
        raise NotFound.one(f"no consent {consent_id}")
    data = ConsentData.parse(
        {
            "patient": opened.patient_id,
            "consent": consent_id,
            "signed_at": uow.context.now,
            "signer": signature.signer,
            "signature": signature.typed,
            "signature_png": signature.drawn_png,
            "scopes": signature.scopes,
        }
    )
    record = record_consent(uow.session, uow.context, uow.clinic_id, data)
    return _entry(uow, record.id)


def _entry(uow: UnitOfWork, consent_id: uuid.UUID) -> ConsentEntry:
    """A consent just written, read back with its template and withdrawals."""
    from dermaplan.records.repository import ConsentRepository

    record = ConsentRepository(uow.session, uow.clinic_id).get(consent_id)
    assert record is not None  # written in this unit
    return ConsentEntry.of(record)
