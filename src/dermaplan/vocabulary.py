"""The words the knowledge, the consult engine and the records share: a treatment's modality
and a patient's sex.

Plain enumerations with no import beyond the standard library, so that the records' models
can store them without loading the knowledge or the engine.
"""

from __future__ import annotations

from enum import StrEnum


class Modality(StrEnum):
    MESOTHERAPY = "mesotherapy"
    MICRONEEDLING = "microneedling"
    COMBINED = "combined"


# The members as module names too: on Python 3.11 a member read off its enum class goes
# through the enum type's __getattr__ hook, and the consult engine reads them on its hot path.
MESOTHERAPY = Modality.MESOTHERAPY
MICRONEEDLING = Modality.MICRONEEDLING
COMBINED = Modality.COMBINED


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"
