"""Reading the facts a rule names off an assessment, with unknown kept apart from no.

A fact is a value, UNKNOWN (the question was not answered) or NOT_APPLICABLE (it has no
value by the answers given, e.g. days since stopping a drug never taken).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from enum import Enum
from functools import lru_cache

from dermaplan.clinical.assessment import Assessment, MedicationStatus
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality, Region


class Absent(Enum):
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"


UNKNOWN = Absent.UNKNOWN
NOT_APPLICABLE = Absent.NOT_APPLICABLE

FactValue = bool | float | str | dt.date | Absent


class FactSheet:
    """The facts of one assessment, read on demand and remembered for the consult."""

    def __init__(self, assessment: Assessment, knowledge: KnowledgeBase) -> None:
        self.assessment = assessment
        self.knowledge = knowledge
        self.treated_areas = frozenset(
            area for entry in assessment.concerns for area in entry.areas
        )
        self.values: dict[str, FactValue] = {}  # facts read so far, by name

    def get(self, name: str) -> FactValue:
        cache = self.values
        if name not in cache:
            cache[name] = reader(name)(self)
        return cache[name]

    def _patient(self, attribute: str) -> FactValue:
        value = getattr(self.assessment.patient, attribute)
        return UNKNOWN if value is None else _plain(value)

    def _allergy(self, allergen: str) -> FactValue:
        allergies = self.assessment.allergies
        return UNKNOWN if allergies is None else allergen in allergies

    def _medication(self, medication: str, attribute: str) -> FactValue:
        use = self.assessment.medications.get(medication)
        if use is None or use.status is None:
            return UNKNOWN
        if attribute == "current":
            return use.status is MedicationStatus.CURRENT
        if use.status is not MedicationStatus.STOPPED:
            return NOT_APPLICABLE
        if use.last_taken is None:
            return UNKNOWN
        if attribute == "last_taken":
            return use.last_taken
        return float((self.assessment.consult_date - use.last_taken).days)

    def _procedure(self, procedure: str, attribute: str) -> FactValue:
        """The latest such procedure on a treated area (one with no areas counts anywhere)."""
        recorded = self.assessment.procedures
        if recorded is None:
            return UNKNOWN
        dates = [
            p.date
            for p in recorded
            if p.type == procedure and (not p.areas or self.treated_areas.intersection(p.areas))
        ]
        if not dates:
            return NOT_APPLICABLE
        latest = max(dates)
        if attribute == "date":
            return latest
        return float((self.assessment.consult_date - latest).days)

    def regions(self) -> set[Region]:
        return {self.knowledge.areas[area].region for area in self.treated_areas}

    def predicate(self, name: str) -> bool:
        return PREDICATES[name](self)

    def question(self, fact: str) -> str:
        """The question to ask to learn a fact, in the words of the screening vocabulary."""
        head, _, rest = fact.partition(".")
        item = rest.partition(".")[0]
        screening = self.knowledge.screening
        kinds = {
            "conditions": screening.conditions,
            "medications": screening.medications,
            "allergies": screening.allergens,
            "procedures": screening.procedures,
        }
        if head == "allergies":
            return "Does the patient have any allergies (list them, or say none)?"
        if head == "procedures":
            return "Which procedures has the patient had recently, when and where (or none)?"
        if head in kinds:
            for entry in kinds[head]:
                if entry.id == item:
                    return entry.question
        return PATIENT_QUESTIONS.get(rest, f"What is the patient's {rest.replace('_', ' ')}?")


@lru_cache(maxsize=4096)
def reader(name: str) -> Callable[[FactSheet], FactValue]:
    """How to read one fact, worked out once per fact name."""
    head, _, rest = name.partition(".")
    if head == "patient":
        return lambda sheet: sheet._patient(rest)
    if head == "conditions":
        return lambda sheet: _answer(sheet.assessment.conditions.get(rest))
    if head == "allergies":
        return lambda sheet: sheet._allergy(rest)
    item, _, attribute = rest.partition(".")
    if head == "medications":
        return lambda sheet: sheet._medication(item, attribute)
    if head == "procedures":
        return lambda sheet: sheet._procedure(item, attribute)
    raise KeyError(name)


def _answer(value: bool | None) -> FactValue:
    return UNKNOWN if value is None else value


PATIENT_QUESTIONS = {
    "pregnant": "Is the patient pregnant (or could she be)?",
    "breastfeeding": "Is the patient breastfeeding?",
    "age": "How old is the patient?",
    "sex": "What is the patient's sex?",
    "fitzpatrick": "What is the patient's Fitzpatrick skin type (I-VI)?",
    "glogau": "What is the patient's Glogau photoageing class (I-IV)?",
}


def _plain(value: object) -> FactValue:
    if isinstance(value, bool | str | dt.date):
        return value
    if isinstance(value, int | float):
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
        fit.modality == Modality.MICRONEEDLING
        for entry in sheet.assessment.concerns
        for fit in concerns[entry.concern].addressed_by
    )


PREDICATES: dict[str, Callable[[FactSheet], bool]] = {
    "treats_face": _treats_region([Region.FACE]),
    "treats_body": _treats_region([Region.BODY]),
    "anaesthetic_planned": _anaesthetic_planned,
}
