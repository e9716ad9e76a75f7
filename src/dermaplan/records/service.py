"""The record-keeping rules: every access audited, approved plans frozen, nothing erased.

Services stage changes and their audit events in the caller's transaction and never
commit: the command (or request) boundary commits both, or neither.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from dermaplan.records.audit import AuditAction, record_event
from dermaplan.records.clinics import zone
from dermaplan.records.context import Context
from dermaplan.records.enums import ConsultStatus, StaffRole
from dermaplan.records.errors import ImmutableRecord, InvalidInput, given_text, required
from dermaplan.records.lifecycle import RecordKind, written_reason
from dermaplan.records.models import Clinic, Consult, Patient, Staff, new_id
from dermaplan.records.names import name_key, search_key
from dermaplan.records.repository import (
    ClinicRepository,
    ConsultRepository,
    PatientRepository,
    StaffRepository,
)

if TYPE_CHECKING:
    from dermaplan.knowledge import KnowledgeBase
    from dermaplan.records.schemas import ConsultDocument, PatientData

DEFAULT_CLINIC_NAME = "Dermaplan clinic"
OLDEST_BIRTH_YEARS = 130


# -- clinic and staff ------------------------------------------------------------------


def clinic_state(clinic: Clinic) -> dict[str, Any]:
    """Everything a clinic row says, for the audit digests."""
    return {"id": clinic.id, "name": clinic.name, "time_zone": clinic.time_zone}


def create_clinic(session: Session, context: Context, name: str) -> Clinic:
    clinic = Clinic(
        id=new_id(), name=name, time_zone="UTC", created_at=context.now, updated_at=context.now
    )
    ClinicRepository(session).add(clinic)
    record_event(
        session,
        context,
        clinic.id,
        AuditAction.CLINIC_CREATE,
        "clinic",
        clinic.id,
        after=clinic_state(clinic),
    )
    return clinic


def configure_clinic(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    *,
    name: str | None = None,
    time_zone: str | None = None,
) -> Clinic:
    """Rename the clinic or set its time zone (an IANA name); audited before and after."""
    clinic = required(session.get(Clinic, clinic_id), f"no clinic {clinic_id}")
    before = clinic_state(clinic)
    if name is not None:
        written = given_text(name, "name")
        if not search_key(written):
            raise InvalidInput.one("name: needs at least one letter or digit")
        clinic.name = written
    if time_zone is not None:
        zone(time_zone)
        clinic.time_zone = time_zone
    clinic.updated_at = context.now
    session.flush()
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.CLINIC_UPDATE,
        "clinic",
        clinic.id,
        before=before,
        after=clinic_state(clinic),
    )
    return clinic


def default_clinic(session: Session, context: Context) -> Clinic:
    """The clinic of a single-clinic database, created on first use."""
    clinics = ClinicRepository(session).all()
    if len(clinics) > 1:
        raise InvalidInput.one(
            f"this database holds {len(clinics)} clinics; the command line serves one"
        )
    return clinics[0] if clinics else create_clinic(session, context, DEFAULT_CLINIC_NAME)


def add_staff(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    name: str,
    role: StaffRole,
    registration: str | None = None,
) -> Staff:
    name = given_text(name, "name")
    if not search_key(name):
        raise InvalidInput.one("name: needs at least one letter or digit")
    if registration is not None:
        registration = given_text(registration, "registration")
    staff = Staff(
        id=new_id(),
        clinic_id=clinic_id,
        name=name,
        role=role,
        registration=registration,
        active=True,
        created_at=context.now,
        updated_at=context.now,
    )
    StaffRepository(session, clinic_id).add(staff)
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.STAFF_CREATE,
        "staff",
        staff.id,
        after=staff_state(staff),
    )
    return staff


def change_staff_role(
    session: Session, context: Context, clinic_id: uuid.UUID, staff_id: uuid.UUID, role: StaffRole
) -> Staff:
    """Give a member of the clinic another role; audited before and after. The clinic's
    last active admin keeps the role: without one, nobody could manage the clinic."""
    member = required(StaffRepository(session, clinic_id).get(staff_id), f"no staff {staff_id}")
    if member.role is role:
        return member
    _keep_an_admin(session, clinic_id, member, "role")
    return _changed(session, context, clinic_id, member, role=role)


def set_staff_active(
    session: Session, context: Context, clinic_id: uuid.UUID, staff_id: uuid.UUID, active: bool
) -> Staff:
    """Deactivate a member of the clinic (or reactivate them); audited before and after.
    Deactivation ends every open session of theirs and revokes every token: no copy of a
    cookie or a token works after it, and a reactivated member signs in anew. The clinic's
    last active admin stays active."""
    from dermaplan.records.logins import end_access

    member = required(StaffRepository(session, clinic_id).get(staff_id), f"no staff {staff_id}")
    if member.active is active:
        return member
    if not active:
        _keep_an_admin(session, clinic_id, member, "active")
        end_access(session, context, clinic_id, member.id, "deactivated")
    return _changed(session, context, clinic_id, member, active=active)


def _keep_an_admin(session: Session, clinic_id: uuid.UUID, member: Staff, field: str) -> None:
    """Without an active admin nobody could manage the clinic."""
    if member.role is StaffRole.ADMIN and member.active and _admins(session, clinic_id) == 1:
        raise ImmutableRecord.one(
            f"{field}: {member.name} is the clinic's only active admin; make another member "
            "admin first"
        )


def _changed(
    session: Session, context: Context, clinic_id: uuid.UUID, member: Staff, **change: Any
) -> Staff:
    before = staff_state(member)
    for field, value in change.items():
        setattr(member, field, value)
    member.updated_at = context.now
    session.flush()
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.STAFF_UPDATE,
        "staff",
        member.id,
        before=before,
        after=staff_state(member),
    )
    return member


def _admins(session: Session, clinic_id: uuid.UUID) -> int:
    return sum(
        1
        for m in StaffRepository(session, clinic_id).every()
        if m.role is StaffRole.ADMIN and m.active
    )


def staff_state(staff: Staff) -> dict[str, Any]:
    """Everything a member's row says, for the audit digests."""
    return {
        "id": staff.id,
        "clinic_id": staff.clinic_id,
        "name": staff.name,
        "role": staff.role,
        "registration": staff.registration,
        "active": staff.active,
    }


