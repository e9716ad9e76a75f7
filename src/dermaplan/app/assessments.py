"""Assessments filled in on screen: a draft per patient, kept as it is typed and resumed,
the safety questions its concerns and areas need (`clinical.relevance`, as the interview
asks them), the plan as soon as the engine can make one, and the draft stored as a consult
(`consults.save`, or `consults.correct` for a correction) once the practitioner is done.

A question left unanswered stays unknown, never no: the plan lists it as missing.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from dermaplan.app import consults
from dermaplan.app.patients import PatientLine
from dermaplan.app.principal import PRACTITIONER, Access, allowed
from dermaplan.app.reads import ReadModel
from dermaplan.app.unit import UnitOfWork
from dermaplan.clinical.assessment import (
    SCALES,
    Assessment,
    ConcernEntry,
    Procedure,
    age_on,
    contradictions,
    knowledge_problems,
    vocabulary_problems,
)
from dermaplan.problems import Problem, path, validation_problems
from dermaplan.records.errors import InvalidInput, RecordDisagrees
from dermaplan.vocabulary import Sex

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dermaplan.knowledge import KnowledgeBase
    from dermaplan.knowledge.schema import Area, ScarTypeInfo, ScreeningItem
    from dermaplan.records.models import AssessmentDraft, Patient


class DraftAssessment(Assessment):
    """An assessment as far as it is filled in: like a consult's, but with no concern yet."""

    concerns: list[ConcernEntry] = Field(default_factory=list)


class Choice(ReadModel):
    id: str
    name: str


class ConcernChoice(ReadModel):
    id: str
    name: str
    areas: list[str]  # where it occurs: the only areas it may be placed on
    scarred: bool  # whether its kinds of scar are asked


QuestionKind = Literal["yes_no", "scale", "medication", "allergies", "procedures"]


class Question(ReadModel):
    """A safety question with its answer so far (None: not answered, which is unknown)."""

    field: str  # where the answer goes: "patient.pregnant", "conditions.keloid", ...
    kind: QuestionKind
    text: str
    needed: bool  # whether its answer can change a plan for the concerns chosen
    answer: str | None
    top: int | None = None  # a scale's highest value


class FieldProblem(ReadModel):
    """A problem of what was sent, at its field: `location` as the API gives it, `field` as
    the form names it ("patient.fitzpatrick", "concerns[0].areas[1]")."""

    location: list[str | int]
    field: str
    message: str

    @classmethod
    def of(cls, problem: Problem) -> FieldProblem:
        return cls(
            location=list(problem.location), field=path(problem.location), message=problem.message
        )

    def problem(self) -> Problem:
        return Problem(tuple(self.location), self.message)


