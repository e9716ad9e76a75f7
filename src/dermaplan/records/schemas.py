"""What a person may hand to the records services, validated into located problems."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from dermaplan.bounds import HISTORY_BYTES, SIGNATURE_BYTES, in_calendar
from dermaplan.documents import json_document
from dermaplan.problems import validation_problems
from dermaplan.records.enums import (
    AdverseEventType,
    Causality,
    EventOutcome,
    OutcomeScale,
    PhotoScope,
    Severity,
)
from dermaplan.records.errors import InvalidInput
from dermaplan.records.names import search_key
from dermaplan.records.scales import score_problem
from dermaplan.text import LINE, PROSE, Line
from dermaplan.vocabulary import Modality, Sex

if TYPE_CHECKING:  # the records read and store plans without loading the engine
    from dermaplan.clinical.assessment import Assessment
    from dermaplan.clinical.plan import Plan
    from dermaplan.knowledge import KnowledgeBase

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"\+?[0-9][0-9 ().\-/]{2,38}")
SYSTEM = re.compile(r"[a-z0-9][a-z0-9_.:\-]{0,49}")
Instant = Annotated[dt.datetime, AfterValidator(in_calendar)]
Day = Annotated[dt.date, AfterValidator(in_calendar)]


def _iso_date(value: object) -> object:
    """Only a real date or a YYYY-MM-DD string; pydantic would read 19900101 as a timestamp."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        raise ValueError("a date without a time is expected (YYYY-MM-DD)")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"'{value}' is not a date (YYYY-MM-DD)") from None
    raise ValueError("a date is expected (YYYY-MM-DD)")


def _named(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    if not search_key(value):
        raise ValueError("needs at least one letter or digit")
    return value


def _email(value: str) -> str:
    if not EMAIL.fullmatch(value):
        raise ValueError(f"'{value}' is not an e-mail address")
    return value


def _phone(value: str | None) -> str | None:
    if value is not None and not PHONE.fullmatch(value):
        raise ValueError(f"'{value}' is not a phone number (digits, spaces, + - ( ) . /)")
    return value


def _identifiers(value: dict[str, str]) -> dict[str, str]:
    for system in value:
        if not SYSTEM.fullmatch(system):
            raise ValueError(
                f"'{system}' is not an identifier system (lower-case letters, digits, _ . : -)"
            )
    return value


def _allergies(value: list[str] | None) -> list[str] | None:
    """Free text (a drug, a product, an ingredient), lower-case, each once, in given order."""
    if value is None:
        return None
    return list(dict.fromkeys(item.strip().casefold() for item in value))


def _history(value: object) -> object:
    """Free-form, stored as JSON: held to a document's bounds and its own size (YAML's dates
    as their ISO text, as the JSON columns and digests take them)."""
    return json_document(value, HISTORY_BYTES)


Name = Annotated[str, Field(max_length=200), LINE]
ShortText = Annotated[str, Field(min_length=1, max_length=100), LINE]


class PatientData(BaseModel):
    """A patient's demographics, contact, identifiers, allergies and history."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, defer_build=True
    )

    family_name: Annotated[Name, AfterValidator(_named)]
    given_names: Name = ""
    birth_date: Annotated[Day | None, BeforeValidator(_iso_date)] = None
    sex: Sex | None = None
    email: Annotated[str, Field(max_length=320), LINE, AfterValidator(_email)] | None = None
    phone: Annotated[str | None, AfterValidator(_phone)] = None
    identifiers: Annotated[dict[str, ShortText], AfterValidator(_identifiers)] = {}
    # None: never asked; []: asked, none known. Unknown is not no.
    allergies: Annotated[list[ShortText] | None, AfterValidator(_allergies)] = None
    history: Annotated[dict[str, Any], BeforeValidator(_history)] = {}

    @classmethod
    def parse(cls, data: object, where: str = "") -> PatientData:
        """Validate raw data (from options or a YAML file), or raise InvalidInput."""
        if not isinstance(data, dict):
            raise InvalidInput.one(f"{where or 'patient'}: must be a mapping of fields")
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise _problems(error, where, "patient") from None


@dataclass(frozen=True, slots=True)
class ConsultDocument:
    """What a consult stores: the assessment and the plan as the engine wrote them."""

    consult_date: dt.date
    assessment_json: str
    plan_json: str
    knowledge_version: str

    @classmethod
    def from_engine(cls, assessment: Assessment, plan: Plan) -> ConsultDocument:
        from dermaplan.clinical.plan import plan_json

        return cls(
            consult_date=assessment.consult_date,
            assessment_json=assessment.model_dump_json(indent=2) + "\n",
            plan_json=plan_json(plan),
            knowledge_version=plan.knowledge_version,
        )

    def problems(self) -> list[str]:
        """A document whose plan does not carry its knowledge version is not stored."""
        problems = []
        for name in ("assessment_json", "plan_json"):
            try:
                document = json.loads(getattr(self, name))
            except json.JSONDecodeError as error:
                problems.append(f"{name}: not JSON: {error.msg}")
                continue
            if not isinstance(document, dict):
                problems.append(f"{name}: must be a JSON object")
            elif name == "plan_json" and document.get("knowledge_version") != (
                self.knowledge_version
            ):
                problems.append("plan_json: its knowledge_version is not the one given")
        if not self.knowledge_version:
            problems.append("knowledge_version: must not be empty")
        return problems


# -- treatment sessions ----------------------------------------------------------------

Text = Annotated[str, Field(min_length=1, max_length=2000), LINE]
Label = Annotated[str, Field(min_length=1, max_length=200), LINE]
Lot = Annotated[str, Field(min_length=1, max_length=100), LINE]
Notes = Annotated[str, Field(max_length=20_000), PROSE]
Depth = Annotated[float, Field(gt=0, le=5)]  # mm; the area limits are knowledge, not here
Volume = Annotated[float, Field(gt=0, le=100)]  # mL
Fraction = Annotated[float, Field(ge=0, le=1)]


class ProductUse(BaseModel):
    """A product given: a formulary id or a name as written, its lot, and mL per area."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, defer_build=True
    )

    product: Label
    lot: Lot | None = None
    expiry: Annotated[Day | None, BeforeValidator(_iso_date)] = None
    volumes_ml: dict[Line, Volume] = {}


