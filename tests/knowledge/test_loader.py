"""Loading knowledge: content checked, cross-references resolved, layers merged safely."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dermaplan.knowledge import KnowledgeBase, KnowledgeError, load_knowledge
from dermaplan.knowledge.conditions import Comparison, walk
from dermaplan.knowledge.schema import Modality, Severity
from tests.conftest import write_layer


def refused(*dirs: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(list(dirs))
    return caught.value.problems


DESIGN_CONCERNS = [
    "fine_lines",
    "wrinkles",
    "laxity",
    "dehydration",
    "dullness",
    "hyperpigmentation",
    "melasma",
    "acne_scars",
    "scars",
    "enlarged_pores",
    "rough_texture",
    "stretch_marks",
    "localized_fat",
]
DESIGN_AREAS = [
    "forehead",
    "glabella",
    "periorbital",
    "nose",
    "cheeks",
    "perioral",
    "chin",
    "jawline",
    "submental",
    "neck",
    "decolletage",
    "hands",
    "arms",
    "abdomen",
    "flanks",
    "thighs",
    "buttocks",
    "scalp",
]


def test_the_built_in_knowledge_meets_the_minimums(kb: KnowledgeBase) -> None:
    assert len(kb.ingredients) >= 25
    assert len(kb.rules) >= 30
    # the design's vocabulary, extended but never renamed
    assert set(DESIGN_AREAS) <= set(kb.areas)
    assert set(DESIGN_CONCERNS) <= set(kb.concerns)
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
    assert "severity: absolute may not become info (a layer may tighten" in problems[0]
    assert problems[0].startswith(f"rules.yaml: rules[0] (id: {absolute.id})")


def _dump(entry: Any) -> dict[str, Any]:
    data: dict[str, Any] = entry.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


WEAKENINGS: list[tuple[str, str, str, Callable[[dict[str, Any]], None], str]] = [
    # kind, entry, what the layer changes, the line that refuses it
    (
        "rules",
        "pregnancy",
        "condition",
        lambda e: e.update(when="patient.age > 150"),
        "when: the condition may not change",
    ),
    (
        "rules",
        "isotretinoin_current",
        "areas",
        lambda e: e.update(areas=["scalp"]),
        "areas: a rule for whatever is treated may not be narrowed",
    ),
    (
        "rules",
        "pregnancy",
        "modalities",
        lambda e: e.update(modalities=["mesotherapy"]),
        "modalities: drops microneedling",
    ),
    (
        "rules",
        "isotretinoin_recent",
        "temporary",
        lambda e: e["temporary"].update(days=1),
        "temporary.days: policy.isotretinoin_wait_days may not become 1",
    ),
    (
        "rules",
        "pregnancy",
        "ingredients",
        lambda e: e.update(ingredients=["caffeine"]),
        "ingredients: a rule for the whole modality may not be narrowed to some",
    ),
    (
        "rules",
        "pregnancy",
        "temporary",
        lambda e: e.update(temporary={"until_text": "after the birth"}),
        "temporary: a rule that holds for good may not become temporary",
    ),
    (
        "products",
        "deoxycholic_acid_10mg_ml",
        "sessions",
        lambda e: e.update(max_sessions=20),
        "max_sessions: 6 may not become 20",
    ),
    (
        "products",
        "deoxycholic_acid_10mg_ml",
        "volume",
        lambda e: e.pop("max_volume_per_session_ml"),
        "max_volume_per_session_ml: 10 may not become none",
    ),
    (
        "products",
        "deoxycholic_acid_10mg_ml",
        "interval",
        lambda e: e.update(min_interval_days=7),
        "min_interval_days: 30 may not become 7",
    ),
    (
        "products",
        "deoxycholic_acid_10mg_ml",
        "label areas",
        lambda e: e.update(areas=["submental", "abdomen"]),
        "areas: may not add abdomen",
    ),
    (
        "products",
        "deoxycholic_acid_10mg_ml",
        "severities",
        lambda e: e["concerns"][0].pop("severities"),
        "the limit to moderate, severe may not be lifted",
    ),
    (
        "products",
        "deoxycholic_acid_10mg_ml",
        "downtime",
        lambda e: e.pop("downtime"),
        "downtime.days.max: 20 may not become none",
    ),
    (
        "products",
        "vitamin_c_brightening",
        "open skin",
        lambda e: e.update(open_skin=True),
        "open_skin: may not be turned on",
    ),
    (
        "products",
        "pc_dc_lipolytic",
        "policy",
        lambda e: e.pop("requires_policy"),
        "requires_policy: allow_unapproved_lipolytics may not be dropped",
    ),
    (
        "products",
        "txa_4mg_ml",
        "strength",
        lambda e: e["components"][0].update(amount=0.4),
        "components.tranexamic_acid: 4 mg/mL may not change",
    ),
    (
        "ingredients",
        "polynucleotides",
        "allergen",
        lambda e: e.update(allergens=[]),
        "allergens: drops fish",
    ),
    (
        "ingredients",
        "deoxycholic_acid",
        "maximum",
        lambda e: e.pop("max_mg_per_session"),
        "max_mg_per_session: 100 may not become none",
    ),
    (
        "areas",
        "glabella",
        "cap",
        lambda e: e["needling_caps"][0].update(max_mm=2.5),
        "needling_caps",
    ),
    (
        "areas",
        "cheeks",
        "a deeper cap for one indication",
        lambda e: e["needling_caps"].append(
            e["needling_caps"][0] | {"max_mm": 3.0, "concerns": ["acne_scars"]}
        ),
        "needling_caps (acne_scars): 2 may not become 3",
    ),
    (
        "areas",
        "cheeks",
        "chart region",
        lambda e: e.update(body_region="front_trunk"),
        "body_region: front_head_neck may not change",
    ),
    (
        "concerns",
        "scars",
        "a modality",
        lambda e: e["addressed_by"].append(e["addressed_by"][0] | {"modality": "mesotherapy"}),
        "addressed_by: may not add mesotherapy",
    ),
    (
        "concerns",
        "active_acne",
        "a condition it shows",
        lambda e: e.update(implies=[]),
        "implies: drops inflammatory_acne_in_area",
    ),
    (
        "products",
        "prp_needled_skin",
        "the handling",
        lambda e: e.pop("handling"),
        "handling: may not be dropped",
    ),
    (
        "concerns",
        "acne_scars",
        "injection alone for what is given on needled skin",
        lambda e: e["addressed_by"][1].update(on_needled_skin=False),
        "addressed_by.mesotherapy: on_needled_skin may not be turned off",
    ),
    (
        "modalities",
        "microneedling",
        "downtime",
        lambda e: e["downtime_days"].update(min=0),
        "downtime_days.min: 2 may not become 0",
    ),
    (
        "courses",
        "mn_scars",
        "pace",
        lambda e: e["interval_days"].update(min=1),
        "interval_days.min",
    ),
]

KINDS = {"modalities": "modality"}


@pytest.mark.parametrize(
    ("kind", "entry_id", "change", "refusal"),
    [(k, e, c, r) for k, e, _, c, r in WEAKENINGS],
    ids=[f"{k}-{e}-{what}" for k, e, what, _, _ in WEAKENINGS],
)
def test_a_layer_may_tighten_but_never_weaken(
    kb: KnowledgeBase,
    tmp_path: Path,
    kind: str,
    entry_id: str,
    change: Callable[[dict[str, Any]], None],
    refusal: str,
) -> None:
    """What keeps a patient safe stays: a layer that would switch off a rule, widen its
    reach's holes, relax a label or a maximum, or deepen a cap is refused, by name."""
    entry = _dump(kb.entry(KINDS.get(kind, kind[:-1]), entry_id))
    change(entry)
    problems = refused(write_layer(tmp_path / "clinic", **{kind: [entry]}))
    assert any(refusal in p and f"(id: {entry_id})" in p for p in problems), problems


