"""Radiofrequency microneedling: a device of the needling, with rules of its own that bind it
alone; its depths by area, no energy number, and the weekly scalp spacing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from dermaplan.clinical.assessment import ConcernEntry, parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import Decision, FindingSeverity, Plan
from dermaplan.clinical.relevance import questions_for
from dermaplan.knowledge import KnowledgeBase, KnowledgeError, load_knowledge
from dermaplan.knowledge.schema import Modality
from tests.conftest import healthy, write_layer

MN = Modality.MICRONEEDLING
RF = "rf_microneedling"
IMPLANT_RULES = ("rf_electronic_implant", "rf_metal_implant_in_area", "rf_gold_threads")


def patient(kb: KnowledgeBase, *concerns: dict[str, Any], **conditions: Any) -> dict[str, Any]:
    data = healthy(kb)
    data["concerns"] = list(concerns) or [concern("acne_scars", "cheeks", "forehead")]
    data["conditions"].update(conditions)
    return data


def concern(name: str, *areas: str, **more: Any) -> dict[str, Any]:
    return {"concern": name, "areas": list(areas), "severity": "moderate", **more}


def plan_of(kb: KnowledgeBase, data: dict[str, Any]) -> Plan:
    return consult(parse_assessment(data, kb), kb)


def test_offered_beside_the_needling_with_the_review_s_depths(kb: KnowledgeBase) -> None:
    plan = plan_of(
        kb,
        patient(
            kb,
            concern("acne_scars", "cheeks", "forehead", "nose", "chin"),
            concern("wrinkles", "perioral"),
            concern("laxity", "neck"),
        ),
    )
    radio = plan.radiofrequency
    assert radio is not None
    assert radio.decision is Decision.SUITABLE
    depths = {row.area: row.depth_mm for row in radio.areas}
    assert depths == {
        "cheeks": 1.0,
        "chin": None,
        "forehead": 1.5,
        "neck": 1.5,
        "nose": 2.0,
        "perioral": 0.5,
    }
    chin = next(row for row in radio.areas if row.area == "chin")
    assert "practitioner decides" in chin.note
    assert {row.evidence.value for row in radio.areas if row.depth_mm} == {"expert_opinion"}
    assert radio.energy.startswith("practitioner to decide")
    assert not any(ch.isdigit() for ch in radio.energy)  # no energy number, ever
    assert [n.split(":")[0] for n in radio.needles] == [
        "Insulated needles",
        "Non-insulated needles",
    ]
    assert radio.courses[0].startswith("acne_scars: 4 sessions 6 weeks apart")
    assert "shauly2023" in radio.sources
    assert "fda_rfmn_2025" in radio.sources
    assert {c.id for c in plan.references} >= set(radio.sources)
    # the needling itself is unchanged by the device beside it
    assert plan.decision(MN).decision is Decision.RECOMMENDED


def test_only_for_its_concerns_and_areas(kb: KnowledgeBase) -> None:
    assert plan_of(kb, patient(kb, concern("dehydration", "cheeks"))).radiofrequency is None
    assert plan_of(kb, patient(kb, concern("acne_scars", "back"))).radiofrequency is None
    assert plan_of(kb, patient(kb, concern("stretch_marks", "abdomen"))).radiofrequency is None


@pytest.mark.parametrize("rule", IMPLANT_RULES)
def test_each_implant_rule_removes_the_device_and_never_the_needling(
    kb: KnowledgeBase, rule: str
) -> None:
    condition = {
        "rf_electronic_implant": "implanted_electronic_device",
        "rf_metal_implant_in_area": "metal_implant_in_area",
        "rf_gold_threads": "gold_threads",
    }[rule]
    plan = plan_of(kb, patient(kb, **{condition: True}))
    (finding,) = [f for f in plan.findings if f.code == rule]
    assert finding.severity is FindingSeverity.ABSOLUTE
    assert finding.devices == (RF,)
    assert finding.modalities == ()
    assert finding.areas == ("cheeks", "forehead")
    radio = plan.radiofrequency
    assert radio is not None
    assert radio.decision is Decision.CONTRAINDICATED
    assert radio.areas == ()
    assert any(r.rule == rule for r in radio.reasons)
    assert plan.decision(MN).decision is Decision.RECOMMENDED
    assert plan.microneedling is not None


def test_an_absolute_device_rule_wins_over_questions_still_open(kb: KnowledgeBase) -> None:
    plan = plan_of(
        kb,
        patient(
            kb, implanted_electronic_device=True, gold_threads=None, metal_implant_in_area=None
        ),
    )
    radio = plan.radiofrequency
    assert radio is not None
    assert radio.decision is Decision.CONTRAINDICATED
    assert radio.provisional == ()  # nothing of it is planned, provisional or not


@pytest.mark.parametrize(
    "condition", ["implanted_electronic_device", "metal_implant_in_area", "gold_threads"]
)
def test_an_unknown_implant_is_not_a_no(kb: KnowledgeBase, condition: str) -> None:
    data = patient(kb)
    del data["conditions"][condition]
    plan = plan_of(kb, data)
    radio = plan.radiofrequency
    assert radio is not None
    assert radio.decision is Decision.CAUTION
    asked = next(c.question for c in kb.screening.conditions if c.id == condition)
    assert radio.provisional == (asked,)
    assert asked in plan.missing
    # the question bears on the device only: mechanical needling is planned as it was
    assert plan.decision(MN).decision is Decision.RECOMMENDED
    assert plan.decision(MN).provisional == ()


def test_the_device_s_isotretinoin_wait_holds_where_the_clinic_needles_sooner(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    clinic = load_knowledge(
        [write_layer(tmp_path, policies=[{"id": "isotretinoin_wait_days", "value": 0}])]
    )
    data = patient(clinic)
    data["medications"]["isotretinoin"] = {"status": "stopped", "last_taken": "2026-10-02"}
    plan = plan_of(clinic, data)
    assert plan.decision(MN).decision is Decision.RECOMMENDED  # the clinic's own wait: none
    (finding,) = [f for f in plan.findings if f.code == "isotretinoin_recent_rf"]
    assert finding.until == dt.date(2026, 10, 2) + dt.timedelta(days=180)
    radio = plan.radiofrequency
    assert radio is not None
    assert radio.decision is Decision.DEFERRED
    assert radio.until == finding.until
    # and a clinic may not bring the device below its label's 6 months
    with pytest.raises(KnowledgeError, match="rf_isotretinoin_wait_days"):
        load_knowledge(
            [
                write_layer(
                    tmp_path / "lower", policies=[{"id": "rf_isotretinoin_wait_days", "value": 90}]
                )
            ]
        )


def test_isotretinoin_as_for_needling_binds_the_device_through_the_modality(
    kb: KnowledgeBase,
) -> None:
    """The needling's own isotretinoin rules hold the device with it: no option is offered
    when the needling itself waits."""
    data = patient(kb)
    data["medications"]["isotretinoin"] = {"status": "current"}
    plan = plan_of(kb, data)
    assert plan.decision(MN).decision is Decision.CONTRAINDICATED
    assert plan.radiofrequency is None


def test_darker_skin_carries_the_pigment_precaution(kb: KnowledgeBase) -> None:
    data = patient(kb)
    data["patient"]["fitzpatrick"] = 5
    plan = plan_of(kb, data)
    (finding,) = [f for f in plan.findings if f.code == "rf_darker_skin_pih"]
    assert finding.severity is FindingSeverity.PRECAUTION
    assert finding.devices == (RF,)
    assert {"syder2023", "inmode_ifu"} <= set(finding.sources)
    radio = plan.radiofrequency
    assert radio is not None
    assert radio.decision is Decision.SUITABLE
    assert any(r.rule == "rf_darker_skin_pih" for r in radio.reasons)
    data["patient"]["fitzpatrick"] = 3
    assert not [f for f in plan_of(kb, data).findings if f.code == "rf_darker_skin_pih"]


def test_never_further_along_than_the_needling(kb: KnowledgeBase) -> None:
    plan = plan_of(kb, patient(kb, radio_chemotherapy=True))
    assert plan.decision(MN).decision is Decision.CAUTION
    radio = plan.radiofrequency
    assert radio is not None
    assert radio.decision is Decision.CAUTION
    assert any("the needling itself is at caution" in r.text for r in radio.reasons)


def test_no_heating_needles_over_melasma(kb: KnowledgeBase) -> None:
    plan = plan_of(
        kb, patient(kb, concern("acne_scars", "cheeks", "forehead"), concern("melasma", "cheeks"))
    )
    radio = plan.radiofrequency
    assert radio is not None
    assert [row.area for row in radio.areas] == ["forehead"]
    assert any("not on cheeks: melasma" in r.text for r in radio.reasons)


def test_the_implant_questions_are_asked_only_where_the_device_could_be_used(
    kb: KnowledgeBase,
) -> None:
    implants = {"implanted_electronic_device", "metal_implant_in_area", "gold_threads"}

    def asked(name: str, *areas: str) -> set[str]:
        entry = ConcernEntry(concern=name, areas=list(areas), severity="moderate")
        return set(questions_for(kb, [entry]).conditions)

    assert implants <= asked("acne_scars", "cheeks")
    assert implants <= asked("laxity", "neck")
    assert not implants & asked("acne_scars", "back")
    assert not implants & asked("dehydration", "cheeks")
    assert not implants & asked("androgenetic_alopecia", "scalp")


def test_a_device_rule_is_checked_at_load(kb: KnowledgeBase, tmp_path: Path) -> None:
    rule = {
        "id": "clinic_rf_rule",
        "title": "A clinic's device rule",
        "severity": "absolute",
        "modalities": ["microneedling"],
        "devices": ["rf_needling"],
        "when": "conditions.gold_threads is true",
        "message": "m",
        "action": "a",
        "sources": ["inmode_ifu"],
        "evidence": "label",
    }
    with pytest.raises(KnowledgeError, match="unknown device 'rf_needling'"):
        load_knowledge([write_layer(tmp_path / "a", rules=[rule])])
    rule |= {"devices": [RF], "modalities": ["mesotherapy"]}
    with pytest.raises(KnowledgeError, match="a device rule binds microneedling alone"):
        load_knowledge([write_layer(tmp_path / "b", rules=[rule])])


# --- Spacing of needling sessions: a week on the scalp, two elsewhere -------------------------


def _needled_before(kb: KnowledgeBase, name: str, area: str, days: int) -> Plan:
    data = patient(kb, concern(name, area))
    data["patient"]["sex"] = "male"
    data["patient"].pop("pregnant")
    data["patient"].pop("breastfeeding")
    data["medications"]["topical_minoxidil"] = {"status": "current"}
    when = (dt.date(2026, 12, 1) - dt.timedelta(days=days)).isoformat()
    data["procedures"] = [{"type": "microneedling", "date": when, "areas": [area]}]
    return plan_of(kb, data)


def test_weekly_scalp_sessions_are_not_pushed_to_two_weeks(kb: KnowledgeBase) -> None:
    plan = _needled_before(kb, "androgenetic_alopecia", "scalp", 7)
    spacing = {"recent_microneedling", "recent_scalp_microneedling"}
    assert not [f for f in plan.findings if f.code in spacing]
    (course,) = [c for c in plan.courses if c.modality is MN]
    assert course.interval_days == 7
    assert course.dates[0] == dt.date(2026, 12, 1)
    sooner = _needled_before(kb, "androgenetic_alopecia", "scalp", 5)
    (finding,) = [f for f in sooner.findings if f.code in spacing]
    assert finding.code == "recent_scalp_microneedling"
    assert finding.until == dt.date(2026, 12, 3)
    assert {"dhurat2013", "kumar2019"} <= set(finding.sources)


def test_the_face_keeps_two_weeks(kb: KnowledgeBase) -> None:
    plan = _needled_before(kb, "acne_scars", "cheeks", 7)
    (finding,) = [f for f in plan.findings if f.code == "recent_microneedling"]
    assert finding.until == dt.date(2026, 12, 8)


def test_every_area_has_exactly_one_spacing_rule(kb: KnowledgeBase) -> None:
    rules = {r.id: r for r in kb.rules}
    face = set(rules["recent_microneedling"].areas or ())
    scalp = set(rules["recent_scalp_microneedling"].areas or ())
    assert face | scalp == set(kb.areas)
    assert not face & scalp


def test_a_clinic_layer_may_not_narrow_a_rule_to_the_device_nor_deepen_it(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    rule = next(r for r in kb.rules if r.id == "isotretinoin_recent")
    narrowed = rule.model_dump(mode="json", exclude_none=True) | {"devices": [RF]}
    with pytest.raises(KnowledgeError, match="may not be narrowed to a device"):
        load_knowledge([write_layer(tmp_path / "rule", rules=[narrowed])])
    needling = kb.needling.model_dump(mode="json", exclude_none=True)
    for entry in needling["radiofrequency"]["depths"]:
        if entry["areas"] == ["cheeks"]:
            entry["depth_mm"] = 1.5
    needling["radiofrequency"]["areas"].append("back")
    with pytest.raises(KnowledgeError) as error:
        load_knowledge([write_layer(tmp_path / "needling", needling=needling)])
    assert "radiofrequency.depths.cheeks: 1 may not become 1.5" in str(error.value)
    assert "radiofrequency.areas: adds back" in str(error.value)
