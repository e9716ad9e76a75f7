"""Property tests: random assessments never crash the engine, and the guarantees hold."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dermaplan.clinical.assessment import AssessmentError, parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import PROCEED, Decision, FindingSeverity, plan_json
from dermaplan.knowledge import KnowledgeBase, load_knowledge

KB = load_knowledge()
CONSULT = dt.date(2026, 12, 1)
tri = st.sampled_from([True, False, None])
dates_before = st.integers(0, 900).map(lambda n: (CONSULT - dt.timedelta(days=n)).isoformat())
areas = st.lists(st.sampled_from(sorted(KB.areas)), min_size=1, max_size=4, unique=True)


@st.composite
def assessments(draw: st.DrawFn) -> dict[str, Any]:
    vocabulary = KB.vocabulary
    medications = {}
    for medication in draw(st.lists(st.sampled_from(vocabulary["medications"]), unique=True)):
        status = draw(st.sampled_from(["current", "stopped", "never", None]))
        use: dict[str, Any] = {"status": status}
        if status == "stopped":
            use["last_taken"] = draw(st.none() | dates_before)
        medications[medication] = use
    concerns = []
    seen: set[tuple[str, str]] = set()
    for concern in draw(
        st.lists(st.sampled_from(sorted(KB.concerns)), min_size=1, max_size=4, unique=True)
    ):
        chosen = [a for a in draw(areas) if (concern, a) not in seen]
        if not chosen:
            continue
        seen.update((concern, a) for a in chosen)
        concerns.append(
            {
                "concern": concern,
                "areas": chosen,
                "severity": draw(st.sampled_from(["mild", "moderate", "severe"])),
            }
        )
    sex = draw(st.sampled_from(["female", "male", "intersex", None]))
    patient: dict[str, Any] = {
        "age": draw(st.none() | st.integers(0, 120)),
        "sex": sex,
        "fitzpatrick": draw(st.none() | st.integers(1, 6)),
        "glogau": draw(st.none() | st.integers(1, 4)),
    }
    if sex != "male":
        patient["pregnant"] = draw(tri)
        patient["breastfeeding"] = draw(tri)
    return {
        "consult_date": CONSULT.isoformat(),
        "patient": patient,
        "conditions": draw(st.dictionaries(st.sampled_from(vocabulary["conditions"]), tri)),
        "medications": medications,
        "allergies": draw(
            st.none() | st.lists(st.sampled_from(vocabulary["allergens"]), unique=True, max_size=3)
        ),
        "procedures": draw(
            st.none()
            | st.lists(
                st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(vocabulary["procedures"]),
                        "date": dates_before,
                        "areas": st.lists(
                            st.sampled_from(sorted(KB.areas)), max_size=2, unique=True
                        ),
                    }
                ),
                max_size=3,
            )
        ),
        "concerns": concerns
        or [{"concern": "fine_lines", "areas": ["cheeks"], "severity": "mild"}],
        "goals": draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "downtime_days": st.integers(0, 14),
                    "pain_tolerance": st.sampled_from(["low", "medium", "high"]),
                    "max_sessions": st.integers(1, 10),
                    "event_date": st.integers(0, 400).map(
                        lambda n: (CONSULT + dt.timedelta(days=n)).isoformat()
                    ),
                },
            )
        ),
    }


def _check_guarantees(kb: KnowledgeBase, data: dict[str, Any]) -> None:
    plan = consult(parse_assessment(data, kb), kb)
    for decision in plan.decisions:
        own = [f for f in plan.findings if decision.modality in f.modalities and not f.ingredients]
        absolute = [f for f in own if f.severity is FindingSeverity.ABSOLUTE]
        if absolute:
            assert decision.decision not in PROCEED, (decision, absolute)
        if any(f.severity is FindingSeverity.MISSING for f in own):
            assert decision.decision is not Decision.RECOMMENDED
    assert sum(d.decision is Decision.RECOMMENDED for d in plan.decisions) <= 1
    if plan.mesotherapy is not None:
        for prep in plan.mesotherapy.preparations:
            for ingredient in prep.ingredients:
                if kb.ingredients[ingredient].no_mixing:
                    assert not prep.mixed
                assert not set(data["allergies"] or ()) & set(kb.ingredients[ingredient].allergens)
            if prep.max_volume_per_session_ml is not None and prep.volume_ml is not None:
                assert prep.volume_ml <= prep.max_volume_per_session_ml + 1e-9
    for protocol in (plan.microneedling, plan.combined):
        if protocol is None:
            continue
        for area in protocol.areas:
            limit = kb.areas[area.area].needling_max_depth_mm
            assert limit is None or area.depth_mm <= limit
        assert all(kb.products[p].open_skin for p in protocol.open_skin_products)
    for course in plan.courses:
        assert list(course.dates) == sorted(course.dates)
    assert plan_json(plan) == plan_json(consult(parse_assessment(data, kb), kb))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assessments())
def test_random_assessments_keep_every_guarantee(data: dict[str, Any]) -> None:
    _check_guarantees(KB, data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200) | st.text(max_size=12) | st.dates().map(str),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "consult_date",
                "patient",
                "conditions",
                "medications",
                "allergies",
                "procedures",
                "concerns",
                "goals",
                "x",
            ]
        ),
        json_values,
    )
)
def test_any_document_is_parsed_or_refused_with_located_problems(data: dict[str, Any]) -> None:
    problems = _problems(data)
    assert all(isinstance(p, str) and ": " in p for p in problems)


def _problems(data: dict[str, Any]) -> list[str]:
    """The located problems of a document, or none if it parses; anything else escapes."""
    try:
        parse_assessment(data, KB)
    except AssessmentError as error:
        return error.problems
    return []
