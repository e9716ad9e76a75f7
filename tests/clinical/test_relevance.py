"""Which screening questions a consult needs: every question whose answer could change the
plan for the concerns chosen is asked; the others cannot change it, whatever their answer."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dermaplan.clinical.assessment import AssessmentError, ConcernEntry, parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import plan_json
from dermaplan.clinical.relevance import Questions, questions_for
from dermaplan.knowledge import KnowledgeBase, load_knowledge
from tests.conftest import healthy

KB = load_knowledge()
CONSULT = dt.date(2026, 12, 1)
SCAR_KINDS = [scar.id for scar in KB.needling.scar_types]
tri = st.sampled_from([True, False, None])


@st.composite
def consults(draw: st.DrawFn) -> dict[str, Any]:
    """A patient with any answers to every question, and one to four concerns."""
    vocabulary = KB.vocabulary
    concerns = []
    for concern in draw(
        st.lists(st.sampled_from(sorted(KB.concerns)), min_size=1, max_size=3, unique=True)
    ):
        where = KB.concerns[concern].occurs_on.areas
        entry: dict[str, Any] = {
            "concern": concern,
            "areas": draw(st.lists(st.sampled_from(where), min_size=1, max_size=3, unique=True)),
            "severity": draw(st.sampled_from(["mild", "moderate", "severe"])),
        }
        if KB.concerns[concern].scar_kinds:
            entry["scar_types"] = draw(st.lists(st.sampled_from(SCAR_KINDS), max_size=2))
        concerns.append(entry)
    sex = draw(st.sampled_from(["female", "male", None]))
    patient: dict[str, Any] = {"age": draw(st.integers(16, 80)), "sex": sex}
    if sex != "male":
        patient["pregnant"] = draw(tri)
        patient["breastfeeding"] = draw(tri)
    medications = {
        m: {"status": draw(st.sampled_from(["current", "never", None]))}
        for m in vocabulary["medications"]
    }
    return {
        "consult_date": CONSULT.isoformat(),
        "patient": patient,
        "conditions": {c: draw(tri) for c in vocabulary["conditions"]},
        "medications": medications,
        "allergies": draw(
            st.none() | st.lists(st.sampled_from(vocabulary["allergens"]), unique=True, max_size=2)
        ),
        "procedures": draw(
            st.none()
            | st.lists(
                st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(vocabulary["procedures"]),
                        "date": st.integers(0, 400).map(
                            lambda n: (CONSULT - dt.timedelta(days=n)).isoformat()
                        ),
                        "areas": st.lists(st.sampled_from(sorted(KB.areas)), max_size=2),
                    }
                ),
                max_size=2,
            )
        ),
        "concerns": concerns,
        "goals": draw(
            st.fixed_dictionaries(
                {}, optional={"pain_tolerance": st.sampled_from(["low", "medium", "high"])}
            )
        ),
    }


def asked(kb: KnowledgeBase, data: dict[str, Any]) -> Questions:
    return questions_for(kb, [ConcernEntry.model_validate(c) for c in data["concerns"]])


def unasked_variants(kb: KnowledgeBase, data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The assessment with one unasked question given each of its possible answers."""
    needed = asked(kb, data)
    stopped = {"status": "stopped", "last_taken": (CONSULT - dt.timedelta(days=20)).isoformat()}

    def varied(section: str, key: str, value: Any) -> dict[str, Any]:
        changed = copy.deepcopy(data)
        if key:
            changed[section][key] = value
        else:
            changed[section] = value
        return changed

    for condition in kb.vocabulary["conditions"]:
        if condition not in needed.conditions:
            for answer in (True, False, None):
                yield varied("conditions", condition, answer)
    for medication in kb.vocabulary["medications"]:
        if medication not in needed.medications:
            for use in ({"status": "current"}, {"status": "never"}, {"status": None}, stopped):
                yield varied("medications", medication, use)
    for attribute, answers in (
        ("pregnant", (True, False, None)),
        ("breastfeeding", (True, False, None)),
        ("fitzpatrick", (1, 6, None)),
        ("glogau", (1, 4, None)),
    ):
        if attribute not in needed.patient:
            for answer in answers:
                yield varied("patient", attribute, answer)
    if not needed.allergies:
        for allergies in (None, [], kb.vocabulary["allergens"]):
            yield varied("allergies", "", allergies)
    if not needed.procedures:
        everything = [
            {"type": kind, "date": (CONSULT - dt.timedelta(days=3)).isoformat(), "areas": []}
            for kind in kb.vocabulary["procedures"]
        ]
        for procedures in (None, [], everything):
            yield varied("procedures", "", procedures)


def plan_text(kb: KnowledgeBase, data: dict[str, Any]) -> str | None:
    try:
        return plan_json(consult(parse_assessment(data, kb), kb))
    except AssessmentError:
        return None  # an answer the concerns contradict (a keloid to treat, no keloid history)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(consults())
def test_no_unasked_question_can_change_the_plan(data: dict[str, Any]) -> None:
    """Every question whose answer could change the plan for the chosen concerns is asked:
    whatever the answer to any other, the plan is the same, byte for byte."""
    base = plan_text(KB, data)
    if base is None:
        return
    for variant in unasked_variants(KB, data):
        changed = plan_text(KB, variant)
        assert changed is None or changed == base


def test_a_question_that_bears_is_asked_and_changes_the_plan(kb: KnowledgeBase) -> None:
    """The comparison above can fail: a clotting tendency changes a melasma plan (it rules
    out tranexamic acid), so it is asked there - and not for acne scars."""
    data = healthy(kb)
    data["concerns"] = [{"concern": "melasma", "areas": ["cheeks"], "severity": "moderate"}]
    assert "thrombophilia" in asked(kb, data).conditions
    clotting = copy.deepcopy(data)
    clotting["conditions"]["thrombophilia"] = True
    assert plan_text(kb, clotting) != plan_text(kb, data)
    data["concerns"] = [{"concern": "acne_scars", "areas": ["cheeks"], "severity": "moderate"}]
    assert "thrombophilia" not in asked(kb, data).conditions


def test_the_questions_follow_the_areas(kb: KnowledgeBase) -> None:
    """Submental fat brings the deoxycholic acid questions; the cheeks do not; and a keloid
    among the scars answers the keloid question already."""

    def needed(*entries: dict[str, Any]) -> Questions:
        return questions_for(kb, [ConcernEntry.model_validate(e) for e in entries])

    submental = needed({"concern": "localized_fat", "areas": ["submental"], "severity": "severe"})
    assert {"dysphagia", "submental_surgery_history"} <= set(submental.conditions)
    face = needed({"concern": "dehydration", "areas": ["cheeks"], "severity": "mild"})
    assert "dysphagia" not in face.conditions
    assert "fitzpatrick" not in face.patient  # only needling reads the skin type
    keloid = needed(
        {"concern": "scars", "areas": ["arms"], "severity": "mild", "scar_types": ["keloid"]}
    )
    assert "keloid_history" not in keloid.conditions
