"""Pydantic models of the knowledge data: what a valid YAML entry looks like.

Every clinical statement carries `sources` (ids in references.yaml) and an `evidence`
level, so the engine can always say where a number came from and how strong it is.
"""

# No postponed annotations: pydantic would evaluate each field's annotation from its text (a
# compile per field) as the models are made, which every command that reads the knowledge
# pays; a validator returns `Self`.
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    model_validator,
)

from dermaplan.bounds import LARGEST
from dermaplan.knowledge.conditions import Condition, parse_condition, render
from dermaplan.vocabulary import Modality as Modality  # the knowledge's, shared with the records

Id = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class Severity(StrEnum):
    """Severity of a rule, strongest first."""

    ABSOLUTE = "absolute"
    RELATIVE = "relative"
    PRECAUTION = "precaution"
    INFO = "info"


SEVERITY_RANK = {
    Severity.ABSOLUTE: 3,
    Severity.RELATIVE: 2,
    Severity.PRECAUTION: 1,
    Severity.INFO: 0,
}


class Evidence(StrEnum):
    """How strong the backing of an entry is; `expert_opinion` is shown as convention."""

    LABEL = "label"  # product label, instructions for use, regulator action
    GUIDELINE = "guideline"  # consensus statement or guideline
    REVIEW = "review"  # narrative or systematic review
    TRIAL = "trial"  # randomised or controlled study
    SERIES = "series"  # uncontrolled series, case reports
    PRECLINICAL = "preclinical"  # in vitro or animal data
    EXPERT_OPINION = "expert_opinion"  # manufacturer or clinic pages, practice convention


class Region(StrEnum):
    FACE = "face"
    NECK = "neck"
    BODY = "body"
    SCALP = "scalp"


class Strict(BaseModel):
    # Schemas are built on first validation: a command whose knowledge comes from the cache
    # never validates it, so it need not build them.
    # No infinity or NaN: a number in the knowledge is counted with, never only compared.
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, defer_build=True, allow_inf_nan=False
    )


class Sourced(Strict):
    sources: list[Id] = Field(min_length=1)
    evidence: Evidence


class Statement(Sourced):
    text: str


class SessionMaximum(Sourced):
    mg: float = Field(gt=0)
    note: str


class Range(Strict):
    min: float = Field(ge=0)
    max: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class Reference(Strict):
    id: Id
    citation: str = Field(min_length=5)
    kind: Literal["label", "regulator", "guideline", "review", "study", "manufacturer", "clinic"]
    url: str | None = None
    note: str | None = None


ConcernSeverity = Literal["mild", "moderate", "severe"]


class DepthCap(Sourced):
    """The deepest mechanical needling a source gives for an area, for the indications it
    names (None: whatever the indication)."""

    max_mm: float = Field(gt=0, le=3)
    concerns: list[Id] | None = None
    note: str


class Area(Sourced):
    id: Id
    name: str
    region: Region
    notes: str
    paired: bool = False  # left and right: per-side dosing counts twice
    # Sourced depth caps; an indication no cap names gets no depth (practitioner to decide).
    needling_caps: list[DepthCap] = []
    needling_note: str | None = None  # what the sources leave open, shown with the protocol
    body_region: Id  # the body-surface chart region the area lies in (needling.body_regions)

    def depth_cap(self, concern: str) -> DepthCap | None:
        """The cap a source gives for this indication here, or None."""
        named = [c for c in self.needling_caps if c.concerns is not None and concern in c.concerns]
        general = [c for c in self.needling_caps if c.concerns is None]
        return min(named or general, key=lambda c: c.max_mm, default=None)

    @property
    def deepest_cap_mm(self) -> float | None:
        """The deepest depth any source allows here, for any indication."""
        return max((c.max_mm for c in self.needling_caps), default=None)


class Adjunct(Strict):
    """What the evidence gave with the modality. Without it the fit may still be chosen, but
    it is not recommended: the plan says what the trials used."""

    ingredients: list[Id] = []  # any of them on the needled skin counts
    medications: list[Id] = []  # or the patient using any of these (prescribed alongside)
    text: str

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.ingredients and not self.medications:
            raise ValueError("an adjunct names ingredients on the needled skin, or medications")
        return self