def clinic_staff(session: Session, clinic_id: uuid.UUID) -> Sequence[Staff]:
    """The clinic's staff in name order (identities, not patient data: not audited)."""
    return StaffRepository(session, clinic_id).every()


# -- patients --------------------------------------------------------------------------


def patient_state(patient: Patient) -> dict[str, Any]:
    """Everything a patient row says, for the audit digests."""
    return {
        "id": patient.id,
        "clinic_id": patient.clinic_id,
        "family_name": patient.family_name,
        "given_names": patient.given_names,
        "birth_date": patient.birth_date,
        "sex": patient.sex,
        "email": patient.email,
        "phone": patient.phone,
        "identifiers": patient.identifiers,
        "allergies": patient.allergies,
        "history": patient.history,
        "deleted_at": patient.deleted_at,
        "deleted_by": patient.deleted_by,
        "deletion_reason": patient.deletion_reason,
    }


def patient_data(patient: Patient) -> PatientData:
    from dermaplan.records.schemas import PatientData

    return PatientData(
        family_name=patient.family_name,
        given_names=patient.given_names,
        birth_date=patient.birth_date,
        sex=patient.sex,
        email=patient.email,
        phone=patient.phone,
        identifiers=patient.identifiers,
        allergies=patient.allergies,
        history=patient.history,
    )


def _check_birth_date(data: PatientData, today: dt.date) -> None:
    if data.birth_date is None:
        return
    if data.birth_date > today:
        raise InvalidInput.one(f"birth_date: {data.birth_date} is in the future")
    if today.year - data.birth_date.year > OLDEST_BIRTH_YEARS:
        raise InvalidInput.one(
            f"birth_date: {data.birth_date} is more than {OLDEST_BIRTH_YEARS} years ago"
        )


def _apply(patient: Patient, data: PatientData) -> None:
    patient.family_name = data.family_name
    patient.given_names = data.given_names
    patient.search_name = name_key(data.family_name, data.given_names)
    patient.birth_date = data.birth_date
    patient.sex = data.sex
    patient.email = data.email
    patient.phone = data.phone
    patient.identifiers = dict(data.identifiers)
    patient.allergies = None if data.allergies is None else list(data.allergies)
    patient.history = dict(data.history)


