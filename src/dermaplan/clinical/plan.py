"""The plan a consult produces: plain dataclasses, serialised by pydantic.

A part the engine remembers per knowledge base and puts into every plan that needs it (a
reason, an exclusion, a check, an area's dose or needling, the anaesthetic, care advice, a
citation) is frozen, so that no plan can change another's. The other parts are built for
one plan and not frozen (frozen dataclasses cost more to build, and they are built on the
hot path); nothing changes them after the consult returns.

Field order and list order are part of the contract: the same assessment and knowledge
give the same JSON, byte for byte.
"""

# No postponed annotations: the dataclasses would read each field's annotation text for
# ClassVar and InitVar, and pydantic evaluate it, on every consult.
import datetime as dt
import functools
from dataclasses import dataclass
from enum import StrEnum

from pydantic import TypeAdapter
from pydantic_core import to_json

from dermaplan.knowledge.schema import Evidence, Modality

PLAN_SCHEMA_VERSION = "4"


class Decision(StrEnum):
    RECOMMENDED = "recommended"
    SUITABLE = "suitable"
    CAUTION = "caution"
    DEFERRED = "deferred"
    CONTRAINDICATED = "contraindicated"
    NOT_INDICATED = "not_indicated"


# The decisions as module names too, for the reason given for the severities below.
RECOMMENDED = Decision.RECOMMENDED
SUITABLE = Decision.SUITABLE
CAUTION = Decision.CAUTION
DEFERRED = Decision.DEFERRED
CONTRAINDICATED = Decision.CONTRAINDICATED
NOT_INDICATED = Decision.NOT_INDICATED

PROCEED = (RECOMMENDED, SUITABLE, CAUTION)


class FindingSeverity(StrEnum):
    ABSOLUTE = "absolute"
    RELATIVE = "relative"
    PRECAUTION = "precaution"
    INFO = "info"
    MISSING = "missing"


# The severities as module names too: on Python 3.11 a member read off its enum class goes
# through the enum type's __getattr__ hook, several times the cost of a global, and the
# engine compares severities in its innermost loops.
ABSOLUTE = FindingSeverity.ABSOLUTE
RELATIVE = FindingSeverity.RELATIVE
PRECAUTION = FindingSeverity.PRECAUTION
INFO = FindingSeverity.INFO
MISSING = FindingSeverity.MISSING


@dataclass(frozen=True, slots=True)
class Reason:
    text: str
    rule: str | None = None
    sources: tuple[str, ...] = ()
    evidence: Evidence | None = None


@dataclass(slots=True, unsafe_hash=True)
class Finding:
    code: str
    severity: FindingSeverity
    title: str
    message: str
    action: str
    modalities: tuple[Modality, ...]
    areas: tuple[str, ...]
    ingredients: tuple[str, ...]
    because: str  # the patient facts that triggered it, or the questions left open
    unanswered: tuple[str, ...]  # for `missing`: the facts to ask about
    sources: tuple[str, ...]
    evidence: Evidence
    rule_severity: FindingSeverity  # for `missing`: how serious the unanswered rule is
    until: dt.date | None = None
    until_text: str | None = None
    # set for a rule that binds microneedling only with these devices (`modalities` is then
    # empty: it removes the device, never the modality)
    devices: tuple[str, ...] = ()


@dataclass(slots=True, unsafe_hash=True)
class Referral:
    """Where to send the patient, and why: a concern no modality here treats, or a rule that
    asks for a diagnosis first."""

    code: str  # the concern or the rule
    to: str
    why: str
    areas: tuple[str, ...]
    sources: tuple[str, ...]
    evidence: Evidence


@dataclass(slots=True, unsafe_hash=True)
class ModalityDecision:
    modality: Modality
    decision: Decision
    reasons: tuple[Reason, ...]
    concerns: tuple[str, ...]  # concern:area pairs it addresses
    until: dt.date | None = None
    # questions behind an absolute rule still open: until they are answered the protocol is
    # provisional and the course has no dates
    provisional: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AreaDose:
    area: str
    points: int | None
    volume_ml: float | None
    note: str | None = None


@dataclass(slots=True, unsafe_hash=True)
class ProductUse:
    """What one product of a preparation is there for: a concern, on these areas."""

    product: str
    concern: str
    areas: tuple[str, ...]


@dataclass(slots=True, unsafe_hash=True)
class Preparation:
    """One syringe's content: a single product as supplied, or a mixture of mixable ones."""

    products: tuple[str, ...]
    ingredients: tuple[str, ...]
    mixed: bool
    concerns: tuple[str, ...]
    uses: tuple[ProductUse, ...]  # which product treats which concern where
    route: str
    technique: str
    depth: str
    volume_per_point_ml: float | None  # None: no source gives one, the practitioner decides
    grid_spacing_cm: float | None
    areas: tuple[AreaDose, ...]
    volume_ml: float | None
    max_volume_per_session_ml: float | None
    max_points_per_session: int | None
    regulatory: tuple[str, ...]
    sources: tuple[str, ...]
    # set when it may not share a sitting with the others (an ingredient's maximum per
    # sitting): why, and with what; its days are agreed, not planned
    apart: str | None = None


