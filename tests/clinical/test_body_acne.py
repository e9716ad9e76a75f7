"""Acne and scars of the body: the chest, upper back and shoulders as areas, active acne held
where it is, oily skin, and the keloid-prone sites."""

from __future__ import annotations

from typing import Any

from dermaplan.clinical.assessment import parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import Decision, FindingSeverity, Plan
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality
from tests.conftest import healthy

MN, MESO, COMBINED = Modality.MICRONEEDLING, Modality.MESOTHERAPY, Modality.COMBINED


def patient(kb: KnowledgeBase, *concerns: dict[str, Any], **conditions: Any) -> dict[str, Any]:
    data = healthy(kb)
    data["concerns"] = list(concerns)
    data["conditions"].update(conditions)
    return data


def concern(name: str, *areas: str, **more: Any) -> dict[str, Any]:
    return {"concern": name, "areas": list(areas), "severity": "moderate", **more}


def plan_of(kb: KnowledgeBase, data: dict[str, Any]) -> Plan:
    return consult(parse_assessment(data, kb), kb)


def test_body_acne_scars_are_needled_with_no_borrowed_depth(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, patient(kb, concern("acne_scars", "back", "chest", "cheeks")))
    assert plan.microneedling is not None
    depths = {a.area: a.depth_mm for a in plan.microneedling.areas}
    assert depths == {"back": None, "cheeks": 1.5, "chest": None}
    back = next(a for a in plan.microneedling.areas if a.area == "back")
    assert any("practitioner decides" in note for note in back.notes)
    # the back alone is more skin than the numbing cream may cover
    assert "anaesthetise only the marked zone" in plan.microneedling.steps[0]


def test_the_keloid_prone_sites_carry_their_caution(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, patient(kb, concern("acne_scars", "back", "cheeks")))
    (caution,) = [f for f in plan.findings if f.code == "keloid_prone_sites"]
    assert caution.severity is FindingSeverity.PRECAUTION
    assert caution.areas == ("back",)


def test_a_keloid_history_keeps_needles_off_the_prone_sites_and_refers(
    kb: KnowledgeBase,
) -> None:
    plan = plan_of(kb, patient(kb, concern("acne_scars", "chest", "cheeks"), keloid_history=True))
    assert plan.microneedling is not None
    assert [a.area for a in plan.microneedling.areas] == ["cheeks"]
    assert plan.decision(MN).decision is Decision.CAUTION  # keloid history: sign-off elsewhere
    assert [r.code for r in plan.referrals] == ["keloid_history_prone_site"]
    only_chest = plan_of(kb, patient(kb, concern("acne_scars", "chest"), keloid_history=True))
    assert only_chest.decision(MN).decision is Decision.CONTRAINDICATED


def test_active_acne_holds_the_skin_it_is_on_and_refers(kb: KnowledgeBase) -> None:
    """Active acne on the back: the back is deferred for every needle, the cheeks are
    treated, and the acne goes to a doctor."""
    data = patient(kb, concern("active_acne", "back"), concern("acne_scars", "back", "cheeks"))
    plan = plan_of(kb, data)
    held = [f for f in plan.findings if f.code == "inflammatory_acne_in_area"]
    assert [(f.severity, f.areas) for f in held] == [(FindingSeverity.ABSOLUTE, ("back",))]
    assert plan.microneedling is not None
    assert [a.area for a in plan.microneedling.areas] == ["cheeks"]
    assert plan.decision(MN).decision in (Decision.RECOMMENDED, Decision.SUITABLE)
    assert [r.code for r in plan.referrals] == ["active_acne"]


def test_active_acne_alone_is_referred_not_treated(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, patient(kb, concern("active_acne", "chest", "back")))
    assert {d.decision for d in plan.decisions} == {Decision.NOT_INDICATED}
    assert plan.referrals[0].code == "active_acne"


def test_unanswered_acne_elsewhere_is_asked_where_no_acne_is_recorded(kb: KnowledgeBase) -> None:
    data = patient(kb, concern("active_acne", "back"), concern("acne_scars", "cheeks"))
    del data["conditions"]["inflammatory_acne_in_area"]
    plan = plan_of(kb, data)
    missing = [f for f in plan.findings if f.severity is FindingSeverity.MISSING]
    assert [f.areas for f in missing if f.code == "inflammatory_acne_in_area"] == [("cheeks",)]


def test_inflamed_acne_answered_for_the_other_areas(kb: KnowledgeBase) -> None:
    """The question asks about acne besides the active acne recorded: "yes" holds every
    area, "no" only the areas the active acne is on."""
    data = patient(kb, concern("active_acne", "back"), concern("acne_scars", "back", "cheeks"))
    data["conditions"]["inflammatory_acne_in_area"] = True
    plan = plan_of(kb, data)
    assert plan.decision(MN).decision is Decision.DEFERRED
    data["conditions"]["inflammatory_acne_in_area"] = False
    plan = plan_of(kb, data)
    assert plan.microneedling is not None
    assert [a.area for a in plan.microneedling.areas] == ["cheeks"]


def test_oily_skin_gets_intradermal_toxin_as_in_the_trials(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, patient(kb, concern("oily_skin", "forehead", "cheeks")))
    assert plan.mesotherapy is not None
    (prep,) = plan.mesotherapy.preparations
    assert prep.products == ("microbotox",)
    assert prep.volume_per_point_ml == 0.01
    (course,) = plan.courses
    assert (course.sessions, course.interval_days) == (1, 120)


def test_a_neuromuscular_disorder_keeps_the_toxin_out(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, patient(kb, concern("oily_skin", "forehead"), neuromuscular_disorder=True))
    assert plan.decision(MESO).decision is Decision.CAUTION
    assert plan.mesotherapy is not None
    assert not plan.mesotherapy.preparations