def create_patient(
    session: Session, context: Context, clinic_id: uuid.UUID, data: PatientData
) -> Patient:
    _check_birth_date(data, ClinicRepository(session).today(clinic_id, context.now))
    patient = Patient(
        id=new_id(), clinic_id=clinic_id, created_at=context.now, updated_at=context.now
    )
    _apply(patient, data)
    PatientRepository(session, clinic_id).add(patient)
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.PATIENT_CREATE,
        "patient",
        patient.id,
        patient_id=patient.id,
        after=patient_state(patient),
    )
    return patient


def _patient(repository: PatientRepository, patient_id: uuid.UUID) -> Patient:
    return required(repository.get(patient_id), f"no patient {patient_id}")


def read_patient(
    session: Session, context: Context, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> Patient:
    """The patient with their consults, soft-deleted or not (history stays viewable)."""
    patient = required(
        PatientRepository(session, clinic_id).get_with_consults(patient_id),
        f"no patient {patient_id}",
    )
    consults = [consult_state(consult) for consult in patient.consults]
    _audit_read(session, context, clinic_id, patient, {"consults": consults})
    return patient


def _audit_read(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    patient: Patient,
    more: dict[str, Any],
) -> None:
    """A read of a patient, with what else it showed of them."""
    after = {"patient": patient_state(patient)} | more
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.PATIENT_READ,
        "patient",
        patient.id,
        patient_id=patient.id,
        after=after,
    )


def read_patient_details(
    session: Session, context: Context, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> Patient:
    """A live patient's details alone, as the front desk reads them; audited as a read of
    the details, not of the consults."""
    patient = _patient(PatientRepository(session, clinic_id), patient_id)
    _audit_read(session, context, clinic_id, patient, {})
    return patient


def note_allergies(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    patient: Patient,
    told: Sequence[str] | None,
    knowledge: KnowledgeBase,
) -> None:
    """Add to the patient's record the allergies an assessment was told (its allergen ids),
    audited as a change of the record, so that every later check of a session knows them.
    `None` (not asked) changes nothing; an allergen the record already names in its own
    words is not added again; nothing recorded is ever dropped here (an assessment that
    leaves out a recorded allergy is refused before: records.reconciliation)."""
    if told is None:
        return
    from dermaplan.records.reconciliation import recorded_allergens

    known = patient.allergies or []
    named = recorded_allergens(known, knowledge)
    new = [allergen for allergen in told if allergen not in named]
    if patient.allergies is None or new:
        update_patient(session, context, clinic_id, patient.id, {"allergies": known + new})


def update_patient(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    changes: Mapping[str, Any],
) -> Patient:
    """Change some fields; the result is validated whole, as on creation. Identifiers are
    changed one system at a time: the systems given are set (null removes one), the others
    kept."""
    patient = _patient(PatientRepository(session, clinic_id), patient_id)
    before = patient_state(patient)
    current = patient_data(patient).model_dump()
    identifiers = changes.get("identifiers")
    if isinstance(identifiers, Mapping):
        merged = {**current["identifiers"], **identifiers}
        changes = {**changes, "identifiers": {k: v for k, v in merged.items() if v is not None}}
    from dermaplan.records.schemas import PatientData

    data = PatientData.parse({**current, **changes})
    _check_birth_date(data, ClinicRepository(session).today(clinic_id, context.now))
    _apply(patient, data)
    patient.updated_at = context.now
    session.flush()
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.PATIENT_UPDATE,
        "patient",
        patient.id,
        patient_id=patient.id,
        before=before,
        after=patient_state(patient),
    )
    return patient


def delete_patient(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    reason: str,
) -> Patient:
    """A soft delete: the record leaves lists and searches, and is kept with the reason."""
    written = written_reason(reason, "a deletion")
    patient = _patient(PatientRepository(session, clinic_id), patient_id)
    before = patient_state(patient)
    patient.deleted_at = context.now
    patient.deleted_by = context.actor
    patient.deletion_reason = written
    patient.updated_at = context.now
    session.flush()
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.PATIENT_DELETE,
        "patient",
        patient.id,
        patient_id=patient.id,
        before=before,
        after=patient_state(patient),
    )
    return patient


def search_patients(
    session: Session, context: Context, clinic_id: uuid.UUID, query: str, *, limit: int = 20
) -> Sequence[Patient]:
    """Patients whose "family given" name starts with `query`, ignoring case and accents."""
    key = search_key(query)
    if not key:
        raise InvalidInput.one("search: needs at least one letter or digit")
    found = PatientRepository(session, clinic_id).search(key, limit=limit)
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.PATIENT_SEARCH,
        "patient",
        None,
        after={"key": key, "found": [patient.id for patient in found]},
    )
    return found