@dataclass(frozen=True, slots=True)
class Exclusion:
    item: str  # a product or ingredient id
    concern: str | None
    area: str | None
    reason: str
    rule: str | None = None
    sources: tuple[str, ...] = ()
    # for safety: how hard the exclusion is (None: not safety - a label, a policy, no benefit)
    severity: FindingSeverity | None = None
    until: dt.date | None = None
    until_text: str | None = None  # set when the exclusion is temporary


@dataclass(frozen=True, slots=True)
class Check:
    text: str
    sources: tuple[str, ...] = ()


@dataclass(slots=True, unsafe_hash=True)
class Blend:
    preparations: tuple[Preparation, ...]
    total_volume_ml: float | None
    uncovered: tuple[str, ...]  # concern:area pairs no allowed product covers
    excluded: tuple[Exclusion, ...]
    checks: tuple[Check, ...]


@dataclass(frozen=True, slots=True)
class AreaNeedling:
    area: str
    concerns: tuple[str, ...]
    depth_mm: float | None  # None: no sourced depth for an indication here; practitioner decides
    device: str
    passes: str
    endpoint: str
    notes: tuple[str, ...]
    sources: tuple[str, ...]
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Anaesthetic:
    option: str | None
    text: str
    minutes: str | None
    sources: tuple[str, ...]


@dataclass(slots=True, unsafe_hash=True)
class NeedlingProtocol:
    areas: tuple[AreaNeedling, ...]
    anaesthesia: Anaesthetic
    steps: tuple[str, ...]
    open_skin_products: tuple[str, ...]  # combined only: what goes onto needled skin, plain
    sources: tuple[str, ...]
    # the areas each sitting may anaesthetise, where all at once would cover too much skin
    sittings: tuple[tuple[str, ...], ...] = ()


@dataclass(slots=True, unsafe_hash=True)
class RadiofrequencyArea:
    area: str
    concerns: tuple[str, ...]
    depth_mm: float | None  # None: no source gives a depth here; the practitioner decides
    note: str
    sources: tuple[str, ...]
    evidence: Evidence


@dataclass(slots=True, unsafe_hash=True)
class RadiofrequencyOption:
    """Radiofrequency microneedling as the device for the needling planned: whether it may
    be used, and how, on the areas where its evidence treats a concern."""

    device: str
    decision: Decision
    reasons: tuple[Reason, ...]
    areas: tuple[RadiofrequencyArea, ...]
    needles: tuple[str, ...]
    energy: str
    courses: tuple[str, ...]
    downtime: str
    safety: str
    sources: tuple[str, ...]
    until: dt.date | None = None
    provisional: tuple[str, ...] = ()  # questions behind an absolute device rule still open


@dataclass(slots=True, unsafe_hash=True)
class Course:
    modality: Modality
    products: tuple[str, ...]  # a mesotherapy course is one preparation's; () for needling
    templates: tuple[str, ...]
    sessions: int
    interval_days: int
    interval_range_days: tuple[int, int]
    dates: tuple[dt.date, ...]
    judge_results_on: dt.date | None
    maintenance: tuple[str, ...]
    notes: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CareAdvice:
    phase: str
    text: str
    modalities: tuple[Modality, ...]
    sources: tuple[str, ...]
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Citation:
    id: str
    citation: str
    kind: str


@dataclass(frozen=True, slots=True)
class Plan:
    schema_version: str
    knowledge_version: str
    knowledge_layers: tuple[str, ...]
    consult_date: dt.date
    policies: dict[str, float]
    decisions: tuple[ModalityDecision, ...]
    findings: tuple[Finding, ...]
    missing: tuple[str, ...]  # the safety questions still to answer
    referrals: tuple[Referral, ...]
    mesotherapy: Blend | None
    microneedling: NeedlingProtocol | None
    combined: NeedlingProtocol | None
    radiofrequency: RadiofrequencyOption | None
    courses: tuple[Course, ...]
    care: tuple[CareAdvice, ...]
    references: tuple[Citation, ...]

    def decision(self, modality: Modality) -> ModalityDecision:
        return next(d for d in self.decisions if d.modality == modality)


@functools.cache
def plan_adapter() -> TypeAdapter[Plan]:
    """The plan's serialiser and JSON Schema, built on first use: most commands that import
    the plan's types never write one."""
    return TypeAdapter(Plan)


def plan_json(plan: Plan) -> str:
    """The plan as the JSON every front end writes and the records keep. A plan holds only
    plain data (text, numbers, dates, enums, tuples, these dataclasses), each of its declared
    type, so pydantic-core writes it without the adapter's schema, which a command would
    build for this one plan: the same bytes as `plan_adapter().dump_json` (tested)."""
    return to_json(plan, indent=2).decode("utf-8") + "\n"