class ModalityFit(Sourced):
    modality: Literal[Modality.MESOTHERAPY, Modality.MICRONEEDLING]
    note: str
    areas: list[Id] | None = None  # None: any area
    adjunct: Adjunct | None = None  # microneedling only
    # mesotherapy only: the evidence is for the product on freshly needled skin, so it treats
    # the concern in the combined sitting, where needling treats it too - never injected alone
    on_needled_skin: bool = False


class Occurrence(Sourced):
    """Where a concern occurs: a pair outside these areas is refused as implausible."""

    areas: list[Id] = Field(min_length=1)
    note: str


class Referral(Sourced):
    """Where a patient goes instead of, or before, these treatments, and why."""

    to: str
    text: str


class Concern(Strict):
    id: Id
    name: str
    description: str
    occurs_on: Occurrence
    addressed_by: list[ModalityFit] = []
    # where no modality here treats it (or not before a diagnosis): who does
    refer: Referral | None = None
    # treated-skin conditions the concern itself shows on its areas (active acne there is
    # inflamed skin there): read as true on those areas, whatever else is treated
    implies: list[Id] = []
    # a scar concern: the assessment says which kinds of scar (needling.scar_types) it is,
    # and the plan answers each kind; no other concern takes them
    scar_kinds: bool = False

    @model_validator(mode="after")
    def _managed(self) -> Self:
        if not self.addressed_by and self.refer is None:
            raise ValueError("a concern no modality addresses says where to refer (refer)")
        return self


class ModalityInfo(Sourced):
    id: Modality
    name: str
    description: str
    downtime_days: Range
    downtime_note: str


class ScreeningItem(Strict):
    id: Id
    name: str
    question: str
    examples: list[str] = []
    # conditions: a state of the skin of the area to be treated, which every modality pierces
    treated_skin: bool = False
    # conditions: only a patient who is not male can have it (a man's answer is settled: no)
    female_only: bool = False
    # procedures: a recorded session with one of these ingredients, or of this modality, is
    # one of these procedures (how a patient's record counts earlier treatments)
    ingredients: list[Id] = []
    modality: Modality | None = None


class Screening(Strict):
    """The vocabulary of safety questions: what a fact name may refer to."""

    conditions: list[ScreeningItem]
    medications: list[ScreeningItem]
    allergens: list[ScreeningItem]
    procedures: list[ScreeningItem]


class Policy(Sourced):
    """A clinic-adjustable value where sources disagree: conservative default, documented range."""

    id: Id
    description: str
    unit: str
    default: float
    range: Range
    value: float | None = None  # set by a clinic layer; must stay within range

    @model_validator(mode="after")
    def _within_range(self) -> Self:
        for label, number in (("default", self.default), ("value", self.value)):
            if number is not None and not self.range.min <= number <= self.range.max:
                raise ValueError(
                    f"{label} {number} is outside the documented range "
                    f"{self.range.min}–{self.range.max} {self.unit}"
                )
        return self

    @property
    def effective(self) -> float:
        return self.default if self.value is None else self.value


class NotFor(Sourced):
    """A concern an ingredient must not be proposed for, and why."""

    concern: Id
    # no_benefit: shown not to help; regulator_warning: a regulator warns against the use;
    # marketed_only: sold for it with no controlled evidence
    reason: Literal["no_benefit", "regulator_warning", "marketed_only"]
    message: str


class IngredientConcern(Sourced):
    concern: Id
    # the severities the claim holds for (a label's indication); None: any
    severities: list[ConcernSeverity] | None = None


class Incompatibility(Sourced):
    ingredient: Id
    effect: str


class IngredientClass(StrEnum):
    HUMECTANT = "humectant"
    VITAMIN = "vitamin"
    MINERAL = "mineral"
    AMINO_ACID = "amino_acid"
    ANTIOXIDANT = "antioxidant"
    NUCLEOTIDE = "nucleotide"
    PEPTIDE = "peptide"
    DEPIGMENTING = "depigmenting"
    LIPOLYTIC = "lipolytic"
    ANAESTHETIC = "anaesthetic"
    ENZYME = "enzyme"
    NEUROMODULATOR = "neuromodulator"
    ANTIANDROGEN = "antiandrogen"
    AUTOLOGOUS = "autologous"  # prepared from the patient's own blood
    OTHER = "other"