def list_patients(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    *,
    limit: int = 50,
    offset: int = 0,
    include_deleted: bool = False,
) -> Sequence[Patient]:
    found = PatientRepository(session, clinic_id).page(
        limit=limit, offset=offset, include_deleted=include_deleted
    )
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.PATIENT_LIST,
        "patient",
        None,
        after={"found": [patient.id for patient in found]},
    )
    return found


# -- consults --------------------------------------------------------------------------


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def consult_state(consult: Consult) -> dict[str, Any]:
    """A consult for the audit digests; the documents by their own digests."""
    return {
        "id": consult.id,
        "patient_id": consult.patient_id,
        "status": consult.status,
        "consult_date": consult.consult_date,
        "assessment_sha256": _sha256(consult.assessment_json),
        "plan_sha256": _sha256(consult.plan_json),
        "knowledge_version": consult.knowledge_version,
        "created_by": consult.created_by,
        "approved_by_id": consult.approved_by_id,
        "approved_at": consult.approved_at,
        "supersedes_id": consult.supersedes_id,
        "correction_reason": consult.correction_reason,
    } | (
        {  # only where there is one: the digests of every consult before discards unchanged
            "discarded_by_id": consult.discarded_by_id,
            "discarded_at": consult.discarded_at,
            "discard_reason": consult.discard_reason,
        }
        if consult.status is ConsultStatus.DISCARDED
        else {}
    )


def _valid(document: ConsultDocument) -> ConsultDocument:
    problems = document.problems()
    if problems:
        raise InvalidInput(problems)
    return document


def _consult(repository: ConsultRepository, consult_id: uuid.UUID) -> Consult:
    return required(repository.get(consult_id), f"no consult {consult_id}")


def _new_consult(
    session: Session,
    context: Context,
    patient: Patient,
    document: ConsultDocument,
    *,
    supersedes: Consult | None = None,
    reason: str | None = None,
) -> Consult:
    consult = Consult(
        id=new_id(),
        patient_id=patient.id,
        status=ConsultStatus.DRAFT,
        consult_date=document.consult_date,
        assessment_json=document.assessment_json,
        plan_json=document.plan_json,
        knowledge_version=document.knowledge_version,
        created_by=context.actor,
        supersedes_id=supersedes.id if supersedes else None,
        correction_reason=reason,
        created_at=context.now,
        updated_at=context.now,
    )
    ConsultRepository(session, patient.clinic_id).add(consult)
    _CONSULTS.audit(session, context, patient.clinic_id, AuditAction.CONSULT_CREATE, consult)
    return consult


def create_consult(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    document: ConsultDocument,
) -> Consult:
    """Store a consult as a draft, for a practitioner to approve."""
    patient = _patient(PatientRepository(session, clinic_id), patient_id)
    return _new_consult(session, context, patient, _valid(document))


_CONSULTS = RecordKind(
    "consult", "consult", consult_state, "record a correction, which supersedes it"
)
_DISCARDED = RecordKind("consult", "consult", consult_state, "save a new consult instead")


def _frozen_consult(consult: Consult) -> ImmutableRecord:
    """The refusal to change a consult past its draft, with what to do instead."""
    kind = _DISCARDED if consult.status is ConsultStatus.DISCARDED else _CONSULTS
    return kind.frozen(consult)


def read_consult(
    session: Session, context: Context, clinic_id: uuid.UUID, consult_id: uuid.UUID
) -> Consult:
    consult = _consult(ConsultRepository(session, clinic_id), consult_id)
    _CONSULTS.audit(session, context, clinic_id, AuditAction.CONSULT_READ, consult)
    return consult


@dataclass(frozen=True, slots=True)
class ConsultView:
    """A consult with who approved it and the correction that points at it, if any."""

    consult: Consult
    approved_by: Staff | None
    corrected_by: Consult | None


def view_consult(
    session: Session, context: Context, clinic_id: uuid.UUID, consult_id: uuid.UUID
) -> ConsultView:
    """A consult and its links, for a person to read, in one query; audited as
    `read_consult`."""
    consult, approver, newer = required(
        ConsultRepository(session, clinic_id).view(consult_id), f"no consult {consult_id}"
    )
    _CONSULTS.audit(session, context, clinic_id, AuditAction.CONSULT_READ, consult)
    return ConsultView(consult, approver, newer)


