"""The screening questions a consult needs for the concerns chosen, read off the knowledge.

A question is needed when its answer can change the plan: a rule reads it that bears on a
modality that could treat one of the concerns there (or on an ingredient or a device such a
modality could use), the blend reads it (allergies, the earlier sessions a label counts), or
it says whether the patient uses the medication the evidence for needling a concern came with. The
reading is the engine's own (the same rule scopes, areas and candidate ingredients), taken
wide where the interview cannot know yet: the pain-relief additive counts as possible, and
every kind of scar as a target. A question left out stays unknown, never no; one that bears
on nothing that could be proposed cannot change the plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dermaplan.clinical.assessment import ConcernEntry
from dermaplan.clinical.blend import candidate_ingredients, formulary
from dermaplan.clinical.decision import addressed, combine
from dermaplan.clinical.radiofrequency import usable_devices
from dermaplan.clinical.screening import device_areas, rule_modalities, scopes
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.conditions import Comparison, walk
from dermaplan.knowledge.facts import FACT_PATTERNS
from dermaplan.knowledge.schema import Rule
from dermaplan.vocabulary import COMBINED, MESOTHERAPY, MICRONEEDLING


@dataclass(frozen=True, slots=True)
class Questions:
    """The screening questions to ask, each kind in the knowledge's order."""

    patient: tuple[str, ...]  # attributes of the patient other than age and sex
    conditions: tuple[str, ...]
    medications: tuple[str, ...]
    allergies: bool
    procedures: bool

    def __len__(self) -> int:
        return (
            len(self.patient)
            + len(self.conditions)
            + len(self.medications)
            + self.allergies
            + self.procedures
        )


ALWAYS_ASKED = ("age", "sex")  # asked before the concerns: they settle other answers


def facts_read(rule: Rule) -> set[str]:
    """The facts a rule's condition and its waiting date read."""
    facts = {node.fact for node in walk(rule.when) if isinstance(node, Comparison)}
    if rule.temporary is not None and rule.temporary.from_fact is not None:
        facts.add(rule.temporary.from_fact)
    return facts


def questions_for(knowledge: KnowledgeBase, concerns: Iterable[ConcernEntry]) -> Questions:
    """The questions whose answers can change a plan for these concerns and areas."""
    entries = list(concerns)
    needled = addressed(knowledge, entries, MICRONEEDLING)
    # injected alone, or given onto the needled skin in the combined sitting
    meso = addressed(knowledge, entries, MESOTHERAPY, needled=needled)
    areas = {
        MESOTHERAPY: frozenset(meso),
        MICRONEEDLING: frozenset(needled),
        COMBINED: frozenset(combine(meso, needled)),
    }
    candidates = candidate_ingredients(knowledge, meso, needled, pain_relief=True)
    usable = candidates[COMBINED]
    devices = usable_devices(knowledge, needled)
    read: set[str] = set()
    for scope in scopes(knowledge):
        if scope.devices:
            if not device_areas(scope, devices):
                continue
        elif scope.ingredients:
            if scope.ingredients.isdisjoint(usable):
                continue
        elif not rule_modalities(scope, areas):
            continue
        read |= facts_read(scope.rule)
    # a medication prescribed alongside needling, as the evidence gave it, decides whether
    # needling may be recommended
    read.update(
        f"medications.{medication}.current"
        for area, here in needled.items()
        for concern in here
        for fit in knowledge.concerns[concern].addressed_by
        if fit.modality is MICRONEEDLING
        and fit.adjunct is not None
        and (fit.areas is None or area in fit.areas)
        for medication in fit.adjunct.medications
    )
    heads = {fact.partition(".")[0] for fact in read}
    index = formulary(knowledge)
    # the blend reads the allergies (what it may not give, what it cannot check) and the
    # earlier sessions a label's total counts
    allergies = (
        "allergies" in heads
        or bool(meso)
        or any(knowledge.ingredients[i].allergens for i in usable)
    )
    claimed = {c for concerns in meso.values() for c in concerns}
    procedures = "procedures" in heads or any(
        index.counted.get(product.id)
        for concern in claimed
        for product in index.by_concern.get(concern, ())
    )
    implied = {
        condition
        for entry in entries
        for scar in knowledge.needling.scar_types
        if scar.id in entry.scar_types
        for condition in scar.implies
    }
    return Questions(
        patient=tuple(
            fact.removeprefix("patient.")
            for fact in FACT_PATTERNS
            if fact in read and fact.removeprefix("patient.") not in ALWAYS_ASKED
        ),
        conditions=tuple(
            c
            for c in knowledge.vocabulary["conditions"]
            if f"conditions.{c}" in read and c not in implied
        ),
        medications=tuple(
            m
            for m in knowledge.vocabulary["medications"]
            if any(fact.startswith(f"medications.{m}.") for fact in read)
        ),
        allergies=allergies,
        procedures=procedures,
    )
