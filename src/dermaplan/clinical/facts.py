"""Reading the facts a rule names off an assessment, with unknown kept apart from no.

A fact is a value, UNKNOWN (the question was not answered) or NOT_APPLICABLE (it has no
value by the answers given, e.g. days since stopping a drug never taken). A fact the other
answers settle is read as settled, never as unknown: a male patient is not pregnant (nor has
any condition the knowledge marks `female_only`), and a keloid among the scars to treat is a
history of keloid. Facts about earlier procedures
depend on the area: a sheet can be narrowed to one treated area.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from dermaplan.clinical.assessment import CURRENT, STOPPED, Assessment, Sex
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.facts import FACT_PATTERNS
from dermaplan.knowledge.schema import Region
from dermaplan.vocabulary import MICRONEEDLING


class Absent(Enum):
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"


UNKNOWN = Absent.UNKNOWN
NOT_APPLICABLE = Absent.NOT_APPLICABLE

FactValue = bool | float | str | dt.date | Absent


AREA_BOUND = "procedures."  # the facts whose value depends on the area they are read for


@dataclass(frozen=True, slots=True)
class _Names:
    """Every fact name of a knowledge base, by kind and item: built once, so a sheet reads
    all its facts in one pass with no name built or parsed per consult."""

    allergens: tuple[tuple[str, str], ...]  # (allergen, fact)
    procedures: dict[str, tuple[str, str]]  # procedure → days_ago, date
    patient: tuple[tuple[str, str], ...]  # (attribute, fact)
    conditions: dict[str, str]  # condition → its fact
    female_only: tuple[str, ...]  # the facts of the conditions only a patient not male can have
    medications: dict[str, tuple[str, str, str]]  # medication → current, stopped_days_ago, date
    # every fact as if nothing were answered: procedures not asked, or asked and none had
    not_asked: dict[str, FactValue]
    none_had: dict[str, FactValue]


@lru_cache(maxsize=16)
def _names(knowledge: KnowledgeBase) -> _Names:
    """Every name interned, as the rules' facts are: a sheet's keys are then found by identity,
    with no text compared per fact read."""
    vocabulary = knowledge.vocabulary
    intern = sys.intern
    unanswered = [intern(name) for name in knowledge.facts if not name.startswith(AREA_BOUND)]
    procedures = {
        p: (intern(f"procedures.{p}.days_ago"), intern(f"procedures.{p}.date"))
        for p in vocabulary["procedures"]
    }
    procedure_facts = [fact for facts in procedures.values() for fact in facts]
    not_asked: dict[str, FactValue] = dict.fromkeys(unanswered + procedure_facts, UNKNOWN)
    none_had = not_asked | dict.fromkeys(procedure_facts, NOT_APPLICABLE)
    return _Names(
        allergens=tuple((a, intern(f"allergies.{a}")) for a in vocabulary["allergens"]),
        procedures=procedures,
        patient=tuple(
            (name.removeprefix("patient."), intern(name))
            for name in FACT_PATTERNS
            if name.startswith("patient.")
        ),
        conditions={c: intern(f"conditions.{c}") for c in vocabulary["conditions"]},
        female_only=tuple(
            intern(f"conditions.{item.id}")
            for item in knowledge.screening.conditions
            if item.female_only
        ),
        medications={
            m: (
                intern(f"medications.{m}.current"),
                intern(f"medications.{m}.stopped_days_ago"),
                intern(f"medications.{m}.last_taken"),
            )
            for m in vocabulary["medications"]
        },
        not_asked=not_asked,
        none_had=none_had,
    )


class _Over(dict[str, FactValue]):
    """An area's own facts over the facts of the whole assessment."""

    __slots__ = ("parent",)

    def __init__(self, parent: dict[str, FactValue]) -> None:
        super().__init__()
        self.parent = parent

    def __missing__(self, name: str) -> FactValue:
        return self.parent[name]


