"""The assessment: what a practitioner knows of a patient at a consult.

Every safety answer is tri-state: `true`, `false`, or absent/null for *unknown*. Unknown
is never read as no; the engine turns it into a `missing` finding.
"""

# No postponed annotations: pydantic would evaluate each field's annotation from its text (a
# compile per field) as the models are made, on every consult.
import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)

from dermaplan.bounds import in_calendar
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.loader import did_you_mean
from dermaplan.problems import validation_problems
from dermaplan.text import Line, Prose
from dermaplan.vocabulary import Sex as Sex  # the assessment's, shared with the records

Day = Annotated[dt.date, AfterValidator(in_calendar)]  # every date the records and plans hold
ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}


def _roman(value: object) -> object:
    if isinstance(value, str) and value.strip().upper() in ROMAN:
        return ROMAN[value.strip().upper()]
    return value


def _scale_schema(top: int) -> dict[str, Any]:
    """A skin-type scale as written in files: 1..top, or its Roman numeral."""
    numerals = [key for key, value in ROMAN.items() if value <= top]
    return {
        "anyOf": [
            {"type": "integer", "minimum": 1, "maximum": top},
            {"enum": numerals + [n.lower() for n in numerals]},
            {"type": "null"},
        ]
    }


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MedicationStatus(StrEnum):
    CURRENT = "current"
    STOPPED = "stopped"
    NEVER = "never"


# as module names too, for the engine's loops (as plan.ABSOLUTE: a global is cheaper to read)
CURRENT = MedicationStatus.CURRENT
STOPPED = MedicationStatus.STOPPED


class ScarType(StrEnum):
    ROLLING = "rolling"
    BOXCAR = "boxcar"
    ICEPICK = "icepick"
    HYPERTROPHIC = "hypertrophic"
    KELOID = "keloid"
    SURGICAL = "surgical"
    TRAUMATIC = "traumatic"


Severity = Literal["mild", "moderate", "severe"]
PainTolerance = Literal["low", "medium", "high"]


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Whole years on `day`: what `patient.age` means, for a record's birth date."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


# the classifications' own ranges: Fitzpatrick skin types I-VI, Glogau photoageing I-IV
SCALES = {"fitzpatrick": 6, "glogau": 4}


class Patient(Strict):
    age: int | None = Field(default=None, ge=0, le=120)
    sex: Sex | None = None
    fitzpatrick: Annotated[
        Annotated[int, Field(ge=1, le=SCALES["fitzpatrick"])] | None,
        BeforeValidator(_roman),
        WithJsonSchema(_scale_schema(SCALES["fitzpatrick"])),
    ] = None
    glogau: Annotated[
        Annotated[int, Field(ge=1, le=SCALES["glogau"])] | None,
        BeforeValidator(_roman),
        WithJsonSchema(_scale_schema(SCALES["glogau"])),
    ] = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None


class MedicationUse(Strict):
    status: MedicationStatus | None = None
    last_taken: Day | None = None


class Procedure(Strict):
    type: Line
    date: Day
    areas: list[Line] = []


class ConcernEntry(Strict):
    concern: Line
    areas: list[Line] = Field(min_length=1)
    severity: Severity
    scar_types: list[ScarType] = []
    notes: Prose | None = None


class Goals(Strict):
    downtime_days: int | None = Field(default=None, ge=0, le=60)
    pain_tolerance: PainTolerance | None = None
    max_sessions: int | None = Field(default=None, ge=1, le=24)
    event_date: Day | None = None
    start_date: Day | None = None


class Assessment(Strict):
    consult_date: Day
    patient: Patient = Patient()
    conditions: dict[Line, bool | None] = {}
    medications: dict[Line, MedicationUse] = {}
    allergies: list[Line] | None = None  # None: not asked; []: none known
    procedures: list[Procedure] | None = None  # None: not asked; []: none recent
    concerns: list[ConcernEntry] = Field(min_length=1)
    goals: Goals = Goals()
    notes: Prose | None = None


