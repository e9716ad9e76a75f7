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
