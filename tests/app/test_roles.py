"""Every use case says which roles may call it, and refuses every other role (and nobody)
before it does anything; a principal of one clinic never reads or changes another's."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from dermaplan.app import (
    adverse,
    assessments,
    clinic,
    consents,
    consults,
    courses,
    logins,
    outcomes,
    patients,
    photos,
    records_admin,
    references,
    sessions,
    staff,
    today,
)
from dermaplan.app.consents import DeskSignature
from dermaplan.app.principal import USE_CASES
from dermaplan.app.unit import Application, UnitOfWork
from dermaplan.knowledge import KnowledgeBase
from dermaplan.records.db import transaction
from dermaplan.records.enums import ConsentKind, PhotoStage, StaffRole
from dermaplan.records.errors import Forbidden, InvalidInput, NotFound, RecordsError
from dermaplan.records.schemas import AdverseEventData, OutcomeData, SessionData
from dermaplan.records.service import add_staff
from tests.app.conftest import clinic_with_staff
from tests.records.factories import (
    add_consult,
    add_patient,
    context,
    counts,
    patient_data,
    session_fields,
)

MODULES = {
    "patients": patients,
    "consults": consults,
    "staff": staff,
    "sessions": sessions,
    "courses": courses,
    "records_admin": records_admin,
    "clinic": clinic,
    "consents": consents,
    "photos": photos,
    "adverse": adverse,
    "outcomes": outcomes,
    "today": today,
    "logins": logins,
    "assessments": assessments,
    "references": references,
}

# arguments that reach the use case's own work (their content does not matter to the check)
ANY_ID = uuid.UUID(int=1)
ARGUMENTS: dict[str, tuple[Any, ...]] = {
    "patients.add": (patient_data(),),
    "patients.update": (ANY_ID, {"family_name": "X"}),
    "patients.delete": (ANY_ID, "duplicate"),
    "patients.page": (),
    "patients.search": ("mor",),
    "patients.chart": (ANY_ID,),
    "patients.timeline": (ANY_ID,),
    "patients.details": (ANY_ID,),
    "consults.save": (ANY_ID, None, None),
    "consults.correct": (ANY_ID, None, None, "why"),
    "consults.approve": (ANY_ID,),
    "consults.discard": (ANY_ID, "why"),
    "consults.show": (ANY_ID,),
    "consults.of_patient": (ANY_ID,),
    "staff.add": ("New Member", StaffRole.RECEPTION),
    "staff.members": (),
    "staff.accounts": (),
    "staff.change_role": (ANY_ID, StaffRole.RECEPTION),
    "staff.set_active": (str(ANY_ID), False),
    "sessions.record": (None, None),
    "sessions.revise": (ANY_ID, None, None),
    "sessions.amend": (ANY_ID, None, None, "why"),
    "sessions.history": (ANY_ID,),
    "sessions.sign": (ANY_ID, None),
    "sessions.sign_or_show": (ANY_ID, None),
    "sessions.recall": ("LOT-1",),
    "courses.start": (ANY_ID, None),
    "courses.show": (ANY_ID,),
    "courses.cancel": (ANY_ID, "why"),
    "courses.fulfil": (ANY_ID, 1, ANY_ID),
    "records_admin.verify": (),
    "records_admin.rotate_key": (),
    "records_admin.audit_log": (),
    "records_admin.backup": (Path("no such folder") / "x.backup",),
    "clinic.show": (),
    "clinic.configure": (),
    "clinic.settings": (),
    "consents.publish": (ConsentKind.PHOTO, "I agree to photographs."),
    "consents.templates": (),
    "consents.texts": (),
    "consents.template": (ConsentKind.PHOTO,),
    "consents.open_consent": (ANY_ID, ConsentKind.PHOTO),
    "consents.sign": (None,),
    "consents.withdraw": (ANY_ID, "changed mind"),
    "consents.of_patient": (ANY_ID,),
    "consents.desk": (ANY_ID,),
    "consents.shown": (ANY_ID,),
    "consents.sign_shown": (ANY_ID, DeskSignature("Claire Moreau")),
    "consents.sign_or_show": (ANY_ID, DeskSignature("Claire Moreau")),
    "consents.withdraw_or_show": (ANY_ID, "changed mind"),
    "sessions.planned": (ANY_ID,),
    "sessions.chart": (ANY_ID, None),
    "photos.add": (ANY_ID, b"", "cheeks", "frontal", PhotoStage.BEFORE),
    "photos.of_patient": (ANY_ID,),
    "photos.export": (ANY_ID,),
    "photos.view": (ANY_ID,),
    "photos.compare": (ANY_ID, ANY_ID, ANY_ID),
    "adverse.record": (None,),
    "adverse.follow_up": (ANY_ID, None, "healed"),
    "adverse.close": (ANY_ID,),
    "adverse.report": (ANY_ID,),
    "outcomes.record": (None,),
    "outcomes.of_patient": (ANY_ID,),
    "outcomes.follow_up": (ANY_ID,),
    "today.overview": (),
    "logins.set_password": ("Nobody Here", "a password long enough"),
    "logins.enrol_totp": ("Nobody Here",),
    "logins.create_token": ("a script",),
    "logins.tokens": (),
    "logins.revoke_token": (ANY_ID,),
    "logins.clinic_tokens": (),
    "logins.revoke_member_token": (ANY_ID,),
    "consults.review": (ANY_ID,),
    "assessments.start": (ANY_ID,),
    "assessments.start_correction": (ANY_ID,),
    "assessments.drafts": (ANY_ID,),
    "assessments.resume": (ANY_ID, None),
    "assessments.save": (ANY_ID, {}, None),
    "assessments.store": (ANY_ID, None),
    "assessments.store_or_keep": (ANY_ID, None, {}),
    "references.source": ("no_such_source", None),
}


def test_every_use_case_is_declared_and_tried() -> None:
    assert set(USE_CASES) == set(ARGUMENTS)


def _call(uow: UnitOfWork, name: str) -> None:
    module, function = name.split(".")
    getattr(MODULES[module], function)(uow, *ARGUMENTS[name])


@pytest.mark.parametrize("name", sorted(ARGUMENTS))
def test_each_role_is_let_through_or_refused_as_declared(
    application: Application, engine: Engine, name: str
) -> None:
    _, members = clinic_with_staff(engine, "Parc")
    before = counts(engine)
    for role in (*StaffRole, None):
        acting = str(members[role]) if role is not None else None
        refused: RecordsError | None = None
        try:
            with application.unit(acting) as uow:
                _call(uow, name)
                raise _Undo  # nothing a test call does is kept
        except _Undo:
            pass
        except Forbidden as error:
            refused = error
        except (RecordsError, TypeError, AttributeError):
            pass  # let through: the use case ran and found the stand-in arguments wanting
        assert (refused is None) == (role in USE_CASES[name]), (name, role, refused)
        if refused is not None:
            who = "nobody is named as acting" if role is None else f"({role.value}) may not"
            assert who in refused.problems[0]
    assert counts(engine) == before


class _Undo(Exception):
    """Rolls a unit back after a call that went through."""


def test_a_principal_never_reaches_another_clinics_records(
    application: Application, engine: Engine
) -> None:
    _, ours = clinic_with_staff(engine, "Parc")
    theirs_clinic, theirs = clinic_with_staff(engine, "Lac")
    patient = add_patient(engine, theirs_clinic, family_name="Lacombe")
    consult = add_consult(engine, theirs_clinic, patient)
    acting = str(ours[StaffRole.PRACTITIONER])
    admin = str(ours[StaffRole.ADMIN])
    attempts = [
        lambda uow: patients.chart(uow, patient),
        lambda uow: patients.timeline(uow, patient),
        lambda uow: patients.update(uow, patient, {"family_name": "Changed"}),
        lambda uow: patients.delete(uow, patient, "not ours"),
        lambda uow: consults.show(uow, consult),
        lambda uow: consults.of_patient(uow, patient),
        lambda uow: consults.approve(uow, consult),
        lambda uow: consents.of_patient(uow, patient),
        lambda uow: consents.open_consent(uow, patient, ConsentKind.PHOTO),
        lambda uow: photos.of_patient(uow, patient),
        lambda uow: outcomes.of_patient(uow, patient),
        lambda uow: outcomes.follow_up(uow, patient),
        lambda uow: photos.compare(uow, patient, ANY_ID, ANY_ID),
        lambda uow: adverse.record(uow, event(patient)),
    ]
    their_admin = theirs[StaffRole.ADMIN]
    admin_attempts = [
        lambda uow: staff.change_role(uow, their_admin, StaffRole.RECEPTION),
        lambda uow: logins.set_password(uow, str(their_admin), "a password long enough"),
        lambda uow: logins.enrol_totp(uow, str(their_admin)),
    ]
    before = counts(engine)
    for who, attempt in [(acting, a) for a in attempts] + [(admin, a) for a in admin_attempts]:
        with pytest.raises(NotFound), application.unit(who) as uow:
            attempt(uow)
    with application.unit(acting) as uow:
        assert patients.page(uow) == []
        assert patients.search(uow, "lac") == []
        assert {m.id for m in staff.members(uow)} == set(ours.values())
    assert counts(engine)[:2] == before[:2]  # nothing of theirs changed
    with application.unit(str(theirs[StaffRole.PRACTITIONER])) as uow:
        assert [p.family_name for p in patients.page(uow)] == ["Lacombe"]


def test_the_approver_is_the_practitioner_acting(application: Application, engine: Engine) -> None:
    clinic, members = clinic_with_staff(engine, "Parc")
    patient = add_patient(engine, clinic)
    consult = add_consult(engine, clinic, patient)
    with application.unit(str(members[StaffRole.PRACTITIONER])) as uow:
        approved = consults.approve(uow, consult)
    assert approved.approved_by == members[StaffRole.PRACTITIONER]
    assert approved.approved_at is not None
    assert approved.approved_at.tzinfo is not None
    assert dt.datetime.now(dt.UTC) - approved.approved_at < dt.timedelta(minutes=5)


A, P, R = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION
# who may do what: reception keeps the register and hands over consent forms, never opens
# clinical records; admins run the clinic and publish its consent texts, not its treatments
# (docs/architecture.md has the same table)
POLICY = {
    "patients.add": {P, R},
    "patients.update": {P, R},
    "patients.delete": {A, P},
    "patients.page": {P, R},
    "patients.search": {P, R},
    "patients.chart": {P},
    "patients.timeline": {P},
    "patients.details": {P, R},
    "consults.save": {P},
    "consults.correct": {P},
    "consults.approve": {P},
    "consults.discard": {P},
    "consults.show": {P},
    "consults.of_patient": {P},
    "staff.add": {A},
    "staff.members": {A, P, R},
    "staff.accounts": {A},
    "staff.change_role": {A},
    "staff.set_active": {A},
    "sessions.record": {P},
    "sessions.revise": {P},
    "sessions.amend": {P},
    "sessions.history": {P},
    "sessions.sign": {P},
    "sessions.sign_or_show": {P},
    "sessions.recall": {A, P},
    "courses.start": {P},
    "courses.show": {P},
    "courses.cancel": {P},
    "courses.fulfil": {P},
    "records_admin.verify": {A},
    "records_admin.rotate_key": {A},
    "records_admin.backup": {A},
    "records_admin.audit_log": {A},
    "clinic.show": {A, P, R},
    "clinic.configure": {A},
    "clinic.settings": {A},
    "consents.publish": {A},
    "consents.templates": {A, P, R},
    "consents.texts": {A},
    "consents.template": {A, P, R},
    "consents.open_consent": {P, R},
    "consents.sign": {P, R},
    "consents.withdraw": {P, R},
    "consents.of_patient": {P, R},
    "consents.desk": {P, R},
    "consents.shown": {P, R},
    "consents.sign_shown": {P, R},
    "consents.sign_or_show": {P, R},
    "consents.withdraw_or_show": {P, R},
    "sessions.planned": {P},
    "sessions.chart": {P},
    "photos.add": {P},
    "photos.of_patient": {P},
    "photos.export": {P},
    "photos.view": {P},
    "photos.compare": {P},
    "adverse.record": {P},
    "adverse.follow_up": {P},
    "adverse.close": {P},
    "adverse.report": {P},
    "outcomes.record": {P},
    "outcomes.of_patient": {P},
    "outcomes.follow_up": {P},
    "today.overview": {A, P, R},
    "logins.set_password": {A, P, R},  # their own; an admin anyone's (tests/app/test_logins.py)
    "logins.enrol_totp": {A, P, R},
    "logins.create_token": {A, P, R},  # their own, in their role
    "logins.tokens": {A, P, R},
    "logins.revoke_token": {A, P, R},
    "logins.clinic_tokens": {A},  # every member's, to revoke one that may have leaked
    "logins.revoke_member_token": {A},
    "consults.review": {P},
    "assessments.start": {P},
    "assessments.start_correction": {P},
    "assessments.drafts": {P},
    "assessments.resume": {P},
    "assessments.save": {P},
    "assessments.store": {P},
    "assessments.store_or_keep": {P},
    "references.source": {A, P},
}


def test_the_roles_are_the_clinics_policy() -> None:
    assert {name: set(roles) for name, roles in USE_CASES.items()} == POLICY


def test_a_session_is_recorded_by_who_treated(
    application: Application, engine: Engine, kb: KnowledgeBase
) -> None:
    clinic, members = clinic_with_staff(engine, "Parc")
    with transaction(engine) as session:
        colleague = add_staff(session, context(), clinic, "Dr Other", StaffRole.PRACTITIONER).id
    patient = add_patient(engine, clinic)
    data = SessionData.parse(session_fields(patient, colleague), kb)
    before = counts(engine)
    with (
        pytest.raises(InvalidInput) as refused,
        application.unit(str(members[StaffRole.PRACTITIONER])) as uow,
    ):
        sessions.record(uow, data, kb)
    assert refused.value.details[0].location == ("practitioner",)
    assert "is not the member acting" in refused.value.problems[0]
    assert counts(engine) == before


def test_only_an_admin_restores(application: Application, engine: Engine, tmp_path: Path) -> None:
    _, members = clinic_with_staff(engine, "Parc")
    for role in (StaffRole.PRACTITIONER, StaffRole.RECEPTION):
        with pytest.raises(Forbidden):
            records_admin.restore(application, str(members[role]), tmp_path / "none.backup")
    with pytest.raises(InvalidInput, match="no such backup file"):
        records_admin.restore(application, str(members[StaffRole.ADMIN]), tmp_path / "none")


def event(patient: uuid.UUID, **fields: Any) -> AdverseEventData:
    data = {
        "patient": str(patient), "type": "bruising", "severity": "mild", "onset": "2026-11-02",
        "causality": "probable", "outcome": "recovering", "description": "Bruises.",
    }  # fmt: skip
    return AdverseEventData.parse(data | fields)


def test_the_reporter_and_the_assessor_are_the_practitioner_acting(
    application: Application, engine: Engine
) -> None:
    clinic, members = clinic_with_staff(engine, "Parc")
    patient = add_patient(engine, clinic)
    acting, other = members[StaffRole.PRACTITIONER], members[StaffRole.ADMIN]
    score = {"patient": str(patient), "scale": "gais", "score": 2, "date": "2026-11-02"}
    with application.unit(str(acting)) as uow:
        assert adverse.record(uow, event(patient)).reporter_id == acting
        assert adverse.record(uow, event(patient, reporter=str(acting))).reporter_id == acting
        assessed = outcomes.record(uow, OutcomeData.parse(score))
        assert (assessed.assessor_id, assessed.patient_reported) == (acting, False)
        told = outcomes.record(uow, OutcomeData.parse(score | {"patient_reported": True}))
        assert (told.assessor_id, told.patient_reported) == (None, True)
    before = counts(engine)
    for attempt in (
        lambda uow: adverse.record(uow, event(patient, reporter=str(other))),
        lambda uow: outcomes.record(uow, OutcomeData.parse(score | {"assessor": str(other)})),
    ):
        with pytest.raises(InvalidInput) as refused, application.unit(str(acting)) as uow:
            attempt(uow)
        [problem] = refused.value.details
        assert problem.location in (("reporter",), ("assessor",))
        assert f"{other} is not the member acting (practitioner of Parc, {acting})" in str(problem)
    assert counts(engine) == before