class AssessmentError(ValueError):
    """An assessment that cannot be used; `problems` has one located line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_assessment(data: Any, knowledge: KnowledgeBase) -> Assessment:
    """Validate raw data (from YAML or JSON) into an Assessment, or raise AssessmentError
    listing every problem: shape, vocabulary and contradictions together."""
    if not isinstance(data, dict):
        raise AssessmentError(["the assessment must be a mapping of fields"])
    problems = vocabulary_problems(data, knowledge)
    try:
        assessment = Assessment.model_validate(data)
    except ValidationError as error:
        shape = [str(p) for p in validation_problems(error, what="assessment")]
        raise AssessmentError(shape + problems) from None
    problems += contradictions(assessment) + knowledge_problems(assessment, knowledge)
    if problems:
        raise AssessmentError(problems)
    return assessment


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def vocabulary_problems(data: dict[str, Any], knowledge: KnowledgeBase) -> list[str]:
    """Unknown ids, read off the raw data so they are reported even beside shape errors."""
    problems: list[str] = []
    vocabulary = knowledge.vocabulary

    def need(where: str, value: Any, kind: str, choices: Any) -> None:
        if isinstance(value, str) and value not in choices:
            problems.append(f"{where}: '{value}' is not {kind}{did_you_mean(value, choices)}")

    for field, kind, label in (
        ("conditions", "conditions", "a screened condition"),
        ("medications", "medications", "a screened medication"),
    ):
        answers = data.get(field)
        for key in answers if isinstance(answers, dict) else ():
            need(f"{field}.{key}", key, label, vocabulary[kind])
    for index, allergen in _items(data.get("allergies")):
        need(f"allergies[{index}]", allergen, "an allergen", vocabulary["allergens"])
    for index, procedure in _items(data.get("procedures")):
        if isinstance(procedure, dict):
            where = f"procedures[{index}]"
            need(f"{where}.type", procedure.get("type"), "a procedure", vocabulary["procedures"])
            for position, area in _items(procedure.get("areas")):
                need(f"{where}.areas[{position}]", area, "an area", knowledge.areas)
    for index, entry in _items(data.get("concerns")):
        if isinstance(entry, dict):
            where = f"concerns[{index}]"
            need(f"{where}.concern", entry.get("concern"), "a concern", knowledge.concerns)
            for position, area in _items(entry.get("areas")):
                need(f"{where}.areas[{position}]", area, "an area", knowledge.areas)
    return problems


def knowledge_problems(assessment: Assessment, knowledge: KnowledgeBase) -> list[str]:
    """What the knowledge says cannot be: a concern on an area where it does not occur, kinds
    of scar for a concern that is not a scar, a kind of scar that contradicts an answer (a
    keloid to treat, and no history of keloid), and a man with a condition only a patient not
    male can have."""
    problems: list[str] = []
    if assessment.patient.sex is Sex.MALE:
        problems += [
            f"conditions.{item.id}: true contradicts patient.sex: male"
            for item in knowledge.screening.conditions
            if item.female_only and assessment.conditions.get(item.id) is True
        ]
    implies = {scar.id: scar.implies for scar in knowledge.needling.scar_types}
    for index, entry in enumerate(assessment.concerns):
        if entry.concern not in knowledge.concerns:
            continue  # an unknown id, already reported with a near match
        concern = knowledge.concerns[entry.concern]
        if entry.scar_types and not concern.scar_kinds:
            scarred = ", ".join(c.id for c in knowledge.concerns.values() if c.scar_kinds)
            problems.append(f"concerns[{index}].scar_types: only for scar concerns ({scarred})")
        occurs = concern.occurs_on.areas
        for position, area in enumerate(entry.areas):
            if area not in occurs and area in knowledge.areas:
                problems.append(
                    f"concerns[{index}].areas[{position}]: {entry.concern} does not occur on "
                    f"{area} - it occurs on {', '.join(occurs)}"
                )
        for kind in entry.scar_types:
            for condition in implies.get(kind, ()):
                if assessment.conditions.get(condition) is False:
                    problems.append(
                        f"concerns[{index}].scar_types: {kind} contradicts "
                        f"conditions.{condition}: false"
                    )
    return problems


def contradictions(assessment: Assessment) -> list[str]:
    """Facts that cannot all be true; each line names the fields that disagree."""
    problems: list[str] = []
    patient, consult = assessment.patient, assessment.consult_date
    if patient.sex is Sex.MALE:
        for field in ("pregnant", "breastfeeding"):
            if getattr(patient, field) is True:
                problems.append(f"patient.{field}: true contradicts patient.sex: male")
    for name, use in assessment.medications.items():
        where = f"medications.{name}"
        if use.last_taken is not None and use.last_taken > consult:
            problems.append(f"{where}.last_taken: {use.last_taken} is after the consult date")
        if use.last_taken is not None and use.status is not MedicationStatus.STOPPED:
            # the date of a last dose is only read for a stopped medicine: under any other
            # status it would be silently ignored, and a rule it settles left open
            status = "missing" if use.status is None else f"'{use.status}'"
            problems.append(
                f"{where}.last_taken: a last dose belongs to a stopped medicine, but status is "
                f"{status} (say status: stopped, or leave the date out)"
            )
    for index, procedure in enumerate(assessment.procedures or []):
        if procedure.date > consult:
            problems.append(f"procedures[{index}].date: {procedure.date} is after the consult date")
    seen: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(assessment.concerns):
        for area in entry.areas:
            if (entry.concern, area) in seen:
                problems.append(
                    f"concerns[{index}]: {entry.concern} on {area} is already "
                    f"concerns[{seen[entry.concern, area]}]"
                )
            seen.setdefault((entry.concern, area), index)
    goals = assessment.goals
    for field in ("event_date", "start_date"):
        value = getattr(goals, field)
        if value is not None and value < consult:
            problems.append(f"goals.{field}: {value} is before the consult date {consult}")
    return problems
