"""Consults: a plan for a patient on record, stored as a draft, approved (or discarded) by
the practitioner acting, corrected with a reason, and read back with its typed plan."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict

from dermaplan.app.patients import ConsultEntry, PatientLine
from dermaplan.app.principal import PRACTITIONER, Access, allowed
from dermaplan.app.reads import Document, ReadModel
from dermaplan.app.unit import UnitOfWork
from dermaplan.clinical.plan import Plan
from dermaplan.records.plans import StoredPlan, plan_document

if TYPE_CHECKING:
    from dermaplan.clinical.assessment import Assessment
    from dermaplan.knowledge import KnowledgeBase
    from dermaplan.records.reconciliation import PatientPlan
    from dermaplan.records.service import ConsultView


class SavedConsult(ReadModel):
    """A consult just stored as a draft: the engine's plan and what the record filled in."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    consult_id: uuid.UUID
    patient_id: uuid.UUID
    corrects: uuid.UUID | None
    plan: Plan
    filled: list[str]


class StaffName(ReadModel):
    id: uuid.UUID
    name: str


class Correction(ReadModel):
    id: uuid.UUID
    status: str


class StoredConsult(ReadModel):
    """A stored consult with its approval, its corrections and its plan, typed."""

    id: uuid.UUID
    patient_id: uuid.UUID
    date: dt.date
    status: str
    knowledge_version: str
    approved_by: StaffName | None
    approved_at: dt.datetime | None
    supersedes: uuid.UUID | None
    correction_reason: str | None
    corrected_by: Correction | None
    discarded_by: uuid.UUID | None
    discarded_at: dt.datetime | None
    discard_reason: str | None
    plan: StoredPlan


class ConsultReview(ReadModel):
    """A stored consult to review: the consult, its patient, and the whole plan as the
    engine wrote it (decisions with reasons, findings with sources, blend, protocol,
    courses)."""

    consult: StoredConsult
    patient: PatientLine
    plan: Document


def _saved(
    planned: PatientPlan,
    consult_id: uuid.UUID,
    patient_id: uuid.UUID,
    corrects: uuid.UUID | None = None,
) -> SavedConsult:
    return SavedConsult(
        consult_id=consult_id,
        patient_id=patient_id,
        corrects=corrects,
        plan=planned.plan,
        filled=list(planned.filled),
    )


@allowed(PRACTITIONER)
def save(
    uow: UnitOfWork, patient_id: uuid.UUID, assessment: Assessment, knowledge: KnowledgeBase
) -> SavedConsult:
    """Plan for a patient on record and store the consult as a draft: the record completes
    the assessment, and a disagreement with it stores nothing; the allergies the assessment
    was told join the record."""
    from dermaplan.records.service import create_consult, note_allergies, read_patient
    from dermaplan.records.sessions import plan_on_record

    record = read_patient(uow.session, uow.context, uow.clinic_id, patient_id)
    planned = plan_on_record(uow.session, uow.clinic_id, record, assessment, knowledge)
    stored = create_consult(uow.session, uow.context, uow.clinic_id, patient_id, planned.document)
    note_allergies(uow.session, uow.context, uow.clinic_id, record, assessment.allergies, knowledge)
    return _saved(planned, stored.id, patient_id)


@allowed(PRACTITIONER)
def correct(
    uow: UnitOfWork,
    consult_id: uuid.UUID,
    assessment: Assessment,
    knowledge: KnowledgeBase,
    reason: str,
) -> SavedConsult:
    """Plan again from a corrected assessment, as a draft that supersedes the consult once
    approved."""
    from dermaplan.records.service import correct_consult, note_allergies, read_consult
    from dermaplan.records.sessions import plan_on_record

    original = read_consult(uow.session, uow.context, uow.clinic_id, consult_id)
    planned = plan_on_record(uow.session, uow.clinic_id, original.patient, assessment, knowledge)
    corrected = correct_consult(
        uow.session, uow.context, uow.clinic_id, consult_id, planned.document, reason
    )
    note_allergies(
        uow.session,
        uow.context,
        uow.clinic_id,
        original.patient,
        assessment.allergies,
        knowledge,
    )
    return _saved(planned, corrected.id, original.patient_id, consult_id)


@allowed(PRACTITIONER)
def approve(uow: UnitOfWork, consult_id: uuid.UUID) -> ConsultEntry:
    """Approve a draft as the practitioner acting; it cannot change afterwards."""
    from dermaplan.records.service import approve_consult

    approved = approve_consult(
        uow.session, uow.context, uow.clinic_id, consult_id, uow.acting.staff_id
    )
    return ConsultEntry.of(approved)


@allowed(PRACTITIONER)
def discard(uow: UnitOfWork, consult_id: uuid.UUID, reason: str) -> ConsultEntry:
    """Discard a draft as the practitioner acting, with a reason: kept and frozen, never
    approved; a discarded correction leaves its consult free to take another."""
    from dermaplan.records.service import discard_consult

    discarded = discard_consult(
        uow.session, uow.context, uow.clinic_id, consult_id, uow.acting.staff_id, reason
    )
    return ConsultEntry.of(discarded)


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def show(uow: UnitOfWork, consult_id: uuid.UUID) -> StoredConsult:
    """A consult with its links and typed plan; the reading is audited."""
    from dermaplan.records.service import view_consult

    view = view_consult(uow.session, uow.context, uow.clinic_id, consult_id)
    return _stored(view, plan_document(view.consult.plan_json, _plan_of(view)))


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def review(uow: UnitOfWork, consult_id: uuid.UUID) -> ConsultReview:
    """A consult with its patient and its whole plan, to approve or correct (audited)."""
    from dermaplan.records.service import view_consult

    view = view_consult(uow.session, uow.context, uow.clinic_id, consult_id)
    document = plan_document(view.consult.plan_json, _plan_of(view))
    return ConsultReview(
        consult=_stored(view, document),
        patient=PatientLine.of(view.consult.patient),
        plan=document,
    )


def _plan_of(view: ConsultView) -> str:
    return f"consult {view.consult.id}'s plan"


def _stored(view: ConsultView, plan: Any) -> StoredConsult:
    """The consult of `view`, with `plan`, its plan document, typed."""
    consult, approver, newer = view.consult, view.approved_by, view.corrected_by
    return StoredConsult(
        id=consult.id,
        patient_id=consult.patient_id,
        date=consult.consult_date,
        status=consult.status.value,
        knowledge_version=consult.knowledge_version,
        approved_by=StaffName(id=approver.id, name=approver.name) if approver else None,
        approved_at=consult.approved_at,
        supersedes=consult.supersedes_id,
        correction_reason=consult.correction_reason,
        corrected_by=Correction(id=newer.id, status=newer.status.value) if newer else None,
        discarded_by=consult.discarded_by_id,
        discarded_at=consult.discarded_at,
        discard_reason=consult.discard_reason,
        plan=StoredPlan.of(plan, _plan_of(view)),
    )


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def of_patient(uow: UnitOfWork, patient_id: uuid.UUID) -> list[ConsultEntry]:
    """A patient's consults, oldest first (audited as a reading of the patient)."""
    from dermaplan.records.service import read_patient

    record = read_patient(uow.session, uow.context, uow.clinic_id, patient_id)
    return [ConsultEntry.of(consult) for consult in record.consults]