class DraftLine(ReadModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    corrects: uuid.UUID | None
    consult_id: uuid.UUID | None
    concerns: list[str]
    updated_at: dt.datetime

    @classmethod
    def of(cls, draft: AssessmentDraft) -> DraftLine:
        concerns = draft.data.get("concerns") or []
        return cls(
            id=draft.id,
            patient_id=draft.patient_id,
            corrects=draft.corrects_id,
            consult_id=draft.consult_id,
            concerns=[str(c.get("concern")) for c in concerns if isinstance(c, dict)],
            updated_at=draft.updated_at,
        )


class DraftPage(ReadModel):
    """A draft with what the page needs to go on: the questions, the choices, the problems
    of what was last sent (nothing of it was kept), and the plan where one can be made."""

    draft: DraftLine
    patient: PatientLine
    sex: str | None
    age: int | None
    data: dict[str, Any]
    questions: list[Question]
    concerns: list[ConcernChoice]
    scar_types: list[Choice]
    allergens: list[Choice]
    procedure_kinds: list[Choice]
    procedures: list[dict[str, Any]]  # those listed, as read: what the form shows and keeps
    areas: list[Choice]
    problems: list[FieldProblem]
    plan: dict[str, Any] | None  # the engine's plan, as its JSON; None until it can make one
    filled: list[str]  # what the patient's record filled in


@allowed(PRACTITIONER)
def start(uow: UnitOfWork, patient_id: uuid.UUID) -> DraftLine:
    """A new draft for a patient, dated the clinic's today, with nothing answered."""
    from dermaplan.records.clinics import clinic_day
    from dermaplan.records.drafts import create_draft
    from dermaplan.records.service import read_patient_details

    patient = read_patient_details(uow.session, uow.context, uow.clinic_id, patient_id)
    today = clinic_day(uow.context.now, uow.zone)
    data: dict[str, Any] = {"consult_date": today.isoformat(), "concerns": []}
    draft = create_draft(
        uow.session, uow.context, uow.clinic_id, patient.id, uow.acting.staff_id, data
    )
    return DraftLine.of(draft)


@allowed(PRACTITIONER)
def start_correction(uow: UnitOfWork, consult_id: uuid.UUID) -> DraftLine:
    """A draft that corrects a stored consult, filled in with its assessment; refused for a
    consult that takes no correction (a draft, one superseded, one whose correction is in
    progress or being filled in), as storing the correction would be."""
    import json

    from dermaplan.records.drafts import create_draft
    from dermaplan.records.service import consult_to_correct

    consult = consult_to_correct(uow.session, uow.context, uow.clinic_id, consult_id)
    data = json.loads(consult.assessment_json)
    draft = create_draft(
        uow.session,
        uow.context,
        uow.clinic_id,
        consult.patient_id,
        uow.acting.staff_id,
        data if isinstance(data, dict) else {},
        corrects=consult.id,
    )
    return DraftLine.of(draft)


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def drafts(uow: UnitOfWork, patient_id: uuid.UUID) -> list[DraftLine]:
    """A patient's drafts not yet stored, to resume (audited as a reading of the patient)."""
    from dermaplan.records.drafts import open_drafts
    from dermaplan.records.service import read_patient_details

    patient = read_patient_details(uow.session, uow.context, uow.clinic_id, patient_id)
    return [DraftLine.of(d) for d in open_drafts(uow.session, uow.clinic_id, patient.id)]


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def resume(uow: UnitOfWork, draft_id: uuid.UUID, knowledge: KnowledgeBase) -> DraftPage:
    """A draft as it was left, its questions and its plan (audited)."""
    from dermaplan.records.drafts import read_draft

    draft = read_draft(uow.session, uow.context, uow.clinic_id, draft_id)
    return _page(uow, draft, draft.data, knowledge)


@allowed(PRACTITIONER)
def save(
    uow: UnitOfWork, draft_id: uuid.UUID, data: dict[str, Any], knowledge: KnowledgeBase
) -> DraftPage:
    """Keep what was filled in, and answer with the questions and plan it now gives. Input
    that does not validate keeps nothing: the page comes back with what was sent and its
    problems, each at its field."""
    return _kept(uow, draft_id, data, knowledge)


@allowed(PRACTITIONER)
def store(
    uow: UnitOfWork,
    draft_id: uuid.UUID,
    knowledge: KnowledgeBase,
    data: dict[str, Any] | None = None,
    reason: str | None = None,
) -> consults.SavedConsult:
    """Keep what was filled in (`data`; None: the draft as saved) and store it as a consult
    (a draft the practitioner then approves): a correction of the consult the draft
    corrects, with `reason`. The draft then names the consult and changes no more."""
    return _stored(uow, draft_id, knowledge, data, reason)


@allowed(PRACTITIONER)
def store_or_keep(
    uow: UnitOfWork,
    draft_id: uuid.UUID,
    knowledge: KnowledgeBase,
    data: dict[str, Any],
    reason: str | None = None,
) -> consults.SavedConsult | DraftPage:
    """The assessment page's *Store*: the draft as sent stored (`store`); refused, nothing of
    the attempt stays (its writes and audit events undone), the draft is kept as sent as
    `save` keeps it, and its page comes back with why. One unit of work: what the member
    typed is never lost to a refusal, and no refusal leaves half a consult."""
    try:
        with uow.attempt():
            return _stored(uow, draft_id, knowledge, data, reason)
    except InvalidInput as refused:
        page = _kept(uow, draft_id, data, knowledge)
        problems = page.problems or [FieldProblem.of(problem) for problem in refused.details]
        return page.model_copy(update={"problems": problems})


def _kept(
    uow: UnitOfWork, draft_id: uuid.UUID, data: dict[str, Any], knowledge: KnowledgeBase
) -> DraftPage:
    from dermaplan.records.drafts import read_draft, update_draft

    problems = draft_problems(data, knowledge)
    if problems:
        draft = read_draft(uow.session, uow.context, uow.clinic_id, draft_id)
        return _page(uow, draft, data, knowledge, problems)
    draft = update_draft(uow.session, uow.context, uow.clinic_id, draft_id, data)
    return _page(uow, draft, draft.data, knowledge)


def _stored(
    uow: UnitOfWork,
    draft_id: uuid.UUID,
    knowledge: KnowledgeBase,
    data: dict[str, Any] | None,
    reason: str | None,
) -> consults.SavedConsult:
    from dermaplan.records.drafts import read_draft, update_draft, use_draft

    if data is None:
        data = read_draft(uow.session, uow.context, uow.clinic_id, draft_id).data
    problems = draft_problems(data, knowledge)
    if problems:
        raise InvalidInput(problems)
    if not data.get("concerns"):
        raise InvalidInput([Problem(("concerns",), "place at least one concern to plan for")])
    assessment = Assessment.model_validate(data)
    draft = update_draft(uow.session, uow.context, uow.clinic_id, draft_id, data)
    if draft.corrects_id is None:
        saved = consults.save(uow, draft.patient_id, assessment, knowledge)
    else:
        if not (reason and reason.strip()):
            raise InvalidInput([Problem(("reason",), "say what the correction changes")])
        saved = consults.correct(uow, draft.corrects_id, assessment, knowledge, reason.strip())
    use_draft(uow.session, uow.context, uow.clinic_id, draft_id, saved.consult_id)
    return saved


def draft_problems(data: dict[str, Any], knowledge: KnowledgeBase) -> list[Problem]:
    """What is wrong with a draft's data, each at its field: shape, vocabulary and
    contradictions; a consult needs at least one concern besides."""
    problems = [Problem.of(line) for line in vocabulary_problems(data, knowledge)]
    try:
        assessment = DraftAssessment.model_validate(data)
    except ValidationError as error:
        return validation_problems(error, what="assessment") + problems
    lines = contradictions(assessment) + knowledge_problems(assessment, knowledge)
    return problems + [Problem.of(line) for line in lines]


def _page(
    uow: UnitOfWork,
    draft: AssessmentDraft,
    data: dict[str, Any],
    knowledge: KnowledgeBase,
    problems: list[Problem] | None = None,
) -> DraftPage:
    from dermaplan.records.clinics import clinic_day
    from dermaplan.records.service import read_patient

    patient = read_patient(uow.session, uow.context, uow.clinic_id, draft.patient_id)
    assessment = None if problems else DraftAssessment.model_validate(data)
    answers = assessment.model_dump(mode="json") if assessment else _as_sent(data)
    plan, filled, refused = _plan(uow, patient, assessment, knowledge)
    today = assessment.consult_date if assessment else clinic_day(uow.context.now, uow.zone)
    return DraftPage(
        draft=DraftLine.of(draft),
        patient=PatientLine.of(patient),
        sex=patient.sex.value if patient.sex else None,
        age=age_on(patient.birth_date, today) if patient.birth_date else None,
        data=data,
        questions=questions(knowledge, assessment, patient, answers),
        concerns=[
            ConcernChoice(id=c.id, name=c.name, areas=list(c.occurs_on.areas), scarred=c.scar_kinds)
            for c in knowledge.concerns.values()
        ],
        scar_types=_choices(knowledge.needling.scar_types),
        allergens=_choices(knowledge.screening.allergens),
        procedure_kinds=_choices(knowledge.screening.procedures),
        procedures=answers.get("procedures") or [],
        areas=_choices(knowledge.areas.values()),
        problems=[FieldProblem.of(p) for p in [*(problems or []), *refused]],
        plan=plan,
        filled=filled,
    )


def _as_sent(data: dict[str, Any]) -> dict[str, Any]:
    """The answers of a draft that does not validate, as the form shows them again: each as
    sent, so that correcting one problem loses no other answer; but a list that cannot be
    read is shown not answered, its problem beside it."""
    answers: dict[str, Any] = {
        head: value
        for head in ("patient", "conditions", "medications")
        if isinstance(value := data.get(head), dict)
    }
    allergies = data.get("allergies")
    answers["allergies"] = allergies if isinstance(allergies, list) else None
    try:
        procedures = _procedure_list().validate_python(data.get("procedures"))
    except ValidationError:
        procedures = None
    answers["procedures"] = _procedure_list().dump_python(procedures, mode="json")
    return answers


@functools.cache
def _procedure_list() -> TypeAdapter[list[Procedure] | None]:
    return TypeAdapter(list[Procedure] | None)


def _choices(items: Iterable[ScreeningItem | ScarTypeInfo | Area]) -> list[Choice]:
    return [Choice(id=item.id, name=item.name) for item in items]


def _plan(
    uow: UnitOfWork, patient: Patient, assessment: Assessment | None, knowledge: KnowledgeBase
) -> tuple[dict[str, Any] | None, list[str], list[Problem]]:
    """The plan the engine makes of the draft on the patient's record, what the record
    filled in, and why there is none (the record disagrees); no plan without a concern."""
    from dermaplan.clinical.plan import plan_adapter
    from dermaplan.records.sessions import plan_on_record

    if assessment is None or not assessment.concerns:
        return None, [], []
    try:
        planned = plan_on_record(uow.session, uow.clinic_id, patient, assessment, knowledge)
    except RecordDisagrees as disagreement:
        return None, [], disagreement.details
    return plan_adapter().dump_python(planned.plan, mode="json"), list(planned.filled), []


def questions(
    knowledge: KnowledgeBase,
    assessment: Assessment | None,
    patient: Patient,
    answers: dict[str, Any],
) -> list[Question]:
    """Every safety question with its answer in `answers` (the assessment's, or what was
    sent), those the concerns and areas need marked (none until a concern is placed: which
    are needed depends on it); a question only a patient who is not male is asked is left
    out for a man."""
    from dermaplan.clinical.relevance import questions_for
    from dermaplan.interview import FEMALE_ONLY, PATIENT_PROMPTS, PROCEDURES_QUESTION

    concerns = assessment.concerns if assessment else []
    needed = questions_for(knowledge, concerns) if concerns else None
    male = patient.sex is Sex.MALE
    found: list[Question] = []
    told: dict[str, Any] = answers.get("patient", {})
    for attribute, (text, _) in PATIENT_PROMPTS.items():
        if male and attribute in FEMALE_ONLY:
            continue
        scale = SCALES.get(attribute)
        found.append(
            Question(
                field=f"patient.{attribute}",
                kind="scale" if scale else "yes_no",
                text=text,
                needed=needed is not None and attribute in needed.patient,
                answer=_said(told.get(attribute)),
                top=scale,
            )
        )
    screening = knowledge.screening
    conditions: dict[str, Any] = answers.get("conditions", {})
    medications: dict[str, Any] = answers.get("medications", {})
    yes_no: QuestionKind = "yes_no"
    medication: QuestionKind = "medication"
    listed = (
        (item, "conditions", yes_no, _said(conditions.get(item.id)))
        for item in screening.conditions
        if not (male and item.female_only)
    )
    used = (
        (item, "medications", medication, _said(_status(medications.get(item.id))))
        for item in screening.medications
    )
    found += [
        Question(
            field=f"{head}.{item.id}",
            kind=kind,
            text=item.question,
            needed=needed is not None and item.id in getattr(needed, head),
            answer=answer,
        )
        for item, head, kind, answer in (*listed, *used)
    ]
    lists: tuple[tuple[QuestionKind, str], ...] = (
        ("allergies", "Allergies"),
        ("procedures", PROCEDURES_QUESTION),
    )
    found += [
        Question(
            field=head,
            kind=head,
            text=text,
            needed=needed is not None and bool(getattr(needed, head)),
            # None: not asked; []: none; else what was listed
            answer=None if answers.get(head) is None else ("listed" if answers[head] else "none"),
        )
        for head, text in lists
    ]
    return sorted(found, key=lambda q: not q.needed)


def _status(use: Any) -> Any:
    """A medication's status as the answer gives it, if it gives one."""
    return use.get("status") if isinstance(use, dict) else None


def _said(value: Any) -> str | None:
    """An answer as the form shows it: yes, no, a number, or None (not answered)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
