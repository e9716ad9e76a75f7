"""The catalogue of facts and predicates a rule may name.

A fact name is a pattern over the screening vocabulary (`conditions.{condition}`), so a
clinic that adds a condition to its screening can write rules over it at once. The
engine implements each pattern (clinical/facts.py); a test keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum


class FactType(StrEnum):
    BOOLEAN = "boolean"
    NUMBER = "number"
    DATE = "date"
    WORD = "word"


FACT_PATTERNS: dict[str, FactType] = {
    "patient.age": FactType.NUMBER,
    "patient.sex": FactType.WORD,
    "patient.fitzpatrick": FactType.NUMBER,
    "patient.glogau": FactType.NUMBER,
    "patient.pregnant": FactType.BOOLEAN,
    "patient.breastfeeding": FactType.BOOLEAN,
    "conditions.{condition}": FactType.BOOLEAN,
    "medications.{medication}.current": FactType.BOOLEAN,
    "medications.{medication}.stopped_days_ago": FactType.NUMBER,
    "medications.{medication}.last_taken": FactType.DATE,
    "allergies.{allergen}": FactType.BOOLEAN,
    "procedures.{procedure}.days_ago": FactType.NUMBER,
    "procedures.{procedure}.date": FactType.DATE,
}

PREDICATES: dict[str, str] = {
    "treats_face": "at least one treated area is on the face",
    "treats_body": "at least one treated area is on the body (below the neck)",
    "anaesthetic_planned": "pain tolerance is low, or a concern is one that microneedling treats",
}

PLACEHOLDERS = {
    "{condition}": "conditions",
    "{medication}": "medications",
    "{allergen}": "allergens",
    "{procedure}": "procedures",
}


def fact_names(vocabulary: dict[str, list[str]]) -> dict[str, FactType]:
    """Every concrete fact name, given the screening vocabulary ids by kind."""
    names: dict[str, FactType] = {}
    for pattern, fact_type in FACT_PATTERNS.items():
        expansions = [pattern]
        for placeholder, kind in PLACEHOLDERS.items():
            if placeholder in pattern:
                expansions = [
                    name.replace(placeholder, item)
                    for name in expansions
                    for item in vocabulary[kind]
                ]
        for name in expansions:
            names[name] = fact_type
    return names
