"""Patients: add, correct, delete, find, and read the chart and the timeline.

Reception and practitioners keep the register (contact details); the chart and the
timeline, which hold clinical records, are a practitioner's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dermaplan.app.principal import ADMIN, PRACTITIONER, RECEPTION, Access, allowed
from dermaplan.app.reads import Document, ReadModel
from dermaplan.app.unit import UnitOfWork

if TYPE_CHECKING:
    from dermaplan.records.consents import ConsentLine
    from dermaplan.records.models import Consent, Consult, Patient
    from dermaplan.records.schemas import PatientData


class PatientLine(ReadModel):
    """A patient as lists and searches show them."""

    id: uuid.UUID
    family_name: str
    given_names: str
    birth_date: dt.date | None
    deleted: bool

    @classmethod
    def of(cls, patient: Patient) -> PatientLine:
        return cls(
            id=patient.id,
            family_name=patient.family_name,
            given_names=patient.given_names,
            birth_date=patient.birth_date,
            deleted=patient.deleted_at is not None,
        )


class Deletion(ReadModel):
    at: dt.datetime
    by: str | None
    reason: str | None


class ConsultEntry(ReadModel):
    id: uuid.UUID
    date: dt.date
    status: str
    knowledge_version: str
    approved_by: uuid.UUID | None
    approved_at: dt.datetime | None
    supersedes: uuid.UUID | None
    correction_reason: str | None
    discarded_by: uuid.UUID | None
    discarded_at: dt.datetime | None
    discard_reason: str | None

    @classmethod
    def of(cls, consult: Consult) -> ConsultEntry:
        return cls(
            id=consult.id,
            date=consult.consult_date,
            status=consult.status.value,
            knowledge_version=consult.knowledge_version,
            approved_by=consult.approved_by_id,
            approved_at=consult.approved_at,
            supersedes=consult.supersedes_id,
            correction_reason=consult.correction_reason,
            discarded_by=consult.discarded_by_id,
            discarded_at=consult.discarded_at,
            discard_reason=consult.discard_reason,
        )


class Withdrawal(ReadModel):
    scope: str
    at: dt.datetime
    reason: str


class ConsentEntry(ReadModel):
    id: uuid.UUID
    kind: str
    version: int
    status: str
    opened_at: dt.datetime
    signed_at: dt.datetime | None
    signer: str | None
    scopes: dict[str, bool] | None
    withdrawn: list[Withdrawal]

    @classmethod
    def of(cls, consent: Consent | ConsentLine) -> ConsentEntry:
        """A consent with its template and withdrawals (loaded, if a Consent)."""
        return cls(
            id=consent.id,
            kind=consent.kind.value,
            version=consent.template_version,
            status=consent.status.value,
            opened_at=consent.opened_at,
            signed_at=consent.signed_at,
            signer=consent.signer_name,
            scopes=consent.photo_scopes,
            withdrawn=[
                Withdrawal(scope=w.scope, at=w.withdrawn_at, reason=w.reason)
                for w in consent.withdrawals
            ],
        )


class PatientChart(ReadModel):
    """One patient's details with their consults and consents."""

    id: uuid.UUID
    family_name: str
    given_names: str
    birth_date: dt.date | None
    sex: str | None
    email: str | None
    phone: str | None
    identifiers: dict[str, str]
    allergies: list[str] | None  # None: never asked
    history: dict[str, Any]
    deleted: Deletion | None
    consults: list[ConsultEntry]
    consents: list[ConsentEntry]


class PatientDetails(ReadModel):
    """What the front desk needs of a patient: who they are and how to reach them."""

    id: uuid.UUID
    family_name: str
    given_names: str
    birth_date: dt.date | None
    email: str | None
    phone: str | None


class PatientTimeline(ReadModel):
    """Everything recorded for a patient in date order (records.timeline's document)."""

    patient: PatientLine
    document: Document


@allowed(RECEPTION, PRACTITIONER)
def add(uow: UnitOfWork, data: PatientData) -> PatientLine:
    from dermaplan.records.service import create_patient

    return PatientLine.of(create_patient(uow.session, uow.context, uow.clinic_id, data))


@allowed(RECEPTION, PRACTITIONER)
def update(uow: UnitOfWork, patient_id: uuid.UUID, changes: Mapping[str, Any]) -> PatientLine:
    from dermaplan.records.service import update_patient

    return PatientLine.of(
        update_patient(uow.session, uow.context, uow.clinic_id, patient_id, changes)
    )


@allowed(ADMIN, PRACTITIONER)
def delete(uow: UnitOfWork, patient_id: uuid.UUID, reason: str) -> PatientLine:
    from dermaplan.records.service import delete_patient

    return PatientLine.of(
        delete_patient(uow.session, uow.context, uow.clinic_id, patient_id, reason)
    )


@allowed(RECEPTION, PRACTITIONER, access=Access.AUDITED_READ)
def page(
    uow: UnitOfWork, *, limit: int = 50, offset: int = 0, include_deleted: bool = False
) -> list[PatientLine]:
    from dermaplan.records.service import list_patients

    found = list_patients(
        uow.session,
        uow.context,
        uow.clinic_id,
        limit=limit,
        offset=offset,
        include_deleted=include_deleted,
    )
    return _lines(found)


@allowed(RECEPTION, PRACTITIONER, access=Access.AUDITED_READ)
def search(uow: UnitOfWork, prefix: str, *, limit: int = 20) -> list[PatientLine]:
    from dermaplan.records.service import search_patients

    return _lines(search_patients(uow.session, uow.context, uow.clinic_id, prefix, limit=limit))


@allowed(RECEPTION, PRACTITIONER, access=Access.AUDITED_READ)
def details(uow: UnitOfWork, patient_id: uuid.UUID) -> PatientDetails:
    """A live patient's details and contact, without anything clinical; audited."""
    from dermaplan.records.service import read_patient_details

    patient = read_patient_details(uow.session, uow.context, uow.clinic_id, patient_id)
    return PatientDetails.model_validate(patient)


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def chart(uow: UnitOfWork, patient_id: uuid.UUID) -> PatientChart:
    """The chart; the reading is audited."""
    from dermaplan.records.consents import patient_consents
    from dermaplan.records.service import read_patient

    patient = read_patient(uow.session, uow.context, uow.clinic_id, patient_id)
    consents = patient_consents(uow.session, uow.context, uow.clinic_id, patient_id)
    return PatientChart(
        id=patient.id,
        family_name=patient.family_name,
        given_names=patient.given_names,
        birth_date=patient.birth_date,
        sex=patient.sex.value if patient.sex else None,
        email=patient.email,
        phone=patient.phone,
        identifiers=dict(patient.identifiers),
        allergies=None if patient.allergies is None else list(patient.allergies),
        history=dict(patient.history),
        deleted=None
        if patient.deleted_at is None
        else Deletion(at=patient.deleted_at, by=patient.deleted_by, reason=patient.deletion_reason),
        consults=[ConsultEntry.of(consult) for consult in patient.consults],
        consents=[ConsentEntry.of(consent) for consent in consents],
    )


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def timeline(uow: UnitOfWork, patient_id: uuid.UUID) -> PatientTimeline:
    """The whole record in date order; audited as one read."""
    from dermaplan.records.timeline import patient_timeline, timeline_document

    record = patient_timeline(uow.session, uow.context, uow.clinic_id, patient_id)
    return PatientTimeline(
        patient=PatientLine.of(record.patient), document=timeline_document(record)
    )


def _lines(patients: Sequence[Patient]) -> list[PatientLine]:
    return [PatientLine.of(patient) for patient in patients]
