"""A stored plan read back: the part of the plan JSON the records act on, typed.

Consults keep the engine's plan byte for byte, whatever engine version wrote it. What the
records need of it - each modality's decision, the courses with their dates, the questions
left open - is read here, once, for every plan schema version there has been (1 to 3 agree
on these fields); anything else in the document is kept but not read.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from dermaplan.knowledge.schema import Modality
from dermaplan.records.errors import InvalidInput

READABLE_VERSIONS = frozenset({"1", "2", "3", "4"})


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PlanDecision(_Part):
    modality: Modality
    decision: str
    until: dt.date | None = None


class PlanCourse(_Part):
    modality: Modality
    products: tuple[str, ...] = ()
    sessions: int
    interval_days: int
    dates: tuple[dt.date, ...] = ()


class StoredPlan(_Part):
    schema_version: str
    decisions: tuple[PlanDecision, ...] = ()
    courses: tuple[PlanCourse, ...] = ()
    missing: tuple[str, ...] = ()

    @classmethod
    def read(cls, text: str, what: str = "the consult's plan") -> StoredPlan:
        return cls.of(plan_document(text, what), what)

    @classmethod
    def of(cls, document: Any, what: str = "the consult's plan") -> StoredPlan:
        """The plan of a document `plan_document` read (a page that shows the whole plan
        reads it once)."""
        try:
            plan = cls.model_validate(document)
        except ValidationError as error:
            raise InvalidInput.one(f"{what} cannot be read: {error}") from None
        if plan.schema_version not in READABLE_VERSIONS:
            raise InvalidInput.one(
                f"{what} has schema version {plan.schema_version}, which this Dermaplan "
                f"does not know ({', '.join(sorted(READABLE_VERSIONS))})"
            )
        return plan

    def decision(self, modality: Modality) -> str | None:
        return next((d.decision for d in self.decisions if d.modality is modality), None)

    def products(self, modality: Modality) -> frozenset[str]:
        """The products the plan gives for `modality`: those of its courses of it."""
        return frozenset(p for c in self.courses if c.modality is modality for p in c.products)


def plan_document(text: str, what: str = "the consult's plan") -> Any:
    """A stored plan's JSON document, as the engine wrote it."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput.one(f"{what} cannot be read: {error}") from None
