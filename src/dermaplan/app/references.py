"""The knowledge's sources as a person reads them: a reference's citation and kind, and
the entries of the knowledge that cite it, each with its level of evidence, so that a
finding's source can be followed from a plan to what it says and what relies on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dermaplan.app.principal import ADMIN, PRACTITIONER, Access, allowed
from dermaplan.app.reads import ReadModel
from dermaplan.app.unit import UnitOfWork
from dermaplan.records.errors import NotFound

if TYPE_CHECKING:
    from dermaplan.knowledge import KnowledgeBase


class Citing(ReadModel):
    """An entry of the knowledge that cites the source."""

    kind: str  # "rule", "area", "ingredient", ...
    id: str
    title: str
    evidence: str
    severity: str | None = None  # a rule's


class SourceEntry(ReadModel):
    id: str
    citation: str
    kind: str
    url: str | None
    note: str | None
    cited_by: list[Citing]


@allowed(PRACTITIONER, ADMIN, access=Access.READ)
def source(uow: UnitOfWork, source_id: str, knowledge: KnowledgeBase) -> SourceEntry:
    """A reference of the knowledge, and the rules, areas, concerns' treatments and
    ingredients that cite it."""
    reference = knowledge.references.get(source_id)
    if reference is None:
        raise NotFound.one(f"no source {source_id} in the knowledge")
    cited = [
        Citing(
            kind="rule",
            id=rule.id,
            title=rule.title,
            evidence=rule.evidence.value,
            severity=rule.severity.value,
        )
        for rule in knowledge.rules
        if source_id in rule.sources
    ]
    cited += [
        Citing(kind="area", id=area.id, title=area.name, evidence=area.evidence.value)
        for area in knowledge.areas.values()
        if source_id in area.sources
    ]
    cited += [
        Citing(kind="ingredient", id=item.id, title=item.name, evidence=item.evidence.value)
        for item in knowledge.ingredients.values()
        if source_id in item.sources
    ]
    return SourceEntry(
        id=reference.id,
        citation=reference.citation,
        kind=reference.kind,
        url=reference.url,
        note=reference.note,
        cited_by=cited,
    )