class Regulatory(StrEnum):
    APPROVED_PRODUCT = "approved_product"  # a licensed drug used on label
    MEDICAL_DEVICE = "medical_device"  # CE-marked or cleared device
    OFF_LABEL = "off_label"  # approved drug, unapproved use or route
    COMPOUNDED = "compounded"
    UNAPPROVED = "unapproved"  # under a regulator's warning or never authorised
    DISCONTINUED = "discontinued"


class Ingredient(Sourced):
    id: Id
    name: str
    ingredient_class: IngredientClass = Field(alias="class")
    concerns: list[IngredientConcern] = []
    not_for: list[NotFor] = []
    dose: str  # the dose or protocol as reported, in words
    concentration: Range | None = None
    concentration_unit: str | None = None
    route: Literal["intradermal", "subcutaneous", "topical"]
    depth: str
    cautions: list[str] = []
    allergens: list[Id] = []
    incompatible_with: list[Incompatibility] = []
    regulatory: Regulatory
    regulatory_note: str
    no_mixing: bool = False  # the label forbids dilution or admixture
    # the most of this ingredient one sitting may give, summed over every product
    max_mg_per_session: SessionMaximum | None = None

    @model_validator(mode="after")
    def _unit_with_range(self) -> Self:
        if (self.concentration is None) != (self.concentration_unit is None):
            raise ValueError("concentration and concentration_unit go together")
        return self


class Component(Strict):
    ingredient: Id
    amount: float = Field(gt=0)
    unit: str

    @property
    def mg_per_ml(self) -> float | None:
        """The strength in mg per mL where the unit says it (% is taken as w/v); None where
        it does not."""
        return MG_PER_ML_FACTOR.get(self.unit, 0.0) * self.amount or None


# How a component's unit converts to mg/mL; `%` is weight per volume (1% = 10 mg/mL), and a
# gel's mg/g is taken as mg/mL (density about 1).
MG_PER_ML_FACTOR = {"mg/mL": 1.0, "%": 10.0, "mg/g": 1.0}


class Downtime(Sourced):
    """The visible recovery a product brings, where it differs from its modality's."""

    days: Range
    note: str


class AreaDosing(Sourced):
    """What one sitting gives an area, as a source reports it: points, a volume, or both
    (per side where `per_side` and the area is paired)."""

    areas: list[Id] = Field(min_length=1)
    points: int | None = Field(default=None, gt=0, le=LARGEST)
    volume_ml: float | None = Field(default=None, gt=0, le=100)
    per_side: bool = False

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.points is None and self.volume_ml is None:
            raise ValueError("a dosing gives points, a volume, or both")
        return self


class Product(Sourced):
    """A formulary entry: what a clinic actually injects or applies."""

    id: Id
    name: str
    components: list[Component] = Field(min_length=1)
    concerns: list[IngredientConcern] = []
    additive_for: Literal["pain"] | None = None  # mixed into a blend, treats no concern
    route: Literal["intradermal", "subcutaneous", "topical"]
    technique: str
    depth: str
    # None for additives, and where no source gives one (the practitioner decides)
    volume_per_point_ml: float | None = Field(default=None, gt=0, le=1)
    grid_spacing_cm: float | None = Field(default=None, gt=0, le=5)
    dosing: list[AreaDosing] = []
    max_points_per_session: int | None = Field(default=None, gt=0, le=LARGEST)
    max_volume_per_session_ml: float | None = Field(default=None, gt=0)
    # in all, earlier sessions counted
    max_sessions: int | None = Field(default=None, gt=0, le=LARGEST)
    min_interval_days: int | None = Field(default=None, gt=0, le=LARGEST)
    downtime: Downtime | None = None
    areas: list[Id] | None = None  # None: any area
    areas_on_label: bool = False  # True: outside `areas` is a hard stop, not a preference
    mixable: bool = False
    open_skin: bool = False  # sterile and meant for intradermal contact: may go on needled skin
    regulatory: Regulatory
    regulatory_note: str
    requires_policy: Id | None = None  # proposed only when this policy's value is non-zero
    # how it must be handled every time (one patient, one single-use kit): shown as a check
    handling: Statement | None = None

    @model_validator(mode="after")
    def _purpose(self) -> Self:
        if bool(self.concerns) == (self.additive_for is not None):
            raise ValueError("a product either treats concerns or is an additive, not both")
        return self


