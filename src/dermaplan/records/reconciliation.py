"""What a patient's record tells a consult stored for them (`consult FILE --save PATIENT`).

Before the engine runs, the record fills what the assessment leaves unknown only where that
cannot hide a risk: the age (from the birth date), the sex, a condition the record says the
patient has (`history`, by screening condition id: `keloid_history: true`), and the earlier
sessions on the record that are a screened procedure (a deoxycholic acid session counts
against the label's total of six) - added to the procedures the assessment lists, never
standing in for procedures it did not ask about. Where the
two disagree, the consult is refused until someone settles it: a recorded allergy to one of
the knowledge's allergens that the assessment leaves out, another age or sex, a condition the
record has and the assessment denies. A "no" on the record (no known allergies, a condition
marked false) never answers the assessment's question: it stays unknown until asked.

After the engine, a plan whose products or anaesthetic carry an allergy on the record (an
ingredient named outright included, which the assessment's allergens cannot say) is refused,
as a session using them would be. Pure functions: no database, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dermaplan.clinical.assessment import Assessment, Procedure, age_on
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import Plan
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality
from dermaplan.records.errors import RecordDisagrees
from dermaplan.records.safety import allergen_hits, ingredient_hits
from dermaplan.records.schemas import ConsultDocument, PatientData


@dataclass(frozen=True, slots=True)
class EarlierSession:
    """A treatment session on the patient's record, as much as a consult needs of it."""

    day: dt.date
    modality: Modality
    products: tuple[str, ...]  # formulary ids (others cannot be read)
    areas: tuple[str, ...]


def recorded_procedures(
    history: Iterable[EarlierSession], knowledge: KnowledgeBase, before: dt.date
) -> list[Procedure]:
    """The record's sessions up to `before` that are screened procedures: by an ingredient
    of a product given, or by the modality (a combined session is needling too)."""
    found = []
    for earlier in history:
        if earlier.day > before:
            continue
        ingredients = {
            component.ingredient
            for product in earlier.products
            if product in knowledge.products
            for component in knowledge.products[product].components
        }
        needled = {earlier.modality} | (
            {Modality.MICRONEEDLING} if earlier.modality is Modality.COMBINED else set()
        )
        for item in knowledge.screening.procedures:
            if ingredients.intersection(item.ingredients) or item.modality in needled:
                areas = [a for a in earlier.areas if a in knowledge.areas]
                found.append(Procedure(type=item.id, date=earlier.day, areas=areas))
    return found


def _with_record_procedures(
    assessment: Assessment,
    history: Sequence[EarlierSession],
    knowledge: KnowledgeBase,
    filled: list[str],
) -> list[Procedure] | None:
    """The assessment's procedures with the record's added; still None when not asked."""
    recorded = recorded_procedures(history, knowledge, assessment.consult_date)
    listed = assessment.procedures
    if listed is None:
        if recorded:
            filled.append(
                f"procedures: not asked, and the patient's record holds {len(recorded)} "
                "earlier one(s) - ask which procedures the patient has had"
            )
        return None
    known = {(p.type, p.date) for p in listed}
    added = [p for p in recorded if (p.type, p.date) not in known]
    filled += [
        f"procedures: {p.type} on {p.date} ({', '.join(p.areas) or 'no area'}), from the "
        "patient's record"
        for p in added
    ]
    return [*listed, *added]


@dataclass(frozen=True, slots=True)
class Reconciled:
    """The assessment the engine is to run on, and what the record filled in."""

    assessment: Assessment
    filled: list[str]


@dataclass(frozen=True, slots=True)
class PatientPlan:
    """A consult for a patient on record: what is stored, the plan, what the record filled."""

    document: ConsultDocument
    plan: Plan
    filled: list[str]


def plan_for_patient(
    assessment: Assessment,
    record: PatientData,
    knowledge: KnowledgeBase,
    history: Sequence[EarlierSession] = (),
) -> PatientPlan:
    """Reconcile, run the engine, check the plan against the record's allergies; a
    disagreement raises RecordDisagrees, one line per problem."""
    reconciled = reconcile(assessment, record, knowledge, history)
    plan = consult(reconciled.assessment, knowledge)
    problems = plan_allergy_problems(plan, record.allergies, knowledge)
    if problems:
        raise RecordDisagrees(problems)
    return PatientPlan(
        ConsultDocument.from_engine(reconciled.assessment, plan), plan, reconciled.filled
    )


