"""Reading the facts a rule names off an assessment, with unknown kept apart from no.

A fact is a value, UNKNOWN (the question was not answered) or NOT_APPLICABLE (it has no
value by the answers given, e.g. days since stopping a drug never taken). A fact the other
answers settle is read as settled, never as unknown: a male patient is not pregnant, and a
keloid among the scars to treat is a history of keloid. Facts about earlier procedures
depend on the area: a sheet can be narrowed to one treated area.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from enum import Enum
from functools import lru_cache

from dermaplan.clinical.assessment import Assessment, MedicationStatus, Sex
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality, Region


class Absent(Enum):
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"


UNKNOWN = Absent.UNKNOWN
NOT_APPLICABLE = Absent.NOT_APPLICABLE

FactValue = bool | float | str | dt.date | Absent


AREA_BOUND = "procedures."  # the facts whose value depends on the area they are read for


class FactSheet:
    """The facts of one assessment, read on demand and remembered for the consult."""

    def __init__(
        self,
        assessment: Assessment,
        knowledge: KnowledgeBase,
        areas: frozenset[str] | None = None,
        shared: dict[str, FactValue] | None = None,
    ) -> None:
        self.assessment = assessment
        self.knowledge = knowledge
        self.treated_areas = (
            frozenset(area for entry in assessment.concerns for area in entry.areas)
            if areas is None
            else areas
        )
        # facts read so far, by name; a narrowed sheet starts from its parent's facts that
        # do not depend on the area
        self.values: dict[str, FactValue] = (
            {}
            if shared is None
            else {k: v for k, v in shared.items() if not k.startswith(AREA_BOUND)}
        )
        self._narrowed: dict[str, FactSheet] = {}

    def get(self, name: str) -> FactValue:
        cache = self.values
        if name not in cache:
            cache[name] = reader(name)(self)
        return cache[name]

    @property
    def area_bound(self) -> bool:
        """Whether procedure facts differ between the treated areas (some procedure names
        its areas and more than one area is treated)."""
        procedures = self.assessment.procedures
        return (
            len(self.treated_areas) > 1
            and procedures is not None
            and any(p.areas for p in procedures)
        )

    def narrowed(self, area: str) -> FactSheet:
        """The same facts, as read for one treated area."""
        sheet = self._narrowed.get(area)
        if sheet is None:
            sheet = self._narrowed[area] = FactSheet(
                self.assessment, self.knowledge, frozenset((area,)), self.values
            )
        return sheet

    def _patient(self, attribute: str) -> FactValue:
        patient = self.assessment.patient
        value = getattr(patient, attribute)
        if value is None and attribute in FEMALE_ONLY and patient.sex is Sex.MALE:
            return NOT_APPLICABLE
        return UNKNOWN if value is None else _plain(value)

    def _condition(self, condition: str) -> FactValue:
        answer = self.assessment.conditions.get(condition)
        if answer is None and condition in implied_conditions(self.assessment, self.knowledge):
            return True
        return UNKNOWN if answer is None else answer

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
        """The question that learns a fact, asking for exactly what is missing: the date of
        the last dose of a drug the patient has stopped, not whether they take it."""
        head, _, rest = fact.partition(".")
        item, _, attribute = rest.partition(".")
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
            return PROCEDURES_QUESTION
        if head == "medications" and attribute != "current":
            use = self.assessment.medications.get(item)
            if use is not None and use.status is MedicationStatus.STOPPED:
                name = next(m.name for m in screening.medications if m.id == item)
                return f"{name}: on what date did the patient take the last dose?"
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
        return lambda sheet: sheet._condition(rest)
    if head == "allergies":
        return lambda sheet: sheet._allergy(rest)
    item, _, attribute = rest.partition(".")
    if head == "medications":
        return lambda sheet: sheet._medication(item, attribute)
    if head == "procedures":
        return lambda sheet: sheet._procedure(item, attribute)
    raise KeyError(name)


FEMALE_ONLY = frozenset({"pregnant", "breastfeeding"})
PROCEDURES_QUESTION = "Which procedures has the patient had, when and where (or none)?"


def implied_conditions(assessment: Assessment, knowledge: KnowledgeBase) -> frozenset[str]:
    """The screening conditions the concerns themselves show (a keloid scar to treat is a
    history of keloid)."""
    kinds = {kind for entry in assessment.concerns for kind in entry.scar_types}
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
