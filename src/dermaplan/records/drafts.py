"""Assessment drafts: an assessment kept as it is filled in, so that it can be resumed, and
marked used once stored as a consult. Each is one clinic's (looked up with the clinic's id,
so another clinic's draft is as absent as one that never existed), and every change and
reading of one is in the audit log with the patient it is about."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from dermaplan.records.audit import AuditAction
from dermaplan.records.enums import DraftStatus
from dermaplan.records.errors import InvalidInput, required
from dermaplan.records.lifecycle import RecordKind
from dermaplan.records.models import AssessmentDraft, new_id

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dermaplan.records.context import Context


def draft_state(draft: AssessmentDraft) -> dict[str, Any]:
    """What a draft's audit events digest."""
    return {"data": draft.data, "consult_id": draft.consult_id, "corrects": draft.corrects_id}


_DRAFTS = RecordKind(
    "assessment_draft", "assessment draft", draft_state, "correct the consult it became instead"
)


def create_draft(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    created_by: uuid.UUID,
    data: dict[str, Any],
    corrects: uuid.UUID | None = None,
) -> AssessmentDraft:
    """A new draft for a patient of the clinic (the caller has checked they are), or for a
    correction of their consult `corrects` (the caller has checked it takes one); InvalidInput
    if a correction of it is being filled in already, which is the one to resume."""
    if corrects is not None:
        begun = session.scalar(
            select(AssessmentDraft.id).where(
                AssessmentDraft.clinic_id == clinic_id,
                AssessmentDraft.corrects_id == corrects,
                AssessmentDraft.consult_id.is_(None),
            )
        )
        if begun is not None:
            raise InvalidInput.one(
                f"consult {corrects} already has a correction being filled in: assessment "
                f"draft {begun}; resume it"
            )
    draft = AssessmentDraft(
        id=new_id(),
        clinic_id=clinic_id,
        patient_id=patient_id,
        created_by_id=created_by,
        corrects_id=corrects,
        data=data,
        created_at=context.now,
        updated_at=context.now,
    )
    session.add(draft)
    session.flush()
    _DRAFTS.audit(session, context, clinic_id, AuditAction.ASSESSMENT_DRAFT_CREATE, draft)
    return draft


def _draft(session: Session, clinic_id: uuid.UUID, draft_id: uuid.UUID) -> AssessmentDraft:
    return required(
        session.scalar(
            select(AssessmentDraft).where(
                AssessmentDraft.id == draft_id, AssessmentDraft.clinic_id == clinic_id
            )
        ),
        f"no assessment draft {draft_id}",
    )


def read_draft(
    session: Session, context: Context, clinic_id: uuid.UUID, draft_id: uuid.UUID
) -> AssessmentDraft:
    draft = _draft(session, clinic_id, draft_id)
    _DRAFTS.audit(session, context, clinic_id, AuditAction.ASSESSMENT_DRAFT_READ, draft)
    return draft


def _open(session: Session, clinic_id: uuid.UUID, draft_id: uuid.UUID) -> AssessmentDraft:
    draft = _draft(session, clinic_id, draft_id)
    if draft.status is not DraftStatus.OPEN:
        raise _DRAFTS.frozen(draft)
    return draft


def update_draft(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    draft_id: uuid.UUID,
    data: dict[str, Any],
) -> AssessmentDraft:
    return _change(session, context, clinic_id, draft_id, AuditAction.ASSESSMENT_DRAFT_UPDATE, data)


def use_draft(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    draft_id: uuid.UUID,
    consult_id: uuid.UUID,
) -> AssessmentDraft:
    """Mark a draft stored as `consult_id`: it stays, as the trace of how the consult was
    filled in, and changes no more."""
    action = AuditAction.ASSESSMENT_DRAFT_USE
    return _change(session, context, clinic_id, draft_id, action, None, consult_id)


def _change(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    draft_id: uuid.UUID,
    action: AuditAction,
    data: dict[str, Any] | None,
    consult_id: uuid.UUID | None = None,
) -> AssessmentDraft:
    """A draft not yet stored given `data` (None: kept) and its consult once stored,
    audited with its state before."""
    draft = _open(session, clinic_id, draft_id)
    with _DRAFTS.change(session, context, clinic_id, action, draft):
        if data is not None:
            draft.data = data
        draft.consult_id = consult_id
    return draft


def open_drafts(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> Sequence[AssessmentDraft]:
    """A patient's drafts not yet stored, the latest changed first."""
    return session.scalars(
        select(AssessmentDraft)
        .where(
            AssessmentDraft.clinic_id == clinic_id,
            AssessmentDraft.patient_id == patient_id,
            AssessmentDraft.consult_id.is_(None),
        )
        .order_by(AssessmentDraft.updated_at.desc(), AssessmentDraft.id)
    ).all()
