"""Hair loss of the scalp: pattern hair loss planned with its sources, shedding and scarring
referred, and each new rule firing."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from dermaplan.clinical.assessment import AssessmentError, parse_assessment
from dermaplan.clinical.blend import NO_VOLUME
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import Decision, FindingSeverity, Plan
from dermaplan.knowledge import KnowledgeBase, KnowledgeError, load_knowledge
from dermaplan.knowledge.schema import Modality
from tests.conftest import healthy, write_layer

MN, MESO = Modality.MICRONEEDLING, Modality.MESOTHERAPY


def hair(kb: KnowledgeBase, *concerns: str, sex: str = "male", **conditions: Any) -> dict[str, Any]:
    """A fully screened patient with hair loss, using minoxidil."""
    data = healthy(kb)
    data["patient"] = {"age": 32, "sex": sex, "fitzpatrick": 3}
    if sex != "male":
        data["patient"] |= {"pregnant": False, "breastfeeding": False}
    else:
        del data["conditions"]["childbearing_potential"]  # settled for a man
    data["medications"]["topical_minoxidil"] = {"status": "current"}
    data["concerns"] = [
        {"concern": c, "areas": ["scalp"], "severity": "moderate"}
        for c in concerns or ("androgenetic_alopecia",)
    ]
    data["conditions"].update(conditions)
    return data


def plan_of(kb: KnowledgeBase, data: dict[str, Any]) -> Plan:
    return consult(parse_assessment(data, kb), kb)


def reasons(plan: Plan, modality: Modality) -> str:
    return "\n".join(r.text for r in plan.decision(modality).reasons)


def test_pattern_hair_loss_is_needled_as_in_the_trials(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, hair(kb))
    assert plan.microneedling is not None
    (scalp,) = plan.microneedling.areas
    assert (scalp.area, scalp.depth_mm, scalp.device) == ("scalp", 1.5, "roller")
    assert scalp.depth_mm <= kb.areas["scalp"].depth_cap("androgenetic_alopecia").max_mm  # type: ignore[union-attr]
    course = next(c for c in plan.courses if c.modality is MN)
    assert (course.sessions, course.interval_days) == (12, 7)
    assert "dhurat2013" in course.sources
    assert plan.decision(MN).decision in (Decision.RECOMMENDED, Decision.SUITABLE)
    assert not plan.missing


def test_without_minoxidil_needling_is_not_recommended(kb: KnowledgeBase) -> None:
    """The trials needled alongside minoxidil: without it (or unknown) needling may be
    chosen, never recommended, and the plan says why."""
    for use in ({"status": "never"}, {"status": None}):
        data = hair(kb)
        data["medications"]["topical_minoxidil"] = use
        data["concerns"][0]["concern"] = "androgenetic_alopecia"
        plan = plan_of(kb, data)
        assert plan.decision(MN).decision is Decision.SUITABLE
        assert "not known to use topical_minoxidil" in reasons(plan, MN)


def test_scalp_prp_comes_first_with_its_guideline_dosing(kb: KnowledgeBase) -> None:
    """Injected platelet-rich plasma has the stronger evidence (a meta-analysis) and its
    guideline's dosing; one patient, one single-use kit."""
    plan = plan_of(kb, hair(kb))
    assert plan.mesotherapy is not None
    (prep,) = plan.mesotherapy.preparations
    assert prep.products == ("prp_scalp",)
    assert prep.volume_per_point_ml == 0.05
    assert prep.max_volume_per_session_ml == 7
    assert any("single-use sterile kit" in c.text for c in plan.mesotherapy.checks)
    course = next(c for c in plan.courses if c.modality is MESO)
    assert (course.sessions, course.interval_days) == (3, 30)
    assert course.templates == ("meso_prp_hair",)


def test_dutasteride_replaces_prp_with_no_invented_volume(kb: KnowledgeBase) -> None:
    """Where PRP may not be used (a smoker, without a sign-off), dutasteride is proposed, and
    since no source gives its volume per point, none is."""
    plan = plan_of(kb, hair(kb, smoker=True))
    assert plan.mesotherapy is not None
    (prep,) = plan.mesotherapy.preparations
    assert prep.products == ("dutasteride_scalp",)
    assert prep.volume_per_point_ml is None
    assert prep.areas[0].volume_ml is None
    assert NO_VOLUME in (prep.areas[0].note or "")
    course = next(c for c in plan.courses if c.modality is MESO)
    assert (course.sessions, course.interval_days) == (4, 90)


def test_marketed_hair_cocktails_are_shown_and_not_proposed(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, hair(kb))
    assert plan.mesotherapy is not None
    cocktail = [e for e in plan.mesotherapy.excluded if e.item == "hair_revitalising_cocktail"]
    assert cocktail
    assert "marketed only" in cocktail[0].reason
    assert "duqueestrada2009" in cocktail[0].sources


def test_signs_of_a_scarring_alopecia_defer_every_scalp_procedure_and_refer(
    kb: KnowledgeBase,
) -> None:
    plan = plan_of(kb, hair(kb, scarring_alopecia_signs=True))
    for modality in (MN, MESO):
        assert plan.decision(modality).decision is Decision.DEFERRED
    assert plan.microneedling is None
    assert not plan.courses
    (referral,) = plan.referrals
    assert referral.code == "scarring_alopecia_signs"
    assert "dermatologist" in referral.to


