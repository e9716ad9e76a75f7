"""The documentation names every public identifier the code and the knowledge define."""

from __future__ import annotations

import json
import re

from dermaplan.clinical.plan import Decision, FindingSeverity
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.facts import FACT_PATTERNS, PREDICATES
from dermaplan.knowledge.schema import Evidence, Modality
from dermaplan.schemas import assessment_schema, plan_schema
from tests.conftest import ROOT


def test_vocabulary_lists_every_identifier(kb: KnowledgeBase) -> None:
    text = (ROOT / "docs" / "vocabulary.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([^`]+)`", text))
    expected = {
        *kb.areas,
        *kb.concerns,
        *(m.value for m in Modality),
        *(d.value for d in Decision),
        *(s.value for s in FindingSeverity),
        *(e.value for e in Evidence),
        *(i for ids in kb.vocabulary.values() for i in ids),
        *FACT_PATTERNS,
        *PREDICATES,
        *kb.policies,
        *kb.ingredients,
        *kb.products,
        *(r.id for r in kb.rules),
        *(c.id for c in kb.courses),
        *(c.id for c in kb.care),
        *kb.references,
    }
    assert sorted(expected - named) == []


def test_published_schemas_are_the_code_s() -> None:
    """docs/schemas holds exactly what `dermaplan schema` prints: a field added to the plan
    (the radiofrequency option, a finding's devices) is published with it."""
    for name, schema in (("assessment", assessment_schema()), ("plan", plan_schema())):
        published = json.loads((ROOT / "docs" / "schemas" / f"{name}.schema.json").read_text())
        assert published == schema, f"docs/schemas/{name}.schema.json is out of date"


def test_vocabulary_lists_the_radiofrequency_device(kb: KnowledgeBase) -> None:
    text = (ROOT / "docs" / "vocabulary.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([^`]+)`", text))
    radio = kb.needling.radiofrequency
    assert radio is not None
    devices = {radio.id, *(kind.id for kind in radio.needles), *(d.id for d in kb.needling.devices)}
    assert sorted(devices - named) == []
