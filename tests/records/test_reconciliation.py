"""A patient's record and the assessment of a consult stored for them: the record fills only
what is unknown and cannot hide a risk; any disagreement refuses the consult."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dermaplan.clinical.assessment import Assessment, Sex, parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import Decision
from dermaplan.knowledge import KnowledgeBase, load_knowledge
from dermaplan.knowledge.schema import Modality
from dermaplan.records.errors import RecordDisagrees
from dermaplan.records.reconciliation import (
    EarlierSession,
    plan_allergy_problems,
    plan_for_patient,
    reconcile,
    recorded_procedures,
)
from tests.conftest import EXAMPLES, healthy
from tests.records.factories import patient_data

CONSULT_DAY = dt.date(2026, 12, 1)
KNOWLEDGE = load_knowledge()


def example(name: str) -> Assessment:
    text = (EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8")
    return parse_assessment(yaml.safe_load(text), KNOWLEDGE)


def unknown_patient(data: dict[str, Any]) -> None:
    data["patient"] = {"fitzpatrick": 2}


def test_the_record_fills_age_sex_and_conditions_it_has(
    patient: Callable[..., Assessment], kb: KnowledgeBase
) -> None:
    def unasked(data: dict[str, Any]) -> None:
        unknown_patient(data)
        del data["conditions"]["keloid_history"]
        del data["conditions"]["herpes_labialis_history"]

    record = patient_data(
        birth_date=dt.date(1988, 4, 12),
        sex="female",
        history={"keloid_history": True, "herpes_labialis_history": False, "last_peel": "x"},
    )
    reconciled = reconcile(patient(unasked), record, kb)
    assert reconciled.filled == [
        "patient.age: 38 (born 1988-04-12)",
        "patient.sex: female",
        "conditions.keloid_history: true (the patient's record)",
    ]
    result = reconciled.assessment
    assert (result.patient.age, result.patient.sex, result.patient.fitzpatrick) == (
        38,
        Sex.FEMALE,
        2,
    )
    assert result.conditions["keloid_history"] is True
    # The record's "no" answers nothing: the question stays open for the consult.
    assert "herpes_labialis_history" not in result.conditions


def test_a_record_that_says_no_leaves_unknown_unknown(
    patient: Callable[..., Assessment], kb: KnowledgeBase
) -> None:
    assessment = patient(allergies=None)
    reconciled = reconcile(assessment, patient_data(allergies=[]), kb)
    assert reconciled.assessment.allergies is None
    assert reconciled.filled == []


def test_every_disagreement_is_listed_and_refuses(
    patient: Callable[..., Assessment], kb: KnowledgeBase
) -> None:
    def denies(data: dict[str, Any]) -> None:
        data["conditions"]["keloid_history"] = False

    record = patient_data(
        birth_date=dt.date(1990, 1, 1),
        sex="male",
        allergies=["Lidocaine", "EMLA cream", "nickel", "penicillin"],
        history={"keloid_history": True},
    )
    with pytest.raises(RecordDisagrees) as refused:
        reconcile(patient(denies, allergies=["nickel"]), record, kb)
    assert refused.value.problems == [
        "patient.age: 34, but the patient's record gives 36 on 2026-12-01 (born 1990-01-01)",
        "patient.sex: female, but the patient's record says male",
        "conditions.keloid_history: false, but the patient's record says the patient has it",
        "allergies: the patient's record lists 'lidocaine', 'emla cream' "
        "(amide_anaesthetic), which the assessment leaves out",
    ]
    assert "patients update" in (refused.value.hint or "")
    with pytest.raises(RecordDisagrees) as unasked:
        reconcile(patient(allergies=None), patient_data(allergies=["soya protein"]), kb)
    assert unasked.value.problems == [
        "allergies: not asked, but the patient's record lists 'soya protein' (soy)"
    ]


def test_a_recorded_allergy_in_the_assessment_gives_a_plan_without_it(
    patient: Callable[..., Assessment], kb: KnowledgeBase
) -> None:
    record = patient_data(allergies=["lidocaine"])
    planned = plan_for_patient(patient(allergies=["amide_anaesthetic"]), record, kb)
    assert planned.plan.microneedling is not None
    assert planned.plan.microneedling.anaesthesia.option is None
    assert '"amide_anaesthetic"' in planned.document.assessment_json


def test_a_plan_carrying_an_ingredient_on_the_record_is_refused(kb: KnowledgeBase) -> None:
    ageing = example("04-skin-ageing-combined")
    with pytest.raises(RecordDisagrees) as refused:
        plan_for_patient(ageing, patient_data(allergies=["polynucleotides"]), kb)
    assert refused.value.problems == [
        "mesotherapy.preparations[1]: polynucleotide_booster contains what the patient's "
        "record lists as an allergy: polynucleotides"
    ]
    scars = consult(example("01-acne-scars-dehydration"), kb)
    assert plan_allergy_problems(scars, ["lidocaine"], kb) == [
        "microneedling.anaesthesia: lidocaine_4_cream contains what the patient's record "
        "lists as an allergy: lidocaine",
        "combined.anaesthesia: lidocaine_4_cream contains what the patient's record lists "
        "as an allergy: lidocaine",
    ]
    assert plan_allergy_problems(scars, None, kb) == []


ALLERGY_WORDS = sorted({word for words in KNOWLEDGE.allergen_terms.values() for word in words})
CONDITIONS = KNOWLEDGE.vocabulary["conditions"]
# what only a patient who is not male can have: never answered true for a man
FEMALE_ONLY = {item.id for item in KNOWLEDGE.screening.conditions if item.female_only}


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if draw(st.booleans()):
        fields["birth_date"] = draw(st.dates(dt.date(1930, 1, 1), CONSULT_DAY))
    if draw(st.booleans()):
        fields["sex"] = draw(st.sampled_from([s.value for s in Sex]))
    if draw(st.booleans()):
        words = st.sampled_from(ALLERGY_WORDS) | st.sampled_from(["penicillin", "latex"])
        fields["allergies"] = draw(st.lists(words, max_size=4))
    fields["history"] = draw(
        st.dictionaries(st.sampled_from(CONDITIONS), st.booleans(), max_size=6)
    )
    return fields


@st.composite
def assessments(draw: st.DrawFn) -> dict[str, Any]:
    """A healthy patient with some answers left unknown and some turned around."""
    patient: dict[str, Any] = {}
    if draw(st.booleans()):
        patient["age"] = draw(st.integers(18, 90))
    if draw(st.booleans()):
        patient["sex"] = draw(st.sampled_from([s.value for s in Sex]))
    possible = [c for c in CONDITIONS if not (patient.get("sex") == "male" and c in FEMALE_ONLY)]
    conditions = {
        condition: draw(st.sampled_from([None, False, True]))
        for condition in draw(st.lists(st.sampled_from(possible), max_size=8, unique=True))
    }
    allergies = draw(st.none() | st.lists(st.sampled_from(KNOWLEDGE.vocabulary["allergens"])))
    return {"patient": patient, "conditions": conditions, "allergies": allergies}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records(), answers=assessments())
def test_the_record_never_changes_an_answer_nor_lets_a_recorded_allergen_through(
    record: dict[str, Any], answers: dict[str, Any]
) -> None:
    data = healthy(KNOWLEDGE) | {"allergies": answers["allergies"]}
    data["patient"] = answers["patient"]
    data["conditions"] = {
        key: value
        for key, value in (data["conditions"] | answers["conditions"]).items()
        if value is not None
    }
    original = parse_assessment(data, KNOWLEDGE)
    stored = patient_data(**record)
    problems: list[str] = []
    try:
        result = reconcile(original, stored, KNOWLEDGE).assessment
    except RecordDisagrees as refused:
        problems = refused.problems
    if problems:
        fields = {problem.split(":")[0].split(".")[0] for problem in problems}
        assert fields <= {"patient", "conditions", "allergies"}
        return
    for name, value in original.patient:
        if value is not None:
            assert getattr(result.patient, name) == value
    for condition, answer in original.conditions.items():
        assert result.conditions[condition] is answer
    for condition, answer in result.conditions.items():
        assert answer is original.conditions.get(condition) or (
            answer is True and stored.history.get(condition) is True
        )
    assert result.allergies == original.allergies
    recorded = {
        allergen
        for allergen, words in KNOWLEDGE.allergen_terms.items()
        if words & set(stored.allergies or ())
    }
    assert recorded <= set(result.allergies or ())
    assert (result.concerns, result.medications) == (original.concerns, original.medications)


def _dc_sessions(count: int) -> list[EarlierSession]:
    return [
        EarlierSession(
            dt.date(2026, 4 + i, 5),
            Modality.MESOTHERAPY,
            ("deoxycholic_acid_10mg_ml",),
            ("submental",),
        )
        for i in range(count)
    ]


def test_the_records_sessions_count_against_a_labels_total(kb: KnowledgeBase) -> None:
    data = yaml.safe_load((EXAMPLES / "09-submental-fat-deoxycholic.yaml").read_text())
    assessment = parse_assessment(data, kb)
    planned = plan_for_patient(assessment, patient_data(sex="male"), kb, _dc_sessions(6))
    assert planned.plan.decision(Modality.MESOTHERAPY).decision is Decision.CONTRAINDICATED
    assert len(planned.filled) == 6
    assert planned.filled[0] == (
        "procedures: deoxycholic_acid on 2026-04-05 (submental), from the patient's record"
    )
    stored = planned.document.assessment_json
    assert stored.count('"deoxycholic_acid"') >= 6  # the stored assessment is the completed one
    course = next(
        c for c in plan_for_patient(assessment, patient_data(), kb, _dc_sessions(4)).plan.courses
    )
    assert course.sessions == 2


def test_recorded_sessions_never_stand_in_for_procedures_not_asked(kb: KnowledgeBase) -> None:
    data = yaml.safe_load((EXAMPLES / "09-submental-fat-deoxycholic.yaml").read_text())
    data["procedures"] = None
    reconciled = reconcile(parse_assessment(data, kb), patient_data(), kb, _dc_sessions(2))
    assert reconciled.assessment.procedures is None
    assert reconciled.filled == [
        "procedures: not asked, and the patient's record holds 2 earlier one(s) - ask which "
        "procedures the patient has had"
    ]


def test_a_combined_session_is_microneedling_and_future_sessions_do_not_count(
    kb: KnowledgeBase,
) -> None:
    history = [
        EarlierSession(dt.date(2026, 11, 20), Modality.COMBINED, ("ha_skin_booster",), ("cheeks",)),
        EarlierSession(dt.date(2026, 12, 20), Modality.MICRONEEDLING, (), ("cheeks",)),
        EarlierSession(dt.date(2026, 11, 1), Modality.MESOTHERAPY, ("a clinic serum",), ("neck",)),
    ]
    found = recorded_procedures(history, kb, dt.date(2026, 12, 1))
    assert [(p.type, p.date, p.areas) for p in found] == [
        ("microneedling", dt.date(2026, 11, 20), ["cheeks"])
    ]
