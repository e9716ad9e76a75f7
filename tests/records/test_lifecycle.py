"""The shared life of a record: a change is stamped and audited against the state before
it, or not audited at all; a frozen record and a blank reason are refused in the record's
own words."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from dermaplan.records.audit import AuditAction, digest
from dermaplan.records.db import transaction
from dermaplan.records.enums import ConsultStatus
from dermaplan.records.errors import ImmutableRecord, InvalidInput
from dermaplan.records.lifecycle import RecordKind, written_reason
from dermaplan.records.models import Consult
from dermaplan.records.service import consult_state
from dermaplan.text import text_problem
from tests.records.factories import NOW, add_consult, add_patient, context, events

CONSULTS = RecordKind("consult", "consult", consult_state, "record a correction")
LATER = context("staff:other", NOW + dt.timedelta(hours=2))


@pytest.fixture
def consult_id(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    return add_consult(engine, clinic_id, add_patient(engine, clinic_id))


def test_a_change_is_stamped_and_audited_against_the_state_before_it(
    engine: Engine, clinic_id: uuid.UUID, consult_id: uuid.UUID
) -> None:
    with transaction(engine) as session:
        record = session.get_one(Consult, consult_id)
        before = consult_state(record)
        with CONSULTS.change(session, LATER, clinic_id, AuditAction.CONSULT_UPDATE, record):
            record.knowledge_version = "kb-test-0002"
        after = consult_state(record)
    last = events(engine)[-1]
    assert (last.action, last.record_type, last.record_id) == (
        "consult.update",
        "consult",
        str(consult_id),
    )
    assert (last.actor, last.patient_id) == ("staff:other", record.patient_id)
    assert (last.before_digest, last.after_digest) == (digest(before), digest(after))
    assert before != after
    with transaction(engine, write=False) as session:
        stored = session.get_one(Consult, consult_id)
        assert (stored.knowledge_version, stored.updated_at) == ("kb-test-0002", LATER.now)


def test_a_change_that_raises_is_neither_stamped_nor_audited(
    engine: Engine, clinic_id: uuid.UUID, consult_id: uuid.UUID
) -> None:
    written = len(events(engine))
    with transaction(engine) as session:
        record = session.get_one(Consult, consult_id)
        with (
            pytest.raises(ValueError, match="refused"),
            CONSULTS.change(session, LATER, clinic_id, AuditAction.CONSULT_UPDATE, record),
        ):
            raise ValueError("refused")
        assert record.updated_at == NOW
    assert len(events(engine)) == written


def test_a_frozen_record_is_refused_in_its_own_words() -> None:
    record = Consult(id=uuid.uuid4(), status=ConsultStatus.APPROVED)
    refusal = CONSULTS.frozen(record)
    bare = RecordKind("consult", "consult", consult_state).frozen(record)
    assert isinstance(refusal, ImmutableRecord)
    assert refusal.problems == [
        f"consult {record.id} is approved and cannot change; record a correction"
    ]
    assert bare.problems == [f"consult {record.id} is approved and cannot change"]


@given(reason=st.text(max_size=30))
def test_a_reason_is_kept_trimmed_and_a_blank_one_or_no_line_of_text_refused(
    reason: str,
) -> None:
    written = reason.strip()
    problem = text_problem(written)
    if written and problem is None:
        assert written_reason(reason, "a correction") == written
        return
    with pytest.raises(InvalidInput) as refused:
        written_reason(reason, "a correction")
    assert refused.value.problems == [
        f"reason: {problem}" if problem else "reason: a correction needs a reason"
    ]