class InjectionPoint(BaseModel):
    """A point on the area's map, normalised: (0, 0) top left, (1, 1) bottom right of the
    drawing (`view`: which drawing of the face map, where it was placed on one)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    area: Line
    x: Fraction
    y: Fraction
    view: Annotated[str, Field(min_length=1, max_length=40), LINE] | None = None


class Deviation(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, defer_build=True
    )

    change: Text
    reason: Text


class SessionData(BaseModel):
    """A treatment session as the practitioner records it (the session file)."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, defer_build=True
    )

    patient: uuid.UUID
    practitioner: uuid.UUID
    consult: uuid.UUID | None = None
    performed_at: Annotated[AwareDatetime, AfterValidator(in_calendar)]
    modality: Modality
    areas: Annotated[list[Line], Field(min_length=1)]
    device: Label | None = None
    needle_cartridge: Label | None = None
    depths_mm: dict[Line, Depth] = {}
    passes: dict[Line, Annotated[int, Field(ge=1, le=20)]] = {}
    products: list[ProductUse] = []
    injection_points: Annotated[list[InjectionPoint], Field(max_length=2000)] = []
    anaesthesia: Text | None = None
    deviations: list[Deviation] = []
    notes: Notes | None = None

    @classmethod
    def parse(cls, data: object, knowledge: KnowledgeBase, where: str = "") -> SessionData:
        """Validate a session file's content, or raise InvalidInput with every problem."""
        if not isinstance(data, dict):
            raise InvalidInput.one(f"{where or 'session'}: must be a mapping of fields")
        try:
            session = cls.model_validate(data)
        except ValidationError as error:
            raise _problems(error, where, "session") from None
        problems = [f"{where}{problem}" for problem in session.area_problems(knowledge)]
        if problems:
            raise InvalidInput(problems)
        return session

    def area_problems(self, knowledge: KnowledgeBase) -> list[str]:
        """Every area is a known one, and every per-area value names an area of the session."""
        problems = []
        seen: set[str] = set()
        for index, area in enumerate(self.areas):
            if area not in knowledge.areas:
                problems.append(f"areas[{index}]: unknown area '{area}'")
            elif area in seen:
                problems.append(f"areas[{index}]: '{area}' is listed twice")
            seen.add(area)
        per_area: list[tuple[str, Iterable[str]]] = [
            ("depths_mm", self.depths_mm),
            ("passes", self.passes),
            *((f"products[{i}].volumes_ml", p.volumes_ml) for i, p in enumerate(self.products)),
            *(
                (f"injection_points[{i}].area", [p.area])
                for i, p in enumerate(self.injection_points)
            ),
        ]
        for field, areas in per_area:
            problems += [
                f"{field}: '{area}' is not one of the session's areas"
                for area in areas
                if area not in self.areas
            ]
        return problems


# -- adverse events and outcomes -------------------------------------------------------


def _problems(error: ValidationError, where: str, what: str) -> InvalidInput:
    found = validation_problems(error, what=what)
    return InvalidInput([f"{where}{p}" for p in found] if where else found)


