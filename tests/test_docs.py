"""The documentation names every public identifier the code and the knowledge define."""

from __future__ import annotations

import re

from dermaplan.clinical.plan import Decision, FindingSeverity
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.facts import FACT_PATTERNS, PREDICATES
from dermaplan.knowledge.schema import Evidence, Modality
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
