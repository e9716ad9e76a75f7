"""The eye area and skin boosters: dark circles treated with per-area doses from their
sources, the tear trough referred, the periorbital cautions, and boosters dosed per area."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dermaplan.clinical.assessment import parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import Decision, FindingSeverity, Plan
from dermaplan.knowledge import KnowledgeBase, load_knowledge
from dermaplan.knowledge.schema import Modality
from tests.conftest import healthy, write_layer

MESO = Modality.MESOTHERAPY


def eyes(kb: KnowledgeBase, *concerns: str, **conditions: Any) -> dict[str, Any]:
    data = healthy(kb)
    data["concerns"] = [
        {"concern": c, "areas": ["periorbital"], "severity": "moderate"}
        for c in concerns or ("dark_circles",)
    ]
    data["conditions"].update(conditions)
    return data


def plan_of(kb: KnowledgeBase, data: dict[str, Any]) -> Plan:
    return consult(parse_assessment(data, kb), kb)


def test_dark_circles_get_prp_at_its_sourced_volume_per_side(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, eyes(kb))
    assert plan.mesotherapy is not None
    (prep,) = plan.mesotherapy.preparations
    assert prep.products == ("prp_periorbital",)
    (dose,) = prep.areas
    assert (dose.area, dose.volume_ml) == ("periorbital", 3.0)  # 1.5 mL a side
    course = next(c for c in plan.courses if c.modality is MESO)
    assert (course.sessions, course.interval_days) == (3, 30)


def test_without_prp_the_periocular_polynucleotides_are_dosed_per_session(
    kb: KnowledgeBase,
) -> None:
    plan = plan_of(kb, eyes(kb, platelet_disorder=True))
    assert plan.mesotherapy is not None
    (prep,) = plan.mesotherapy.preparations
    assert prep.products == ("polynucleotide_periocular",)
    assert prep.areas[0].volume_ml == 2.0
    assert prep.volume_per_point_ml is None
    course = next(c for c in plan.courses if c.modality is MESO)
    assert (course.sessions, course.interval_days) == (3, 21)


def test_a_fish_allergy_and_a_platelet_disorder_leave_nothing_for_dark_circles(
    kb: KnowledgeBase,
) -> None:
    data = eyes(kb, platelet_disorder=True)
    data["allergies"] = ["fish"]
    plan = plan_of(kb, data)
    assert plan.decision(MESO).decision is Decision.CONTRAINDICATED


def test_the_tear_trough_is_referred_for_filler(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, eyes(kb, "tear_trough"))
    assert {d.decision for d in plan.decisions} == {Decision.NOT_INDICATED}
    (referral,) = plan.referrals
    assert "tear-trough filler" in referral.to
    assert "0.2-0.45 mL" in referral.why


def test_injections_around_the_eyes_carry_their_cautions(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, eyes(kb))
    (caution,) = [f for f in plan.findings if f.code == "periorbital_injections"]
    assert caution.severity is FindingSeverity.PRECAUTION
    assert "king2016" in caution.sources


def _boosters_only(kb: KnowledgeBase, tmp_path: Path, *dropped: str) -> KnowledgeBase:
    """A clinic whose plain HA booster no longer claims these concerns (a layer may narrow a
    product's claims), so the other boosters are what remains."""
    booster = kb.products["ha_skin_booster"].model_dump(mode="json", exclude_none=True)
    booster["concerns"] = [c for c in booster["concerns"] if c["concern"] not in dropped]
    return load_knowledge([write_layer(tmp_path / "clinic", products=[booster])])


def test_the_hybrid_booster_is_dosed_at_its_five_points_a_side(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    clinic = _boosters_only(kb, tmp_path, "laxity")
    data = healthy(clinic)
    data["concerns"] = [{"concern": "laxity", "areas": ["cheeks"], "severity": "moderate"}]
    plan = consult(parse_assessment(data, clinic), clinic)
    assert plan.mesotherapy is not None
    (prep,) = plan.mesotherapy.preparations
    assert prep.products == ("hybrid_ha_booster",)
    assert (prep.areas[0].points, prep.areas[0].volume_ml) == (10, 2.0)
    course = next(c for c in plan.courses if c.modality is MESO)
    assert (course.sessions, course.interval_days) == (2, 28)


def test_the_stabilised_booster_is_dosed_as_in_its_series(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    clinic = _boosters_only(kb, tmp_path, "laxity", "rough_texture")
    data = healthy(clinic)
    data["concerns"] = [
        {"concern": "laxity", "areas": ["cheeks"], "severity": "moderate"},
        {"concern": "rough_texture", "areas": ["cheeks"], "severity": "moderate"},
    ]
    plan = consult(parse_assessment(data, clinic), clinic)
    assert plan.mesotherapy is not None
    (prep,) = plan.mesotherapy.preparations
    assert prep.products == ("stabilised_ha_booster",)
    assert (prep.areas[0].points, prep.areas[0].volume_ml) == (20, 1.0)