class LotInvolved(BaseModel):
    """A product lot involved in an adverse event: registered on first use, as in sessions."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, defer_build=True
    )

    product: Label
    lot: Lot
    expiry: Annotated[Day | None, BeforeValidator(_iso_date)] = None


class AdverseEventData(BaseModel):
    """An adverse event as the clinic records it (the adverse event file)."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, defer_build=True
    )

    patient: uuid.UUID
    session: uuid.UUID | None = None
    type: AdverseEventType
    severity: Severity
    onset: Annotated[Day, BeforeValidator(_iso_date)]
    causality: Causality
    treatment: Text | None = None
    outcome: EventOutcome
    description: Annotated[str, Field(min_length=1, max_length=20_000), PROSE]
    reporter: uuid.UUID | None = None  # a member of staff; left out: the member acting
    lots: list[LotInvolved] = []
    closed: bool = False  # close it on recording: it is then frozen

    @classmethod
    def parse(cls, data: object, where: str = "") -> AdverseEventData:
        """Validate an adverse event file's content, or raise InvalidInput with every problem."""
        if not isinstance(data, dict):
            raise InvalidInput.one(f"{where or 'adverse event'}: must be a mapping of fields")
        try:
            event = cls.model_validate(data)
        except ValidationError as error:
            raise _problems(error, where, "adverse event") from None
        seen: set[tuple[str, str]] = set()
        problems = []
        for index, lot in enumerate(event.lots):
            if (lot.product, lot.lot) in seen:
                problems.append(f"{where}lots[{index}]: lot {lot.lot} is listed twice")
            seen.add((lot.product, lot.lot))
        if problems:
            raise InvalidInput(problems)
        return event


class OutcomeData(BaseModel):
    """A score on an outcome scale (the outcome file): by an assessor, or patient-reported."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, defer_build=True
    )

    patient: uuid.UUID
    session: uuid.UUID | None = None
    consult: uuid.UUID | None = None
    scale: OutcomeScale
    score: Annotated[float, Field(allow_inf_nan=False)]
    date: Annotated[Day, BeforeValidator(_iso_date)]
    # a member of staff; left out, the member acting, unless the score is patient-reported
    assessor: uuid.UUID | None = None
    patient_reported: bool = False
    notes: Notes | None = None

    @classmethod
    def parse(cls, data: object, where: str = "") -> OutcomeData:
        """Validate an outcome file's content, or raise InvalidInput with every problem."""
        if not isinstance(data, dict):
            raise InvalidInput.one(f"{where or 'outcome'}: must be a mapping of fields")
        try:
            outcome = cls.model_validate(data)
        except ValidationError as error:
            raise _problems(error, where, "outcome") from None
        problems = []
        problem = score_problem(outcome.scale, outcome.score)
        if problem:
            problems.append(f"{where}score: {problem}")
        if outcome.assessor is not None and outcome.patient_reported:
            problems.append(
                f"{where}assessor: give the assessor (a staff id) or patient_reported: true, "
                "not both"
            )
        if outcome.session is not None and outcome.consult is not None:
            problems.append(f"{where}consult: link a session or a consult, not both")
        if problems:
            raise InvalidInput(problems)
        return outcome


class ConsentData(BaseModel):
    """A consent the patient signed (the consent file): the exact template version shown,
    or the opened consent (`consents open`) that recorded it and when it was shown."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, defer_build=True
    )

    patient: uuid.UUID
    consent: uuid.UUID | None = None  # an opened consent this signature completes
    template: uuid.UUID | None = None  # the template version id, when none was opened
    opened_at: Instant | None = None
    signed_at: Instant | None = None
    signer: Name | None = None
    signature: Name | None = None  # a typed signature
    # or a drawn one: base64 PNG data, refused unread past what its image may take
    signature_png: Annotated[str, Field(max_length=SIGNATURE_BYTES * 4 // 3 + 4), LINE] | None = (
        None
    )
    scopes: dict[PhotoScope, bool] | None = None  # photo consent: every scope, yes or no

    @classmethod
    def parse(cls, data: object, where: str = "") -> ConsentData:
        """Validate a consent file's content, or raise InvalidInput with every problem."""
        if not isinstance(data, dict):
            raise InvalidInput.one(f"{where or 'consent'}: must be a mapping of fields")
        opened = data.get("consent") is not None
        shown = [
            f"{where}{field}: "
            + (
                "leave it out: the opened consent records it"
                if opened
                else "required, unless the file names an opened consent (consent: ID)"
            )
            for field in ("template", "opened_at")
            if (data.get(field) is not None) == opened
        ]
        try:
            parsed = cls.model_validate(data)
        except ValidationError as error:
            raise InvalidInput([*_problems(error, where, "consent").problems, *shown]) from None
        if shown:
            raise InvalidInput(shown)
        return parsed