def revise_draft(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    consult_id: uuid.UUID,
    document: ConsultDocument,
) -> Consult:
    """Replace a draft's assessment and plan; an approved consult is refused."""
    consult = _consult(ConsultRepository(session, clinic_id), consult_id)
    if consult.status is not ConsultStatus.DRAFT:
        raise _frozen_consult(consult)
    _valid(document)
    with _CONSULTS.change(session, context, clinic_id, AuditAction.CONSULT_UPDATE, consult):
        consult.consult_date = document.consult_date
        consult.assessment_json = document.assessment_json
        consult.plan_json = document.plan_json
        consult.knowledge_version = document.knowledge_version
    return consult


def correct_consult(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    consult_id: uuid.UUID,
    document: ConsultDocument,
    reason: str,
) -> Consult:
    """A draft that will supersede an approved consult once it is itself approved."""
    consults = ConsultRepository(session, clinic_id)
    original = _consult(consults, consult_id)
    _check_correctable(consults, original)
    written = written_reason(reason, "a correction")
    return _new_consult(
        session,
        context,
        original.patient,
        _valid(document),
        supersedes=original,
        reason=written,
    )


def consult_to_correct(
    session: Session, context: Context, clinic_id: uuid.UUID, consult_id: uuid.UUID
) -> Consult:
    """A consult read (audited as `read_consult`) to start a correction of, refused as
    `correct_consult` would refuse one: so that nobody fills in a correction that cannot
    be stored."""
    consult = read_consult(session, context, clinic_id, consult_id)
    _check_correctable(ConsultRepository(session, clinic_id), consult)
    return consult


def _check_correctable(consults: ConsultRepository, original: Consult) -> None:
    """Refuse to correct a consult that takes no correction: a draft (revised instead),
    one superseded already (its correction is the one to correct), one whose correction is
    in progress."""
    if original.status is ConsultStatus.DRAFT:
        raise InvalidInput.one(f"consult {original.id} is a draft: revise it instead")
    if original.status is ConsultStatus.DISCARDED:
        raise _frozen_consult(original)
    if original.status is ConsultStatus.SUPERSEDED:
        newer = consults.correction_of(original.id)
        raise InvalidInput.one(
            f"consult {original.id} is already superseded by {newer.id if newer else '?'}; "
            "correct that one"
        )
    pending = consults.correction_of(original.id)
    if pending is not None:
        raise InvalidInput.one(
            f"consult {original.id} already has a correction in progress: {pending.id}"
        )


def discard_consult(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    consult_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    reason: str,
) -> Consult:
    """Set a draft aside for good (saved for the wrong patient, a correction that corrects
    nothing): kept, frozen, with who discarded it, when and why; the consult a discarded
    correction would have superseded takes a new correction."""
    consult = _consult(ConsultRepository(session, clinic_id), consult_id)
    if consult.status is not ConsultStatus.DRAFT:
        raise _frozen_consult(consult)
    written = written_reason(reason, "a discard")
    with _CONSULTS.change(session, context, clinic_id, AuditAction.CONSULT_DISCARD, consult):
        consult.status = ConsultStatus.DISCARDED
        consult.discarded_by_id = practitioner_id
        consult.discarded_at = context.now
        consult.discard_reason = written
    return consult


def approve_consult(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    consult_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> Consult:
    """Freeze a draft under a practitioner's name; a correction supersedes its original."""
    consults = ConsultRepository(session, clinic_id)
    consult = _consult(consults, consult_id)
    if consult.status is not ConsultStatus.DRAFT:
        raise _frozen_consult(consult)
    practitioner = required(
        StaffRepository(session, clinic_id).get(practitioner_id),
        f"no member of staff {practitioner_id}",
    )
    if practitioner.role is not StaffRole.PRACTITIONER or not practitioner.active:
        raise InvalidInput.one(f"{practitioner.name} is not an active practitioner")
    if consult.supersedes_id is not None:
        original = _consult(consults, consult.supersedes_id)
        if original.status is not ConsultStatus.APPROVED:
            raise _frozen_consult(original)
        with _CONSULTS.change(session, context, clinic_id, AuditAction.CONSULT_SUPERSEDE, original):
            original.status = ConsultStatus.SUPERSEDED
    with _CONSULTS.change(session, context, clinic_id, AuditAction.CONSULT_APPROVE, consult):
        consult.status = ConsultStatus.APPROVED
        consult.approved_by_id = practitioner.id
        consult.approved_at = context.now
    return consult
