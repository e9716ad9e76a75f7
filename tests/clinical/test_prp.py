"""Platelet-rich plasma: injected into the scalp, or onto needled acne scars (the combined
sitting, never injected alone there); its own screening, each rule firing; its handling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dermaplan.clinical.assessment import parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import Decision, FindingSeverity, Plan
from dermaplan.knowledge import KnowledgeBase, KnowledgeError, load_knowledge
from dermaplan.knowledge.schema import Modality
from tests.conftest import healthy, write_layer

MN, MESO, COMBINED = Modality.MICRONEEDLING, Modality.MESOTHERAPY, Modality.COMBINED


def scars(kb: KnowledgeBase, **conditions: Any) -> dict[str, Any]:
    data = healthy(kb)
    data["concerns"] = [
        {"concern": "acne_scars", "areas": ["cheeks"], "severity": "moderate"},
    ]
    data["conditions"].update(conditions)
    return data


def plan_of(kb: KnowledgeBase, data: dict[str, Any]) -> Plan:
    return consult(parse_assessment(data, kb), kb)


def test_prp_goes_onto_needled_scars_at_the_needling_pace(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, scars(kb))
    assert plan.decision(MESO).decision is Decision.NOT_INDICATED  # never injected alone
    assert plan.decision(COMBINED).decision is Decision.SUITABLE
    assert plan.combined is not None
    assert plan.combined.open_skin_products == ("prp_needled_skin",)
    combined = next(c for c in plan.courses if c.modality is COMBINED)
    assert combined.templates == ("mn_scars",)
    assert combined.products == ("prp_needled_skin",)
    assert not any(c.modality is MESO for c in plan.courses)
    assert {"kang2022", "mmwr2024_prp_hiv"} <= {c.id for c in plan.references}


def test_every_prp_sitting_says_one_patient_one_single_use_kit(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, scars(kb))
    assert plan.mesotherapy is not None
    (check,) = [c for c in plan.mesotherapy.checks if "single-use" in c.text]
    assert "never reuse or share" in check.text
    assert check.sources == ("mmwr2024_prp_hiv",)


@pytest.mark.parametrize(
    ("answers", "decision"),
    [
        ({"conditions": {"platelet_disorder": True}}, Decision.CONTRAINDICATED),
        ({"conditions": {"fever_or_systemic_infection": True}}, Decision.DEFERRED),
        ({"conditions": {"low_platelet_count": True}}, Decision.CAUTION),
        ({"conditions": {"active_cancer": True}}, Decision.CAUTION),
        ({"conditions": {"smoker": True}}, Decision.CAUTION),
        ({"medications": {"nsaid": {"status": "current"}}}, Decision.CAUTION),
        (
            {"medications": {"nsaid": {"status": "stopped", "last_taken": "2026-11-30"}}},
            Decision.CAUTION,
        ),
        ({"medications": {"systemic_corticosteroid": {"status": "current"}}}, Decision.CAUTION),
        (
            {
                "medications": {
                    "systemic_corticosteroid": {"status": "stopped", "last_taken": "2026-11-20"}
                }
            },
            Decision.CAUTION,
        ),
    ],
)
def test_each_prp_rule_keeps_it_off_the_needled_skin(
    kb: KnowledgeBase, answers: dict[str, dict[str, Any]], decision: Decision
) -> None:
    """The combined sitting has only PRP for the scars: ruled out, it is held as hard as the
    rule, while needling alone goes ahead."""
    data = scars(kb)
    for section, values in answers.items():
        data[section].update(values)
    plan = plan_of(kb, data)
    assert plan.decision(COMBINED).decision is decision
    assert plan.combined is None
    assert plan.decision(MN).decision in (Decision.RECOMMENDED, Decision.SUITABLE, Decision.CAUTION)


def test_the_waits_before_a_draw_pass(kb: KnowledgeBase) -> None:
    """Two days after the last painkiller, two weeks after the last steroid: PRP again."""
    data = scars(kb)
    data["medications"]["nsaid"] = {"status": "stopped", "last_taken": "2026-11-29"}
    data["medications"]["systemic_corticosteroid"] = {
        "status": "stopped",
        "last_taken": "2026-11-17",
    }
    assert plan_of(kb, data).decision(COMBINED).decision is Decision.SUITABLE


def test_a_blood_borne_virus_is_noted_and_prp_still_given(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, scars(kb, bloodborne_virus=True))
    finding = next(f for f in plan.findings if f.code == "prp_bloodborne_virus")
    assert finding.severity is FindingSeverity.INFO
    assert plan.decision(COMBINED).decision is Decision.SUITABLE


def test_an_unanswered_platelet_question_holds_the_combined_plan_only(kb: KnowledgeBase) -> None:
    data = scars(kb)
    del data["conditions"]["platelet_disorder"]
    plan = plan_of(kb, data)
    assert plan.decision(COMBINED).provisional
    assert plan.decision(MN).decision is Decision.RECOMMENDED
    assert not plan.decision(MN).provisional


def test_prp_for_the_scalp_and_for_scars_are_two_uses(kb: KnowledgeBase) -> None:
    """Injected into the scalp it has its own mesotherapy course; on the needled cheeks it is
    given in the combined sitting."""
    data = scars(kb)
    data["patient"]["sex"] = "male"
    data["patient"].pop("pregnant")
    data["patient"].pop("breastfeeding")
    data["conditions"].pop("childbearing_potential")
    data["medications"]["topical_minoxidil"] = {"status": "current"}
    data["concerns"].append(
        {"concern": "androgenetic_alopecia", "areas": ["scalp"], "severity": "moderate"}
    )
    plan = plan_of(kb, data)
    meso = next(c for c in plan.courses if c.modality is MESO)
    assert meso.products == ("prp_scalp",)
    assert plan.decision(MESO).concerns == ("androgenetic_alopecia:scalp",)
    assert plan.combined is not None
    assert "prp_needled_skin" in plan.combined.open_skin_products


def test_a_product_for_needled_skin_only_must_be_sterile_for_it(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    product = kb.products["prp_needled_skin"].model_dump(mode="json", exclude_none=True)
    product |= {"id": "scar_serum", "open_skin": False}
    product.pop("handling")
    with pytest.raises(
        KnowledgeError, match="treats only on needled skin, but it is not open_skin"
    ):
        load_knowledge([write_layer(tmp_path / "clinic", products=[product])])
