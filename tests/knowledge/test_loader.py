"""Loading knowledge: content checked, cross-references resolved, layers merged safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from dermaplan.knowledge import KnowledgeBase, KnowledgeError, load_knowledge
from dermaplan.knowledge.conditions import Comparison, walk
from dermaplan.knowledge.schema import Modality, Severity
from tests.conftest import write_layer


def refused(*dirs: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(list(dirs))
    return caught.value.problems


def test_the_built_in_knowledge_meets_the_minimums(kb: KnowledgeBase) -> None:
    assert len(kb.ingredients) >= 25
    assert len(kb.rules) >= 30
    assert len(kb.areas) == 18
    assert len(kb.concerns) == 13
    assert {r.severity for r in kb.rules} >= {
        Severity.ABSOLUTE,
        Severity.RELATIVE,
        Severity.PRECAUTION,
    }
    assert any(r.temporary is not None for r in kb.rules)
    assert any(r.ingredients for r in kb.rules)
    assert any(r.areas for r in kb.rules)


def test_the_version_is_a_content_hash(kb: KnowledgeBase, tmp_path: Path) -> None:
    assert load_knowledge().version == kb.version
    layer = write_layer(
        tmp_path / "clinic", policies=[{"id": "isotretinoin_wait_days", "value": 90}]
    )
    assert load_knowledge([layer]).version != kb.version


def test_every_rule_reads_only_known_facts(kb: KnowledgeBase) -> None:
    for rule in kb.rules:
        for node in walk(rule.when):
            if isinstance(node, Comparison):
                assert node.fact in kb.facts


def test_a_clinic_layer_adds_a_stricter_rule(kb: KnowledgeBase, tmp_path: Path) -> None:
    rule = {
        "id": "clinic_no_needling_over_70",
        "title": "Clinic policy: no needling over 70",
        "severity": "absolute",
        "modalities": ["microneedling"],
        "when": "patient.age > 70",
        "message": "This clinic does not needle patients over 70.",
        "action": "Offer mesotherapy instead.",
        "sources": ["skinpen_ifu"],
        "evidence": "expert_opinion",
    }
    clinic = load_knowledge([write_layer(tmp_path / "clinic", rules=[rule])])
    assert len(clinic.rules) == len(kb.rules) + 1
    assert clinic.layers == ("built-in", "clinic")


def test_a_layer_may_not_weaken_a_rule(kb: KnowledgeBase, tmp_path: Path) -> None:
    absolute = next(r for r in kb.rules if r.severity is Severity.ABSOLUTE and not r.temporary)
    weaker = absolute.model_dump(mode="json", by_alias=True) | {"severity": "info"}
    problems = refused(write_layer(tmp_path / "clinic", rules=[weaker]))
    assert len(problems) == 1
    assert f"may not weaken rule '{absolute.id}' from absolute to info" in problems[0]
    assert problems[0].startswith("rules.yaml: rules[0]")


def test_a_policy_outside_its_documented_range_is_refused(tmp_path: Path) -> None:
    problems = refused(
        write_layer(tmp_path / "clinic", policies=[{"id": "isotretinoin_wait_days", "value": 5000}])
    )
    assert len(problems) == 1
    assert "outside the documented range" in problems[0]
    assert "isotretinoin_wait_days" in problems[0]


def test_a_typo_in_a_fact_fails_at_load_with_a_suggestion(tmp_path: Path) -> None:
    rule = {
        "id": "typo",
        "title": "t",
        "severity": "relative",
        "modalities": ["mesotherapy"],
        "when": "medications.isotretinion.current is true",
        "message": "m",
        "action": "a",
        "sources": ["skinpen_ifu"],
        "evidence": "label",
    }
    problems = refused(write_layer(tmp_path / "clinic", rules=[rule]))
    assert problems == [
        "rule typo.when: unknown fact 'medications.isotretinion.current' — did you mean "
        "'medications.isotretinoin.current'?"
    ]


def test_an_unknown_area_names_file_entry_and_near_match(tmp_path: Path, kb: KnowledgeBase) -> None:
    product = kb.products["ha_skin_booster"].model_dump(mode="json", by_alias=True)
    product |= {"id": "clinic_booster", "areas": ["cheek"]}
    problems = refused(write_layer(tmp_path / "clinic", products=[product]))
    assert problems == ["product clinic_booster: unknown area 'cheek' — did you mean 'cheeks'?"]


def test_a_boolean_fact_compared_with_a_number_is_refused(tmp_path: Path) -> None:
    rule = {
        "id": "bad_type",
        "title": "t",
        "severity": "info",
        "modalities": ["mesotherapy"],
        "when": "patient.pregnant > 3",
        "message": "m",
        "action": "a",
        "sources": ["skinpen_ifu"],
        "evidence": "label",
    }
    problems = refused(write_layer(tmp_path / "clinic", rules=[rule]))
    assert problems == [
        "rule bad_type.when: 'patient.pregnant' is true or false, compare it with 'is'"
    ]


def test_schema_errors_are_located(tmp_path: Path) -> None:
    layer = tmp_path / "clinic"
    layer.mkdir()
    (layer / "extra.yaml").write_text(
        "ingredients:\n  - id: Bad Id\n    name: x\n", encoding="utf-8"
    )
    problems = refused(layer)
    assert any(p.startswith("extra.yaml: ingredients[0] (id: Bad Id).id:") for p in problems)
    assert any(p.startswith("extra.yaml: ingredients[0] (id: Bad Id).sources:") for p in problems)


def test_broken_yaml_and_unknown_kinds_are_reported(tmp_path: Path) -> None:
    layer = tmp_path / "clinic"
    layer.mkdir()
    (layer / "a.yaml").write_text("rules: [\n", encoding="utf-8")
    (layer / "b.yaml").write_text("ruels: []\n", encoding="utf-8")
    problems = refused(layer)
    assert problems[0].startswith("a.yaml: not valid YAML")
    assert problems[1] == "b.yaml: ruels: unknown kind — did you mean 'rules'?"


def test_a_missing_directory_is_reported(tmp_path: Path) -> None:
    assert refused(tmp_path / "nowhere") == [f"{tmp_path / 'nowhere'}: not a directory"]


def test_every_modality_is_described(kb: KnowledgeBase) -> None:
    assert set(kb.modalities) == set(Modality)