class Temporary(Strict):
    """How long a temporary contraindication lasts: from a date fact, or until a condition."""

    from_fact: str | None = None
    days: float | str | None = None  # a number or `policy.<id>`
    until_text: str

    @model_validator(mode="after")
    def _date_and_days(self) -> Self:
        if (self.from_fact is None) != (self.days is None):
            raise ValueError("from_fact and days go together")
        return self


ParsedCondition = Annotated[
    Condition,
    PlainValidator(parse_condition),
    PlainSerializer(render, return_type=str),
]


class Rule(Sourced):
    id: Id
    title: str
    severity: Severity
    modalities: list[Modality] = []
    areas: list[Id] | None = None  # None: whatever is treated
    ingredients: list[Id] = []  # non-empty: the rule excludes these ingredients, not a modality
    # non-empty: the rule binds microneedling only when given with one of these devices
    # (`needling.radiofrequency`): it removes the device, never the modality
    devices: list[Id] = []
    when: ParsedCondition
    message: str
    action: str
    temporary: Temporary | None = None
    refer: str | None = None  # to whom the patient is referred when the rule holds

    @model_validator(mode="after")
    def _scope(self) -> Self:
        if not self.modalities and not self.ingredients:
            raise ValueError("a rule needs modalities or ingredients to apply to")
        if self.devices and (self.modalities != [Modality.MICRONEEDLING] or self.ingredients):
            raise ValueError(
                "a device rule binds microneedling alone (modalities: [microneedling])"
            )
        temporary = self.temporary
        if (
            temporary is not None
            and self.severity is not Severity.ABSOLUTE
            and temporary.from_fact is None
        ):
            raise ValueError(
                "a rule that is not absolute waits from a date (temporary.from_fact): its "
                "course starts after it"
            )
        return self


Depth = (
    Annotated[float, Field(gt=0, le=3)]
    | Annotated[str, Field(pattern=r"^policy\.[a-z][a-z0-9_]*$")]
)


class SeverityDepths(Strict):
    """A depth per severity: a number, or `policy.<id>` where the sources disagree."""

    mild: Depth
    moderate: Depth
    severe: Depth


class NeedlingIndication(Sourced):
    concern: Id
    range_mm: Range
    by_severity: SeverityDepths
    note: str
    # set where needling deeper over this concern does harm: the whole area it is on is
    # needled no deeper than its depth, whatever else is treated there
    ceiling: Statement | None = None

    @model_validator(mode="after")
    def _within(self) -> Self:
        for depth in (self.by_severity.mild, self.by_severity.moderate, self.by_severity.severe):
            if isinstance(depth, float) and not self.range_mm.min <= depth <= self.range_mm.max:
                raise ValueError(f"depth {depth} mm is outside range_mm")
        return self


class Device(Sourced):
    id: Id
    name: str
    depth_mm: Range
    passes: str
    description: str
    areas: list[Id] | None = None  # areas this device is the default for; None: fallback
    default: bool = False


class Endpoint(Sourced):
    min_depth_mm: float = Field(ge=0)
    text: str


class Anaesthesia(Sourced):
    """A topical anaesthetic option; the first whose ingredients are all allowed is used."""

    id: Id
    text: str
    ingredients: list[Id] = Field(min_length=1)
    minutes: Range
    # the most skin one application may cover: a number from the label, or `policy.<id>`
    max_area_cm2: float | str


class BodySurface(Sourced):
    """The adult body surface the regions' shares are taken of, to compare with a label's cm²."""

    cm2: float = Field(gt=0)
    note: str