class FactSheet:
    """Every fact a rule may name, read off one assessment in one pass."""

    def __init__(
        self,
        assessment: Assessment,
        knowledge: KnowledgeBase,
        areas: frozenset[str] | None = None,
        shared: dict[str, FactValue] | None = None,
        shown: dict[str, frozenset[str]] | None = None,
    ) -> None:
        self.assessment = assessment
        self.knowledge = knowledge
        if areas is None:
            treated: set[str] = set()
            for entry in assessment.concerns:
                treated.update(entry.areas)
            areas = frozenset(treated)
        self.treated_areas = areas
        names = _names(knowledge)
        # a narrowed sheet: its own earlier procedures over the parent's other facts
        self.values: dict[str, FactValue] = self._read(names) if shared is None else _Over(shared)
        self._read_procedures(names)
        self._shown = shown_conditions(assessment, knowledge) if shown is None else shown
        if self._shown:
            self._read_shown(shared is not None)
        self._narrowed: dict[str, FactSheet] = {}

    def get(self, name: str) -> FactValue:
        return self.values[name]

    def _read(self, names: _Names) -> dict[str, FactValue]:
        """Every fact but the procedures done: unknown unless the assessment answers it (or
        the other answers settle it)."""
        assessment = self.assessment
        values = dict(names.not_asked if assessment.procedures is None else names.none_had)
        patient = assessment.patient
        for attribute, fact in names.patient:
            value = getattr(patient, attribute)
            if value is not None:
                values[fact] = _plain(value)
            elif attribute in FEMALE_ONLY and patient.sex is Sex.MALE:
                values[fact] = NOT_APPLICABLE
        conditions = names.conditions
        for condition, answer in assessment.conditions.items():
            if answer is not None:
                values[conditions[condition]] = answer
        for condition in implied_conditions(assessment, self.knowledge):
            if assessment.conditions.get(condition) is None:
                values[conditions[condition]] = True
        if patient.sex is Sex.MALE:
            for fact in names.female_only:
                if values[fact] is UNKNOWN:
                    values[fact] = NOT_APPLICABLE
        allergies = assessment.allergies
        if allergies is not None:
            for allergen, fact in names.allergens:
                values[fact] = allergen in allergies
        consult_date = assessment.consult_date
        for medication, use in assessment.medications.items():
            status = use.status
            if status is None:
                continue
            current, stopped_days_ago, last_taken = names.medications[medication]
            if status is not STOPPED:
                values[current] = status is CURRENT
                values[stopped_days_ago] = values[last_taken] = NOT_APPLICABLE
            else:
                values[current] = False
                if use.last_taken is not None:
                    values[last_taken] = use.last_taken
                    values[stopped_days_ago] = float((consult_date - use.last_taken).days)
        return values

    def _read_procedures(self, names: _Names) -> None:
        """The latest procedure of each kind recorded on a treated area (one with no areas
        counts anywhere). The other kinds keep what the sheet starts from: unknown while
        procedures were not asked, otherwise none had (on a narrowed sheet, the whole
        assessment's, so each kind recorded is read again for its area)."""
        recorded = self.assessment.procedures
        if not recorded:
            return
        values = self.values
        latest: dict[str, dt.date | None] = {}
        treated = self.treated_areas
        for procedure in recorded:
            known = latest.get(procedure.type)
            if procedure.areas and treated.isdisjoint(procedure.areas):
                latest.setdefault(procedure.type, None)
            elif known is None or procedure.date > known:
                latest[procedure.type] = procedure.date
        consult_date = self.assessment.consult_date
        for kind, day in latest.items():
            days, date = names.procedures[kind]
            if day is None:
                values[days] = values[date] = NOT_APPLICABLE
            else:
                values[date] = day
                values[days] = float((consult_date - day).days)

    def _read_shown(self, narrowed: bool) -> None:
        """A condition of the treated skin that a concern shows on its areas: true there, and
        over all areas, since some treated skin has it; on an area without that concern, the
        patient's answer (about the areas besides), unless that answer is yes everywhere."""
        answers = self.assessment.conditions
        for condition, where in self._shown.items():
            answer = answers.get(condition)
            if answer is True:
                continue
            fact = f"conditions.{condition}"
            if not narrowed or self.treated_areas <= where:
                self.values[fact] = True
            else:
                self.values[fact] = UNKNOWN if answer is None else answer

    @property
    def area_bound(self) -> frozenset[str]:
        """The facts that differ between the treated areas, as `procedures.<kind>` or
        `conditions.<condition>`: earlier procedures that name their areas, and conditions a
        concern shows on some treated areas only; none when one area is treated."""
        if len(self.treated_areas) < 2:
            return frozenset()
        procedures = self.assessment.procedures or ()
        answers = self.assessment.conditions
        return frozenset(
            [f"{AREA_BOUND}{p.type}" for p in procedures if p.areas]
            + [
                f"conditions.{condition}"
                for condition, where in self._shown.items()
                if answers.get(condition) is not True and not self.treated_areas <= where
            ]
        )

    def narrowed(self, area: str) -> FactSheet:
        """The same facts, as read for one treated area."""
        sheet = self._narrowed.get(area)
        if sheet is None:
            sheet = self._narrowed[area] = FactSheet(
                self.assessment, self.knowledge, frozenset((area,)), self.values, self._shown
            )
        return sheet

    def regions(self) -> set[Region]:
        return {self.knowledge.areas[area].region for area in self.treated_areas}

    def predicate(self, name: str) -> bool:
        return PREDICATES[name](self)

    def question(self, fact: str) -> str:
        """The question that learns a fact, asking for exactly what is missing: the date of
        the last dose of a drug the patient has stopped, not whether they take it."""
        asked, medication = _asking(self.knowledge, fact)
        if medication is not None:
            use = self.assessment.medications.get(medication)
            if use is not None and use.status is STOPPED:
                return _last_dose_question(self.knowledge, medication)
        return asked


