"""Assessment drafts as records: every change is audited against the draft's state before
it, like every other record's, and a draft stored as a consult changes no more."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine

from dermaplan.records import drafts
from dermaplan.records.db import transaction
from dermaplan.records.errors import ImmutableRecord
from tests.records.factories import add_consult, add_patient, context, events, make_practitioner


def test_a_draft_is_audited_against_its_state_before_and_freezes_once_stored(
    engine: Engine, clinic_id: uuid.UUID
) -> None:
    patient = add_patient(engine, clinic_id)
    practitioner = make_practitioner(engine, clinic_id)
    consult = add_consult(engine, clinic_id, patient)
    with transaction(engine) as session:
        draft = drafts.create_draft(
            session, context(), clinic_id, patient, practitioner, {"allergies": None}
        ).id
    with transaction(engine) as session:
        drafts.update_draft(session, context(), clinic_id, draft, {"allergies": []})
    with transaction(engine) as session:
        drafts.use_draft(session, context(), clinic_id, draft, consult)
    made, changed, used = [e for e in events(engine) if e.record_id == str(draft)]
    assert (made.action, changed.action, used.action) == (
        "assessment_draft.create",
        "assessment_draft.update",
        "assessment_draft.use",
    )
    assert changed.before_digest == made.after_digest != changed.after_digest
    assert used.before_digest == changed.after_digest
    with (
        pytest.raises(ImmutableRecord, match="is stored and cannot change; correct the consult"),
        transaction(engine) as session,
    ):
        drafts.update_draft(session, context(), clinic_id, draft, {"allergies": None})