def test_a_layer_replacing_an_entry_as_strict_loads(kb: KnowledgeBase, tmp_path: Path) -> None:
    product = _dump(kb.products["deoxycholic_acid_10mg_ml"])
    product["max_sessions"] = 4
    product["dosing"] = [
        {"areas": ["submental"], "points": 40, "sources": ["thomas2016"], "evidence": "series"}
    ]
    rule = _dump(kb.entry("rule", "keloid_history")) | {"severity": "absolute"}
    clinic = load_knowledge([write_layer(tmp_path / "clinic", products=[product], rules=[rule])])
    assert clinic.products["deoxycholic_acid_10mg_ml"].max_sessions == 4
    assert clinic.entry("rule", "keloid_history").severity is Severity.ABSOLUTE  # type: ignore[attr-defined]


def test_a_layer_sets_a_policy_but_not_its_range(kb: KnowledgeBase, tmp_path: Path) -> None:
    policy = _dump(kb.policies["minimum_age_years"])
    policy |= {"default": 12, "range": {"min": 12, "max": 22}}
    problems = refused(write_layer(tmp_path / "clinic", policies=[policy]))
    assert "a layer sets policy 'minimum_age_years' by id and value alone" in problems[0]


def test_a_layer_may_not_weaken_the_needling_limits(kb: KnowledgeBase, tmp_path: Path) -> None:
    needling = _dump(kb.needling)
    melasma = next(i for i in needling["indications"] if i["concern"] == "melasma")
    melasma.pop("ceiling")
    acne = next(i for i in needling["indications"] if i["concern"] == "acne_scars")
    acne["by_severity"]["severe"] = acne["range_mm"]["max"] = 3.0
    needling["anaesthesia"][0]["max_area_cm2"] = 5000.0
    needling["scar_types"] = [
        s | {"response": "good", "implies": []} if s["id"] == "keloid" else s
        for s in needling["scar_types"]
        if s["id"] != "hypertrophic"
    ]
    (tmp_path / "clinic").mkdir()
    (tmp_path / "clinic" / "needling.yaml").write_text(yaml.safe_dump({"needling": needling}))
    problems = "\n".join(refused(tmp_path / "clinic"))
    assert "indications.melasma.ceiling: may not be removed" in problems
    assert "indications.acne_scars.severe" in problems
    assert "max_area_cm2: may not change" in problems
    assert "scar_types.keloid.response: may not change from not_a_target" in problems
    assert "scar_types.keloid.implies: drops keloid_history" in problems
    assert "scar_types: drops hypertrophic" in problems


def test_a_layer_may_not_drop_a_screening_question(kb: KnowledgeBase, tmp_path: Path) -> None:
    screening = _dump(kb.screening)
    screening["conditions"] = [c for c in screening["conditions"] if c["id"] != "sunburn_in_area"]
    (tmp_path / "clinic").mkdir()
    (tmp_path / "clinic" / "screening.yaml").write_text(yaml.safe_dump({"screening": screening}))
    problems = "\n".join(refused(tmp_path / "clinic"))
    assert "conditions: drops sunburn_in_area" in problems


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
    assert problems[0].startswith("a.yaml:2:1: not valid YAML")
    assert problems[1] == "b.yaml: ruels: unknown kind — did you mean 'rules'?"


def test_a_missing_directory_is_reported(tmp_path: Path) -> None:
    assert refused(tmp_path / "nowhere") == [f"{tmp_path / 'nowhere'}: not a directory"]


def test_every_modality_is_described(kb: KnowledgeBase) -> None:
    assert set(kb.modalities) == set(Modality)