class BodyRegion(Sourced):
    """A region of a body-surface chart: the most skin an area in it can be."""

    id: Id
    name: str
    percent_body_surface: float = Field(gt=0, le=100)


class ScarResponse(StrEnum):
    GOOD = "good"  # a microneedling target
    POOR = "poor"  # treated, but better served by another technique
    NOT_A_TARGET = "not_a_target"  # not treated by microneedling


class ScarTypeInfo(Sourced):
    """How a kind of scar answers microneedling, and what else treats it."""

    id: Id
    name: str
    response: ScarResponse
    note: str
    alternatives: str | None = None
    implies: list[Id] = []  # screening conditions this kind of scar shows the patient has


class AreaDepth(Sourced):
    """A depth a source gives for a device on some areas, whatever the indication."""

    areas: list[Id] = Field(min_length=1)
    depth_mm: float = Field(gt=0, le=3)
    note: str


class NeedleKind(Sourced):
    """A kind of radiofrequency needle: where along the needle the energy heats."""

    id: Literal["insulated", "non_insulated"]
    name: str
    text: str


class RadiofrequencyCourse(Sourced):
    """Sessions and spacing as a study of radiofrequency microneedling gave them."""

    concerns: list[Id] = Field(min_length=1)
    sessions: int = Field(gt=0, le=24)
    interval_days: int | None = Field(default=None, gt=0, le=LARGEST)  # None: one session
    note: str

    @model_validator(mode="after")
    def _spaced(self) -> Self:
        if (self.sessions > 1) != (self.interval_days is not None):
            raise ValueError("sessions after the first need an interval, and one session none")
        return self


class Radiofrequency(Sourced):
    """Radiofrequency microneedling: a microneedling device that heats the dermis through
    its needles. Every microneedling rule binds it; rules naming it in `devices` bind it
    alone. No energy setting is given: they differ between devices."""

    id: Id
    name: str
    description: str
    concerns: list[Id] = Field(min_length=1)  # what its evidence is for
    areas: list[Id] = Field(min_length=1)  # where its studies and guidance treated
    depth_mm: Range  # the device range its sources give
    depths: list[AreaDepth]  # by area; elsewhere the practitioner decides
    needles: list[NeedleKind] = Field(min_length=1)
    energy: Statement  # why the plan gives no energy number
    courses: list[RadiofrequencyCourse]
    downtime: Statement
    safety: Statement  # the regulator's warning, shown with the protocol

    @model_validator(mode="after")
    def _within(self) -> Self:
        for entry in self.depths:
            if not self.depth_mm.min <= entry.depth_mm <= self.depth_mm.max:
                raise ValueError(f"depth {entry.depth_mm} mm is outside depth_mm")
        return self


class Needling(Strict):
    indications: list[NeedlingIndication]
    devices: list[Device]
    radiofrequency: Radiofrequency | None = None
    endpoints: list[Endpoint]
    anaesthesia: list[Anaesthesia]
    open_skin: Statement  # what may go onto freshly needled skin, and why
    anaesthesia_removal: Statement  # remove the anaesthetic fully, then antisepsis
    anaesthesia_surface: Statement  # why the anaesthetised surface is limited per sitting
    body_surface: BodySurface
    body_regions: list[BodyRegion]
    scar_types: list[ScarTypeInfo]


class CourseTemplate(Sourced):
    id: Id
    modality: Literal[Modality.MESOTHERAPY, Modality.MICRONEEDLING]
    concerns: list[Id] = Field(min_length=1)
    products: list[Id] | None = None  # applies only when the blend uses one of these
    sessions: int = Field(gt=0, le=24)
    sessions_range: Range
    interval_days: Range
    interval_default_days: int = Field(gt=0, le=LARGEST)
    judge_after_days: int | None = Field(default=None, ge=0, le=LARGEST)
    maintenance: str
    maintenance_evidence: Evidence
    note: str


class CareItem(Sourced):
    id: Id
    phase: Literal["before", "after"]
    modalities: list[Modality] = Field(min_length=1)
    text: str
    areas: list[Id] | None = None
