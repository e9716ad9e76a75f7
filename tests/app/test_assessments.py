"""Storing an assessment from its page: refused, nothing of the attempt stays (a savepoint
undoes its writes and audit events) and the draft is kept as sent, in one unit of work,
with the audit chain intact on each backend."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from dermaplan.app import assessments, consults
from dermaplan.app.unit import Application
from dermaplan.knowledge import KnowledgeBase
from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.models import AuditEvent
from tests.app.conftest import clinic_with_staff
from tests.records.factories import add_patient
from tests.records.test_audit import verified

CONCERN = {"concern": "dehydration", "areas": ["cheeks"], "severity": "mild"}
ASSESSMENT: dict[str, Any] = {"consult_date": "2026-11-02", "concerns": [CONCERN]}


def actions(engine: Engine) -> list[str]:
    with transaction(engine, write=False) as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_a_refused_store_undoes_its_writes_and_keeps_the_draft_as_sent(
    application: Application, engine: Engine, kb: KnowledgeBase
) -> None:
    clinic, staff = clinic_with_staff(engine, "Parc")
    patient = add_patient(engine, clinic)
    member = str(staff[StaffRole.PRACTITIONER])
    draft = application.run(member, assessments.start, patient)
    application.run(member, assessments.save, draft.id, ASSESSMENT, kb)
    stored = application.run(member, assessments.store, draft.id, kb)
    application.run(member, consults.approve, stored.consult_id)
    correction = application.run(member, assessments.start_correction, stored.consult_id)
    before = actions(engine)
    sent = {**ASSESSMENT, "concerns": [{**CONCERN, "severity": "severe"}]}
    # the draft is written before the missing reason is found: the savepoint undoes it
    page = application.run(member, assessments.store_or_keep, correction.id, kb, sent)
    assert isinstance(page, assessments.DraftPage)
    assert [p.field for p in page.problems] == ["reason"]
    assert page.data["concerns"][0]["severity"] == "severe"
    # the attempt's update is undone: the update kept as sent, and the page's reading
    assert actions(engine)[len(before) :] == ["assessment_draft.update", "patient.read"]
    assert verified(engine) == len(before) + 2
    resumed = application.run(member, assessments.resume, correction.id, kb)
    assert resumed.data["concerns"][0]["severity"] == "severe"
    done = application.run(member, assessments.store_or_keep, correction.id, kb, sent, "worse")
    assert isinstance(done, consults.SavedConsult)
    assert done.corrects == stored.consult_id
    assert verified(engine) == len(actions(engine))
