"""Storing an assessment from its page, and starting the correction of a consult on screen.

Storing refused, nothing of the attempt stays (a savepoint undoes its writes and audit
events) and the draft is kept as sent, in one unit of work, with the audit chain intact on
each backend. A correction is refused, before anything is filled in, for a consult that
takes none, as storing the correction would be refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select

from dermaplan.app import assessments, consults
from dermaplan.app.unit import Application
from dermaplan.clinical.assessment import Assessment, parse_assessment
from dermaplan.knowledge import KnowledgeBase
from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.errors import InvalidInput, NotFound
from dermaplan.records.models import AssessmentDraft, AuditEvent
from tests.app.conftest import clinic_with_staff
from tests.conftest import EXAMPLES
from tests.records.factories import add_patient
from tests.records.test_audit import verified

P = StaffRole.PRACTITIONER

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


def example(kb: KnowledgeBase) -> Assessment:
    data = yaml.safe_load((EXAMPLES / "01-acne-scars-dehydration.yaml").read_text())
    data["patient"].pop("age", None)
    data["patient"].pop("sex", None)
    return parse_assessment(data, kb)


def drafts(engine: Engine) -> int:
    with transaction(engine, write=False) as session:
        return session.scalar(select(func.count()).select_from(AssessmentDraft)) or 0


def test_a_correction_is_started_only_of_a_consult_that_takes_one(
    application: Application, engine: Engine, kb: KnowledgeBase
) -> None:
    clinic, staff = clinic_with_staff(engine, "Parc")
    _, theirs = clinic_with_staff(engine, "Lac")
    patient = add_patient(engine, clinic)
    member = str(staff[P])
    assessment = example(kb)

    def start(consult: uuid.UUID, by: str = member) -> uuid.UUID:
        with application.unit(by) as uow:
            return assessments.start_correction(uow, consult).id

    def refused(consult: uuid.UUID, message: str, by: str = member) -> None:
        before = drafts(engine)
        with pytest.raises(InvalidInput, match=message):
            start(consult, by)
        assert drafts(engine) == before

    with application.unit(member) as uow:
        first = consults.save(uow, patient, assessment, kb).consult_id
    refused(first, f"consult {first} is a draft: revise it instead")
    with application.unit(member) as uow:
        consults.approve(uow, first)
    with pytest.raises(NotFound, match=f"no consult {first}"):
        start(first, str(theirs[P]))
    begun = start(first)
    refused(first, f"correction being filled in: assessment draft {begun}; resume it")
    with application.unit(member) as uow:
        second = assessments.store(uow, begun, kb, reason="the wrong side").consult_id
    refused(first, f"consult {first} already has a correction in progress")
    with application.unit(member) as uow:
        consults.approve(uow, second)
    refused(first, f"consult {first} is already superseded by {second}; correct that one")
    start(second)  # the newest version takes a correction