def recorded_allergens(
    allergies: Sequence[str] | None, knowledge: KnowledgeBase
) -> dict[str, list[str]]:
    """Allergen id -> the allergies on a patient's record (free text) that name it by any of
    its words (KnowledgeBase.allergen_terms): what allergens the record holds."""
    named: dict[str, list[str]] = {}
    for allergy in allergies or ():
        for allergen, words in knowledge.allergen_terms.items():
            if allergy.casefold() in words:
                named.setdefault(allergen, []).append(allergy)
    return named


def reconcile(
    assessment: Assessment,
    record: PatientData,
    knowledge: KnowledgeBase,
    history: Sequence[EarlierSession] = (),
) -> Reconciled:
    """The assessment with the record's facts filled in; InvalidInput lists each place the
    two disagree."""
    problems: list[str] = []
    filled: list[str] = []
    patient = assessment.patient
    updates: dict[str, object] = {}
    if record.birth_date is not None:
        age = age_on(record.birth_date, assessment.consult_date)
        if patient.age is None:
            updates["age"] = age
            filled.append(f"patient.age: {age} (born {record.birth_date})")
        elif patient.age != age:
            problems.append(
                f"patient.age: {patient.age}, but the patient's record gives {age} on "
                f"{assessment.consult_date} (born {record.birth_date})"
            )
    if record.sex is not None:
        if patient.sex is None:
            updates["sex"] = record.sex
            filled.append(f"patient.sex: {record.sex.value}")
        elif patient.sex is not record.sex:
            problems.append(
                f"patient.sex: {patient.sex.value}, but the patient's record says "
                f"{record.sex.value}"
            )
    conditions = dict(assessment.conditions)
    for condition in knowledge.vocabulary["conditions"]:
        if record.history.get(condition) is not True:
            continue
        answer = conditions.get(condition)
        if answer is None:
            conditions[condition] = True
            filled.append(f"conditions.{condition}: true (the patient's record)")
        elif answer is False:
            problems.append(
                f"conditions.{condition}: false, but the patient's record says the patient has it"
            )
    for allergen, words in recorded_allergens(record.allergies, knowledge).items():
        if assessment.allergies is not None and allergen in assessment.allergies:
            continue
        said = ", ".join(f"'{word}'" for word in words)
        if assessment.allergies is None:
            problems.append(
                f"allergies: not asked, but the patient's record lists {said} ({allergen})"
            )
        else:
            problems.append(
                f"allergies: the patient's record lists {said} ({allergen}), which the "
                "assessment leaves out"
            )
    if problems:
        raise RecordDisagrees(problems)
    changed = assessment.model_copy(
        update={
            "patient": patient.model_copy(update=updates),
            "conditions": conditions,
            "procedures": _with_record_procedures(assessment, history, knowledge, filled),
        }
    )
    return Reconciled(changed, filled)


def plan_allergy_problems(
    plan: Plan, allergies: list[str] | None, knowledge: KnowledgeBase
) -> list[str]:
    """What in the plan carries an allergy on the patient's record, one line each."""
    if not allergies:
        return []
    used: list[tuple[str, str, list[str]]] = []  # where, what, its ingredients' allergy hits
    if plan.mesotherapy is not None:
        for index, preparation in enumerate(plan.mesotherapy.preparations):
            used += [
                (
                    f"mesotherapy.preparations[{index}]",
                    product,
                    allergen_hits(product, allergies, knowledge),
                )
                for product in preparation.products
            ]
    for name, protocol in (("microneedling", plan.microneedling), ("combined", plan.combined)):
        if protocol is None:
            continue
        used += [
            (f"{name}.open_skin_products", product, allergen_hits(product, allergies, knowledge))
            for product in protocol.open_skin_products
        ]
        option = protocol.anaesthesia.option
        if option is not None:
            anaesthetic = next(a for a in knowledge.needling.anaesthesia if a.id == option)
            hits = ingredient_hits(anaesthetic.ingredients, allergies, knowledge)
            used.append((f"{name}.anaesthesia", option, hits))
    return [
        f"{where}: {what} contains what the patient's record lists as an allergy: {', '.join(hits)}"
        for where, what, hits in used
        if hits
    ]
