"""Storing a consult: the allergies the assessment was told join the patient's record, so
that the checks of every later session know them, and nothing recorded is dropped."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from dermaplan.app import consults
from dermaplan.app.unit import Application
from dermaplan.clinical.assessment import parse_assessment
from dermaplan.knowledge import KnowledgeBase
from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.errors import NotFound
from dermaplan.records.models import AuditEvent, Patient
from tests.app.conftest import clinic_with_staff
from tests.conftest import EXAMPLES
from tests.records.factories import add_patient


def stored(
    application: Application, engine: Engine, kb: KnowledgeBase, recorded: Any, told: Any
) -> list[str] | None:
    """The patient's recorded allergies after a consult told `told` is stored."""
    clinic, staff = clinic_with_staff(engine, "Parc")
    patient = add_patient(engine, clinic, allergies=recorded)
    data = yaml.safe_load((EXAMPLES / "01-acne-scars-dehydration.yaml").read_text())
    data["allergies"] = told
    data["patient"].pop("age", None)
    data["patient"].pop("sex", None)
    with application.unit(str(staff[StaffRole.PRACTITIONER])) as uow:
        consults.save(uow, patient, parse_assessment(data, kb), kb)
    with transaction(engine, write=False) as session:
        allergies: list[str] | None = session.get_one(Patient, patient).allergies
        changed = session.scalars(
            select(AuditEvent.action).where(AuditEvent.record_id == str(patient))
        ).all()
    assert ("patient.update" in changed) is (allergies != recorded)
    return allergies


@pytest.mark.parametrize(
    ("recorded", "told", "after"),
    [
        (None, None, None),  # never asked, still not asked
        (None, [], []),  # asked now: none known
        (None, ["amide_anaesthetic"], ["amide_anaesthetic"]),
        ([], ["amide_anaesthetic"], ["amide_anaesthetic"]),
        (["penicillin"], ["amide_anaesthetic"], ["penicillin", "amide_anaesthetic"]),
        (["lidocaine"], ["amide_anaesthetic"], ["lidocaine"]),  # named already: no change
    ],
)
def test_the_allergies_told_at_a_consult_join_the_record(
    application: Application,
    engine: Engine,
    kb: KnowledgeBase,
    recorded: list[str] | None,
    told: list[str] | None,
    after: list[str] | None,
) -> None:
    assert stored(application, engine, kb, recorded, told) == after


def test_a_consult_is_read_with_its_approver_and_its_correction(
    application: Application, engine: Engine, kb: KnowledgeBase
) -> None:
    """What the plan page shows of a consult's links, read with it: who approved it, the
    consult that corrects it and the one it corrects; another clinic's consult is none."""
    clinic, staff = clinic_with_staff(engine, "Parc")
    _, theirs = clinic_with_staff(engine, "Lac")
    patient = add_patient(engine, clinic)
    data = yaml.safe_load((EXAMPLES / "01-acne-scars-dehydration.yaml").read_text())
    data["patient"].pop("age", None)
    data["patient"].pop("sex", None)
    assessment = parse_assessment(data, kb)
    practitioner = str(staff[StaffRole.PRACTITIONER])
    with application.unit(practitioner) as uow:
        first = consults.save(uow, patient, assessment, kb).consult_id
        consults.approve(uow, first)
    with application.unit(practitioner) as uow:
        second = consults.correct(uow, first, assessment, kb, "the wrong side").consult_id
    with application.unit(practitioner) as uow:
        original, review = consults.show(uow, first), consults.review(uow, second)
    assert original.approved_by is not None
    assert original.approved_by.id == staff[StaffRole.PRACTITIONER]
    assert original.approved_by.name == "practitioner of Parc"
    assert original.corrected_by is not None
    assert (original.corrected_by.id, original.corrected_by.status) == (second, "draft")
    correction = review.consult
    assert (correction.supersedes, correction.correction_reason) == (first, "the wrong side")
    assert correction.approved_by is None
    assert correction.corrected_by is None
    assert review.plan["schema_version"] == correction.plan.schema_version
    with (
        pytest.raises(NotFound, match=f"no consult {first}"),
        application.unit(str(theirs[StaffRole.PRACTITIONER])) as uow,
    ):
        consults.review(uow, first)
