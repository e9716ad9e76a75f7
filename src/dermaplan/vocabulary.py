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


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"
