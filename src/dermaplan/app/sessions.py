"""Treatment sessions: recorded by the practitioner who treated (the one acting), checked
against safety, completed, signed by the practitioner acting, amended after signing; and
the recall of a product lot."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import TYPE_CHECKING, Any

from dermaplan.app.principal import ADMIN, PRACTITIONER, Access, allowed
from dermaplan.app.reads import ReadModel
from dermaplan.app.unit import UnitOfWork

if TYPE_CHECKING:
    from dermaplan.knowledge import KnowledgeBase
    from dermaplan.records.models import TreatmentSession
    from dermaplan.records.schemas import SessionData


class RecordedSession(ReadModel):
    """A draft just recorded: what it fulfils and what signing still needs."""

    id: uuid.UUID
    revised: bool  # a draft's content replaced, rather than a new record
    amends: uuid.UUID | None
    fulfils: tuple[uuid.UUID, int] | None  # (course, planned session number)
    to_complete: list[str]


class SignedSession(ReadModel):
    id: uuid.UUID
    signed_by: uuid.UUID
    gaps_explained: int


class RecallEntry(ReadModel):
    session_id: uuid.UUID
    performed_at: dt.datetime  # on the clinic's clock
    performed_on: dt.date  # the clinic's day
    status: str
    patient_id: uuid.UUID
    patient_name: str
    email: str | None
    phone: str | None
    product: str
    volume_ml: float
    expiry_date: dt.date | None


class RecallEvent(ReadModel):
    event_id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    onset_date: dt.date
    event_type: str
    severity: str
    status: str


class LotRecall(ReadModel):
    lot: str
    sessions: list[RecallEntry]
    adverse_events: list[RecallEvent]


def _performed_by_the_principal(uow: UnitOfWork, data: SessionData) -> None:
    """Who treated is the practitioner acting: a session in another's name is refused."""
    uow.in_own_name("practitioner", data.practitioner)


def _recorded(
    uow: UnitOfWork,
    stored: TreatmentSession,
    knowledge: KnowledgeBase,
    amends: uuid.UUID | None = None,
    *,
    revised: bool = False,
) -> RecordedSession:
    from dermaplan.records.courses import fulfilment
    from dermaplan.records.sessions import completeness

    planned = fulfilment(uow.session, uow.clinic_id, stored.id)
    return RecordedSession(
        id=stored.id,
        revised=revised,
        amends=amends,
        fulfils=(planned.course_id, planned.number) if planned is not None else None,
        to_complete=completeness(uow.session, uow.clinic_id, stored, knowledge),
    )


@allowed(PRACTITIONER)
def record(
    uow: UnitOfWork, data: SessionData, knowledge: KnowledgeBase, override: str | None = None
) -> RecordedSession:
    """A draft, checked against safety first (`override`: the practitioner's reason to
    record what the check refuses)."""
    from dermaplan.records.sessions import record_session

    _performed_by_the_principal(uow, data)
    stored = record_session(
        uow.session, uow.context, uow.clinic_id, data, knowledge, override_reason=override
    )
    return _recorded(uow, stored, knowledge)


@allowed(PRACTITIONER)
def revise(
    uow: UnitOfWork,
    session_id: uuid.UUID,
    data: SessionData,
    knowledge: KnowledgeBase,
    override: str | None = None,
) -> RecordedSession:
    """Replace a draft's content, checked against safety again."""
    from dermaplan.records.sessions import revise_session

    _performed_by_the_principal(uow, data)
    stored = revise_session(
        uow.session,
        uow.context,
        uow.clinic_id,
        session_id,
        data,
        knowledge,
        override_reason=override,
    )
    return _recorded(uow, stored, knowledge, revised=True)


@allowed(PRACTITIONER)
def amend(
    uow: UnitOfWork,
    session_id: uuid.UUID,
    data: SessionData,
    knowledge: KnowledgeBase,
    reason: str,
    override: str | None = None,
) -> RecordedSession:
    """Correct a signed session by a new draft version that replaces it once signed."""
    from dermaplan.records.sessions import amend_session

    _performed_by_the_principal(uow, data)
    stored = amend_session(
        uow.session,
        uow.context,
        uow.clinic_id,
        session_id,
        data,
        knowledge,
        reason,
        override_reason=override,
    )
    return _recorded(uow, stored, knowledge, session_id)


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def history(uow: UnitOfWork, session_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every version of a session, oldest first, as its audited state; the reading is
    audited."""
    from dermaplan.records.audit import canonical_json
    from dermaplan.records.sessions import session_history, session_state

    versions = session_history(uow.session, uow.context, uow.clinic_id, session_id)
    return [json.loads(canonical_json(session_state(v))) for v in versions]


@allowed(PRACTITIONER)
def sign(
    uow: UnitOfWork, session_id: uuid.UUID, knowledge: KnowledgeBase, reason: str | None = None
) -> SignedSession:
    """Sign a draft as the practitioner acting; with gaps, only with a reason."""
    from dermaplan.records.sessions import sign_session

    principal = uow.acting
    signed = sign_session(
        uow.session,
        uow.context,
        uow.clinic_id,
        session_id,
        knowledge,
        signer_id=principal.staff_id,
        reason=reason,
    )
    return SignedSession(
        id=signed.id,
        signed_by=principal.staff_id,
        gaps_explained=len(signed.missing_at_signing or ()),
    )


@allowed(ADMIN, PRACTITIONER, access=Access.AUDITED_READ)
def recall(uow: UnitOfWork, lot: str) -> LotRecall:
    """Every patient and session that received a lot, and the adverse events that involved
    it (clinical records: not reception's). The search is audited."""
    from dermaplan.records.clinics import clinic_day
    from dermaplan.records.sessions import recall_lot

    found = recall_lot(uow.session, uow.context, uow.clinic_id, lot)
    where = uow.zone
    return LotRecall(
        lot=lot.strip(),
        sessions=[
            RecallEntry(
                session_id=line.session_id,
                performed_at=line.performed_at.astimezone(where),
                performed_on=clinic_day(line.performed_at, where),
                status=line.status.value,
                patient_id=line.patient_id,
                patient_name=line.patient_name,
                email=line.email,
                phone=line.phone,
                product=line.product,
                volume_ml=line.volume_ml,
                expiry_date=line.expiry_date,
            )
            for line in found.sessions
        ],
        adverse_events=[
            RecallEvent(
                event_id=r.event.id,
                patient_id=r.event.patient_id,
                patient_name=r.patient_name,
                onset_date=r.event.onset_date,
                event_type=r.event.event_type.value,
                severity=r.event.severity.value,
                status=r.event.status.value,
            )
            for r in found.adverse_events
        ],
    )
