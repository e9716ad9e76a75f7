"""The outcome scales the records accept, with their valid ranges and where they come from.

A records vocabulary, not clinical knowledge: a score is stored with its scale's name, and a
score outside the scale's range is refused. Sources: /work/shared/clinical/scales.md (the
encoding reference) and the publications cited below.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from dermaplan.records.enums import OutcomeScale


@dataclass(frozen=True, slots=True)
class ScaleRange:
    label: str
    low: float
    high: float
    whole: bool  # only whole numbers
    better: str  # which end is better: "lower" or "higher"
    source: str


SCALES: MappingProxyType[OutcomeScale, ScaleRange] = MappingProxyType(
    {
        OutcomeScale.GAIS: ScaleRange(
            "GAIS",
            1,
            5,
            whole=True,
            better="lower",
            source="Global Aesthetic Improvement Scale, 5-point (1 very much improved, "
            "5 worse); SkinPen (Bellus Medical) labeling; usually credited to Narins RS "
            "et al. Dermatol Surg 2003;29(6):588-595",
        ),
        OutcomeScale.GOODMAN_BARON_QUALITATIVE: ScaleRange(
            "Goodman & Baron qualitative",
            1,
            4,
            whole=True,
            better="lower",
            source="Goodman GJ, Baron JA. Postacne scarring: a qualitative global scarring "
            "grading system. Dermatol Surg 2006;32(12):1458-1466",
        ),
        OutcomeScale.PATIENT_SATISFACTION: ScaleRange(
            "patient satisfaction",
            0,
            10,
            whole=True,
            better="higher",
            source="0-10 numeric rating of satisfaction (0 not at all, 10 completely)",
        ),
        OutcomeScale.MMASI: ScaleRange(
            "mMASI",
            0,
            24,
            whole=False,
            better="lower",
            source="Pandya AG et al. J Am Acad Dermatol 2011;64(1):78-83: sum of region "
            "weight x area x darkness, 0-24",
        ),
        OutcomeScale.CR_SMFRS: ScaleRange(
            "CR-SMFRS",
            0,
            4,
            whole=True,
            better="lower",
            source="Clinician-Reported Submental Fat Rating Scale, 0 absent to 4 extreme; "
            "ClinicalTrials.gov NCT01032889, NCT01426373",
        ),
    }
)


def score_problem(scale: OutcomeScale, score: float) -> str | None:
    """Why a score is not one of the scale's values, or None when it is."""
    valid = SCALES[scale]
    if not valid.low <= score <= valid.high:
        return f"{score:g} is outside the {valid.label} range {valid.low:g}–{valid.high:g}"
    if valid.whole and score != int(score):
        return f"{valid.label} takes whole numbers, not {score:g}"
    return None