def test_an_unanswered_scarring_question_holds_the_plan(kb: KnowledgeBase) -> None:
    data = hair(kb)
    del data["conditions"]["scarring_alopecia_signs"]
    plan = plan_of(kb, data)
    question = kb.screening.conditions
    asked = next(c.question for c in question if c.id == "scarring_alopecia_signs")
    assert asked in plan.missing
    assert plan.decision(MN).provisional
    assert all(not c.dates for c in plan.courses)
    assert not plan.referrals  # a question, not yet a referral


def test_shedding_is_referred_not_treated(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, hair(kb, "telogen_effluvium"))
    assert {d.decision for d in plan.decisions} == {Decision.NOT_INDICATED}
    (referral,) = plan.referrals
    assert referral.code == "telogen_effluvium"
    assert referral.areas == ("scalp",)
    assert "te_chapter" in referral.sources
    assert {c.id for c in plan.references} >= set(referral.sources)


def test_a_cause_of_shedding_asks_for_a_work_up_and_a_sign_off(kb: KnowledgeBase) -> None:
    for cause in ("thyroid_disease", "iron_deficiency", "recent_shedding_trigger"):
        plan = plan_of(kb, hair(kb, **{cause: True}))
        assert plan.decision(MN).decision is Decision.CAUTION
        assert [r.code for r in plan.referrals] == ["hair_loss_cause_to_treat"]


def test_patchy_hair_loss_is_referred_for_diagnosis(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, hair(kb, patchy_hair_loss=True))
    assert plan.decision(MN).decision is Decision.CAUTION
    assert [r.code for r in plan.referrals] == ["patchy_hair_loss"]


def test_the_hair_loss_rules_hold_the_scalp_only(kb: KnowledgeBase) -> None:
    data = hair(kb, scarring_alopecia_signs=True)
    data["concerns"].append({"concern": "dehydration", "areas": ["cheeks"], "severity": "mild"})
    plan = plan_of(kb, data)
    assert plan.decision(MESO).decision in (Decision.RECOMMENDED, Decision.SUITABLE)
    assert plan.mesotherapy is not None
    treated = {d.area for p in plan.mesotherapy.preparations for d in p.areas}
    assert treated == {"cheeks"}


@pytest.mark.parametrize(
    ("answer", "decision"),
    [(True, Decision.CONTRAINDICATED), (None, Decision.CAUTION), (False, Decision.RECOMMENDED)],
)
def test_dutasteride_waits_on_whether_a_woman_could_become_pregnant(
    kb: KnowledgeBase, answer: bool | None, decision: Decision
) -> None:
    # platelet-rich plasma ruled out, so dutasteride is the one product for the scalp
    data = hair(kb, sex="female", childbearing_potential=answer, platelet_disorder=True)
    data["medications"]["topical_minoxidil"] = {"status": "never"}
    plan = plan_of(kb, data)
    assert plan.decision(MESO).decision is decision
    given = {
        p
        for prep in (plan.mesotherapy.preparations if plan.mesotherapy else ())
        for p in prep.products
    }
    assert ("dutasteride_scalp" in given) is (answer is False)


def test_a_man_is_settled_as_unable_to_become_pregnant(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, hair(kb))
    assert not any("childbearing_potential" in u for f in plan.findings for u in f.unanswered)
    data = hair(kb, childbearing_potential=True)
    with pytest.raises(AssessmentError, match="childbearing_potential: true contradicts"):
        parse_assessment(data, kb)


def test_a_layer_may_not_drop_a_referral_nor_settle_a_question_for_men(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    rule = kb.entry("rule", "scarring_alopecia_signs").model_dump(mode="json", exclude_none=True)
    rule.pop("refer")
    concern = kb.entry("concern", "telogen_effluvium").model_dump(mode="json", exclude_none=True)
    screening = kb.screening.model_dump(mode="json", exclude_none=True)
    for item in screening["conditions"]:
        if item["id"] == "thyroid_disease":
            item["female_only"] = True
    layer = write_layer(tmp_path / "clinic", rules=[rule], screening=screening)
    with pytest.raises(KnowledgeError) as error:
        load_knowledge([layer])
    text = str(error.value)
    assert "refer: the referral may not be dropped" in text
    assert "thyroid_disease.female_only: may not be turned on" in text
    concern.pop("refer")
    with pytest.raises(KnowledgeError, match="says where to refer"):
        load_knowledge([write_layer(tmp_path / "other", concerns=[concern])])


def test_every_scalp_plan_keeps_within_its_sources(kb: KnowledgeBase) -> None:
    """Whatever the severity and the answers, scalp needling stays within its cap and a
    telogen effluvium alone is never treated."""
    for severity in ("mild", "moderate", "severe"):
        data = hair(kb)
        data["concerns"][0]["severity"] = severity
        both = copy.deepcopy(data)
        both["concerns"].append(
            {"concern": "telogen_effluvium", "areas": ["scalp"], "severity": severity}
        )
        for case in (data, both):
            plan = plan_of(kb, case)
            assert plan.microneedling is not None
            assert all(a.depth_mm == 1.5 for a in plan.microneedling.areas)
            assert "telogen_effluvium:scalp" not in plan.decision(MN).concerns
    findings = plan_of(kb, hair(kb, scarring_alopecia_signs=True)).findings
    assert any(f.severity is FindingSeverity.ABSOLUTE for f in findings)
