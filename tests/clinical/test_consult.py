"""What the engine guarantees a practitioner, one behaviour per test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dermaplan.clinical.assessment import parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import Decision, FindingSeverity, Plan, plan_adapter, plan_json
from dermaplan.documents import read_yaml_file
from dermaplan.knowledge import KnowledgeBase, load_knowledge
from dermaplan.knowledge.schema import Modality
from tests.conftest import EXAMPLES, write_layer

MN, MESO, COMBINED = Modality.MICRONEEDLING, Modality.MESOTHERAPY, Modality.COMBINED
PlanFor = Callable[..., Plan]


def concerns(*items: tuple[str, list[str], str]) -> list[dict[str, Any]]:
    return [{"concern": c, "areas": a, "severity": s} for c, a, s in items]


def products_in(plan: Plan) -> set[str]:
    assert plan.mesotherapy is not None
    return {p for prep in plan.mesotherapy.preparations for p in prep.products}


def test_a_healthy_patient_with_acne_scars_gets_microneedling_recommended(
    plan_for: PlanFor,
) -> None:
    plan = plan_for()
    assert plan.decision(MN).decision is Decision.RECOMMENDED
    assert plan.decision(MESO).decision is Decision.NOT_INDICATED
    assert plan.microneedling is not None
    assert plan.missing == ()
    # platelet-rich plasma onto the needled scars is the other option, at the needling's pace
    assert plan.decision(COMBINED).decision is Decision.SUITABLE
    assert plan.combined is not None
    assert plan.combined.open_skin_products == ("prp_needled_skin",)
    assert [c.modality for c in plan.courses] == [MN, COMBINED]


def test_pregnancy_contraindicates_needling_whatever_else_fits(plan_for: PlanFor) -> None:
    plan = plan_for(lambda d: d["patient"].update(pregnant=True))
    for modality in (MN, COMBINED):
        assert plan.decision(modality).decision in (
            Decision.CONTRAINDICATED,
            Decision.NOT_INDICATED,
        )
    assert plan.decision(MN).decision is Decision.CONTRAINDICATED
    assert plan.microneedling is None
    assert all(c.modality is not MN for c in plan.courses)
    assert any(f.severity is FindingSeverity.ABSOLUTE and MN in f.modalities for f in plan.findings)


def test_unknown_pregnancy_is_missing_not_no(plan_for: PlanFor) -> None:
    plan = plan_for(lambda d: d["patient"].pop("pregnant"))
    assert plan.decision(MN).decision is not Decision.RECOMMENDED
    missing = [f for f in plan.findings if f.severity is FindingSeverity.MISSING]
    assert any("patient.pregnant" in f.because for f in missing)
    assert plan.missing


def test_unanswered_medications_block_recommended(plan_for: PlanFor) -> None:
    plan = plan_for(lambda d: d.update(medications={}))
    assert all(d.decision is not Decision.RECOMMENDED for d in plan.decisions)
    assert any("isotretinoin" in q.lower() for q in plan.missing)


def test_recent_isotretinoin_defers_needling_until_the_policy_wait_is_over(
    kb: KnowledgeBase, plan_for: PlanFor
) -> None:
    last = dt.date(2026, 10, 2)
    plan = plan_for(
        lambda d: d["medications"].update(
            isotretinoin={"status": "stopped", "last_taken": last.isoformat()}
        )
    )
    decision = plan.decision(MN)
    assert decision.decision is Decision.DEFERRED
    wait = kb.policy("isotretinoin_wait_days")
    assert decision.until == last + dt.timedelta(days=int(wait))
    assert plan.policies["isotretinoin_wait_days"] == wait


def test_isotretinoin_stopped_beyond_the_wait_does_not_defer(plan_for: PlanFor) -> None:
    plan = plan_for(
        lambda d: d["medications"].update(
            isotretinoin={"status": "stopped", "last_taken": "2026-04-01"}
        )
    )
    assert plan.decision(MN).decision is Decision.RECOMMENDED


def test_a_clinic_policy_changes_the_wait_and_the_plan_records_it(
    tmp_path: Path, plan_for: PlanFor
) -> None:
    layer = write_layer(
        tmp_path / "clinic", policies=[{"id": "isotretinoin_wait_days", "value": 30}]
    )
    clinic = load_knowledge([layer])
    plan = plan_for(
        lambda d: d["medications"].update(
            isotretinoin={"status": "stopped", "last_taken": "2026-10-02"}
        ),
        knowledge=clinic,
    )
    assert plan.decision(MN).decision is Decision.RECOMMENDED
    assert plan.policies["isotretinoin_wait_days"] == 30


def test_current_isotretinoin_contraindicates_microneedling(plan_for: PlanFor) -> None:
    plan = plan_for(lambda d: d["medications"].update(isotretinoin={"status": "current"}))
    assert plan.decision(MN).decision is Decision.CONTRAINDICATED


def test_deoxycholic_acid_is_given_alone_within_its_label(
    plan_for: PlanFor, kb: KnowledgeBase
) -> None:
    plan = plan_for(concerns=concerns(("localized_fat", ["submental"], "moderate")))
    assert plan.mesotherapy is not None
    dc = [p for p in plan.mesotherapy.preparations if "deoxycholic_acid" in p.ingredients]
    assert len(dc) == 1
    assert not dc[0].mixed
    assert len(dc[0].products) == 1
    assert dc[0].volume_per_point_ml == pytest.approx(0.2)
    assert dc[0].max_points_per_session == 50
    assert dc[0].max_volume_per_session_ml == pytest.approx(10)
    course = next(c for c in plan.courses if c.modality is MESO)
    assert course.sessions <= 6
    assert all((b - a).days >= 28 for a, b in zip(course.dates, course.dates[1:], strict=False))


def test_deoxycholic_acid_never_joins_a_mixture_even_with_pain_relief(plan_for: PlanFor) -> None:
    plan = plan_for(
        lambda d: d["goals"].update(pain_tolerance="low"),
        concerns=concerns(
            ("localized_fat", ["submental"], "moderate"), ("dullness", ["cheeks"], "mild")
        ),
    )
    assert plan.mesotherapy is not None
    for prep in plan.mesotherapy.preparations:
        if "deoxycholic_acid" in prep.ingredients:
            assert prep.ingredients == ("deoxycholic_acid",)
            assert not prep.mixed


def test_deoxycholic_acid_is_not_proposed_off_label_above_the_neck(plan_for: PlanFor) -> None:
    plan = plan_for(concerns=concerns(("localized_fat", ["jawline"], "moderate")))
    if plan.mesotherapy is not None:
        assert all("deoxycholic_acid" not in p.ingredients for p in plan.mesotherapy.preparations)
    assert plan.decision(MESO).decision is Decision.NOT_INDICATED


def test_a_local_anaesthetic_is_never_mixed_into_a_lipolytic(
    tmp_path: Path, plan_for: PlanFor
) -> None:
    layer = write_layer(
        tmp_path / "clinic", policies=[{"id": "allow_unapproved_lipolytics", "value": 1}]
    )
    plan = plan_for(
        lambda d: d["goals"].update(pain_tolerance="low"),
        concerns=concerns(("localized_fat", ["abdomen"], "moderate")),
        knowledge=load_knowledge([layer]),
    )
    assert plan.mesotherapy is not None
    lipolytic = [p for p in plan.mesotherapy.preparations if "phosphatidylcholine" in p.ingredients]
    assert lipolytic, "the clinic allowed the lipolytic, so it is proposed"
    assert all("lidocaine" not in p.ingredients for p in lipolytic)
    assert any(e.item == "lidocaine_additive" for e in plan.mesotherapy.excluded)


def test_unapproved_lipolytics_are_off_by_default(plan_for: PlanFor) -> None:
    plan = plan_for(concerns=concerns(("localized_fat", ["abdomen"], "moderate")))
    assert plan.decision(MESO).decision is Decision.NOT_INDICATED


def test_soy_allergy_removes_phosphatidylcholine(tmp_path: Path, plan_for: PlanFor) -> None:
    layer = write_layer(
        tmp_path / "clinic", policies=[{"id": "allow_unapproved_lipolytics", "value": 1}]
    )
    plan = plan_for(
        allergies=["soy"],
        concerns=concerns(("localized_fat", ["abdomen"], "moderate")),
        knowledge=load_knowledge([layer]),
    )
    # the only product that would treat is removed by an absolute rule: contraindicated
    assert plan.decision(MESO).decision is Decision.CONTRAINDICATED
    assert plan.mesotherapy is None or not any(
        "phosphatidylcholine" in p.ingredients for p in plan.mesotherapy.preparations
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["conditions"].update(thrombosis_history=True),
        lambda d: d["medications"].update(combined_hormonal_contraception={"status": "current"}),
        lambda d: d["medications"].update(anticoagulant={"status": "current"}),
    ],
)
def test_tranexamic_acid_is_excluded_for_thrombotic_risk(plan_for: PlanFor, change: Any) -> None:
    plan = plan_for(change, concerns=concerns(("melasma", ["cheeks"], "moderate")))
    if plan.mesotherapy is not None:
        assert all("tranexamic_acid" not in p.ingredients for p in plan.mesotherapy.preparations)
    assert any("tranexamic_acid" in f.ingredients for f in plan.findings)


def test_tranexamic_acid_is_proposed_for_melasma_when_safe(plan_for: PlanFor) -> None:
    plan = plan_for(concerns=concerns(("melasma", ["cheeks"], "moderate")))
    assert plan.mesotherapy is not None
    assert any("tranexamic_acid" in p.ingredients for p in plan.mesotherapy.preparations)


def test_tranexamic_acid_is_held_back_while_thrombosis_history_is_unknown(
    plan_for: PlanFor,
) -> None:
    plan = plan_for(
        lambda d: d["conditions"].pop("thrombosis_history"),
        concerns=concerns(("melasma", ["cheeks"], "moderate")),
    )
    if plan.mesotherapy is not None:
        assert all("tranexamic_acid" not in p.ingredients for p in plan.mesotherapy.preparations)
    assert any(
        f.severity is FindingSeverity.MISSING and "tranexamic_acid" in f.ingredients
        for f in plan.findings
    )


def _layer_with(tmp_path: Path, ingredient: str, concern: str) -> KnowledgeBase:
    product = {
        "id": f"{ingredient}_clinic_mix",
        "name": f"Clinic {ingredient} mix",
        "components": [{"ingredient": ingredient, "amount": 1, "unit": "%"}],
        "concerns": [{"concern": concern, "sources": ["kybella_pi"], "evidence": "expert_opinion"}],
        "route": "intradermal",
        "technique": "micro-papules",
        "depth": "mid-dermis",
        "volume_per_point_ml": 0.05,
        "mixable": True,
        "regulatory": "compounded",
        "regulatory_note": "clinic preparation",
        "sources": ["kybella_pi"],
        "evidence": "expert_opinion",
    }
    return load_knowledge([write_layer(tmp_path / "clinic", products=[product])])


def test_glutathione_is_not_proposed_for_lightening(tmp_path: Path, plan_for: PlanFor) -> None:
    clinic = _layer_with(tmp_path, "glutathione", "hyperpigmentation")
    plan = plan_for(
        concerns=concerns(("hyperpigmentation", ["cheeks"], "moderate")), knowledge=clinic
    )
    assert plan.mesotherapy is not None
    assert "glutathione_clinic_mix" not in products_in(plan)
    assert any(
        e.item == "glutathione_clinic_mix" and "regulator warning" in e.reason
        for e in plan.mesotherapy.excluded
    )


def test_an_ingredient_shown_not_to_help_is_not_proposed(tmp_path: Path, plan_for: PlanFor) -> None:
    clinic = _layer_with(tmp_path, "multivitamin", "fine_lines")
    plan = plan_for(concerns=concerns(("fine_lines", ["cheeks"], "mild")), knowledge=clinic)
    if plan.mesotherapy is not None:
        assert "multivitamin_clinic_mix" not in products_in(plan)
        assert any(
            e.item == "multivitamin_clinic_mix" and "no benefit" in e.reason
            for e in plan.mesotherapy.excluded
        )


def test_needling_depth_is_capped_by_the_area(plan_for: PlanFor, kb: KnowledgeBase) -> None:
    plan = plan_for(concerns=concerns(("acne_scars", ["forehead", "cheeks"], "severe")))
    assert plan.microneedling is not None
    by_area = {a.area: a for a in plan.microneedling.areas}
    cap = kb.areas["forehead"].depth_cap("acne_scars")
    assert cap is not None
    assert by_area["forehead"].depth_mm == cap.max_mm
    assert any("caps" in note for note in by_area["forehead"].notes)
    depth = by_area["cheeks"].depth_mm
    assert depth is not None
    assert depth > cap.max_mm


def test_every_needling_depth_stays_within_the_area_limit(
    plan_for: PlanFor, kb: KnowledgeBase
) -> None:
    plan = plan_for(
        concerns=concerns(("scars", sorted(kb.concerns["scars"].occurs_on.areas), "severe"))
    )
    assert plan.microneedling is not None
    for area in plan.microneedling.areas:
        cap = kb.areas[area.area].depth_cap("scars")
        if cap is not None:
            assert area.depth_mm is not None
            assert area.depth_mm <= cap.max_mm
        else:
            assert area.depth_mm is None
            assert any("practitioner decides" in n for n in area.notes)


def test_amide_allergy_changes_the_anaesthetic(plan_for: PlanFor) -> None:
    plan = plan_for(allergies=["amide_anaesthetic"])
    assert plan.microneedling is not None
    assert plan.microneedling.anaesthesia.option is None or "lidocaine" not in (
        plan.microneedling.anaesthesia.option or ""
    )
    assert "lidocaine" not in plan.microneedling.anaesthesia.text.split(":")[0]


def test_combined_puts_only_sterile_open_skin_products_on_needled_skin(
    plan_for: PlanFor, kb: KnowledgeBase
) -> None:
    plan = plan_for(
        concerns=concerns(
            ("acne_scars", ["cheeks"], "moderate"),
            ("dehydration", ["cheeks", "forehead"], "moderate"),
            ("dullness", ["cheeks"], "moderate"),
        )
    )
    assert plan.decision(COMBINED).decision is Decision.RECOMMENDED
    assert plan.combined is not None
    assert plan.combined.open_skin_products
    for product in plan.combined.open_skin_products:
        assert kb.products[product].open_skin


def test_the_course_keeps_clear_of_the_event(plan_for: PlanFor, kb: KnowledgeBase) -> None:
    event = dt.date(2027, 1, 20)
    plan = plan_for(lambda d: d["goals"].update(event_date=event.isoformat()))
    course = next(c for c in plan.courses if c.modality is MN)
    margin = max(kb.policy("event_buffer_days"), kb.modalities[MN].downtime_days.max)
    assert len(course.dates) == course.sessions
    assert not any(0 <= (event - d).days < margin for d in course.dates)
    assert any(d > event for d in course.dates), "the sessions too close resume after it"
    assert all(b > a for a, b in zip(course.dates, course.dates[1:], strict=False))


def test_the_course_respects_the_sessions_the_patient_accepts(plan_for: PlanFor) -> None:
    plan = plan_for(lambda d: d["goals"].update(max_sessions=1))
    course = next(c for c in plan.courses if c.modality is MN)
    assert course.sessions == 1
    assert len(course.dates) == 1
    assert any("accepts 1" in n for n in course.notes)


def test_too_little_accepted_downtime_stops_recommended(plan_for: PlanFor) -> None:
    plan = plan_for(lambda d: d["goals"].update(downtime_days=0))
    assert plan.decision(MN).decision is Decision.SUITABLE
    assert any("downtime" in r.text for r in plan.decision(MN).reasons)


def test_same_input_same_bytes(plan_for: PlanFor) -> None:
    first = plan_json(plan_for(lambda d: d["goals"].update(event_date="2027-05-01")))
    second = plan_json(plan_for(lambda d: d["goals"].update(event_date="2027-05-01")))
    assert first == second


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_a_plan_is_written_as_its_schema_would_write_it(example: Path, kb: KnowledgeBase) -> None:
    plan = consult(parse_assessment(read_yaml_file(example), kb), kb)
    assert plan_json(plan) == plan_adapter().dump_json(plan, indent=2).decode() + "\n"


def test_every_source_cited_in_the_plan_is_in_its_references(plan_for: PlanFor) -> None:
    plan = plan_for(
        concerns=concerns(("acne_scars", ["cheeks"], "moderate"), ("melasma", ["cheeks"], "mild"))
    )
    cited = {c.id for c in plan.references}
    for finding in plan.findings:
        assert set(finding.sources) <= cited
    for decision in plan.decisions:
        for reason in decision.reasons:
            assert set(reason.sources) <= cited