@lru_cache(maxsize=4096)
def _asking(knowledge: KnowledgeBase, fact: str) -> tuple[str, str | None]:
    """The question for a fact, and the medication whose last dose it asks for instead when
    the patient has stopped it (a fact about stopping it); the same for every patient."""
    head, _, rest = fact.partition(".")
    item, _, attribute = rest.partition(".")
    stopping = head == "medications" and attribute != "current"
    return _question(knowledge, fact), item if stopping else None


@lru_cache(maxsize=4096)
def _last_dose_question(knowledge: KnowledgeBase, medication: str) -> str:
    name = next(m.name for m in knowledge.screening.medications if m.id == medication)
    return f"{name}: on what date did the patient take the last dose?"


@lru_cache(maxsize=4096)
def _question(knowledge: KnowledgeBase, fact: str) -> str:
    """The screening vocabulary's question for a fact (the same for every patient)."""
    head, _, rest = fact.partition(".")
    item = rest.partition(".")[0]
    screening = knowledge.screening
    kinds = {
        "conditions": screening.conditions,
        "medications": screening.medications,
        "allergies": screening.allergens,
        "procedures": screening.procedures,
    }
    if head == "allergies":
        return "Does the patient have any allergies (list them, or say none)?"
    if head == "procedures":
        return PROCEDURES_QUESTION
    for entry in kinds.get(head, ()):
        if entry.id == item:
            return entry.question
    return PATIENT_QUESTIONS.get(rest, f"What is the patient's {rest.replace('_', ' ')}?")


FEMALE_ONLY = frozenset({"pregnant", "breastfeeding"})
PROCEDURES_QUESTION = "Which procedures has the patient had, when and where (or none)?"


def shown_conditions(assessment: Assessment, knowledge: KnowledgeBase) -> dict[str, frozenset[str]]:
    """Condition → the areas where a concern shows it (active acne is inflamed acne there)."""
    showing = _showing(knowledge)
    if not showing:
        return {}
    found: dict[str, set[str]] = {}
    for entry in assessment.concerns:
        for condition in showing.get(entry.concern, ()):
            found.setdefault(condition, set()).update(entry.areas)
    return {condition: frozenset(areas) for condition, areas in found.items()} if found else {}


@lru_cache(maxsize=16)
def _showing(knowledge: KnowledgeBase) -> dict[str, tuple[str, ...]]:
    return {c.id: tuple(c.implies) for c in knowledge.concerns.values() if c.implies}


def implied_conditions(assessment: Assessment, knowledge: KnowledgeBase) -> frozenset[str]:
    """The screening conditions the concerns themselves show (a keloid scar to treat is a
    history of keloid)."""
    kinds: set[str] = set()
    for entry in assessment.concerns:
        kinds.update(entry.scar_types)
    if not kinds:
        return frozenset()
    return frozenset(
        condition
        for scar in knowledge.needling.scar_types
        if scar.id in kinds
        for condition in scar.implies
    )


PATIENT_QUESTIONS = {
    "pregnant": "Is the patient pregnant (or could she be)?",
    "breastfeeding": "Is the patient breastfeeding?",
    "age": "How old is the patient?",
    "sex": "What is the patient's sex?",
    "fitzpatrick": "What is the patient's Fitzpatrick skin type (I-VI)?",
    "glogau": "What is the patient's Glogau photoageing class (I-IV)?",
}


_AS_IS = (bool, str, dt.date)
_NUMBER = (int, float)


def _plain(value: object) -> FactValue:
    if isinstance(value, _AS_IS):
        return value
    if isinstance(value, _NUMBER):
        return float(value)
    raise TypeError(f"unsupported fact value {value!r}")


def _treats_region(regions: Iterable[Region]) -> Callable[[FactSheet], bool]:
    wanted = frozenset(regions)
    return lambda sheet: bool(sheet.regions() & wanted)


def _anaesthetic_planned(sheet: FactSheet) -> bool:
    if sheet.assessment.goals.pain_tolerance == "low":
        return True
    concerns = sheet.knowledge.concerns
    return any(
        fit.modality == MICRONEEDLING
        for entry in sheet.assessment.concerns
        for fit in concerns[entry.concern].addressed_by
    )


PREDICATES: dict[str, Callable[[FactSheet], bool]] = {
    "treats_face": _treats_region([Region.FACE]),
    "treats_body": _treats_region([Region.BODY]),
    "anaesthetic_planned": _anaesthetic_planned,
}
