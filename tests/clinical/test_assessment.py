"""Assessment validation: every problem located, ids suggested, contradictions refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dermaplan.clinical.assessment import AssessmentError, age_on, parse_assessment
from dermaplan.knowledge import KnowledgeBase
from tests.conftest import healthy


def problems(kb: KnowledgeBase, data: Any) -> list[str]:
    with pytest.raises(AssessmentError) as caught:
        parse_assessment(data, kb)
    return caught.value.problems


def test_a_misspelt_area_is_located_and_a_near_match_suggested(kb: KnowledgeBase) -> None:
    data = healthy(kb)
    data["concerns"] = [
        {"concern": "dehydration", "areas": ["forehead"], "severity": "mild"},
        {"concern": "acne_scars", "areas": ["cheeks"], "severity": "mild"},
        {"concern": "dullness", "areas": ["cheek"], "severity": "mild"},
    ]
    assert problems(kb, data) == [
        "concerns[2].areas[0]: 'cheek' is not an area — did you mean 'cheeks'?"
    ]


def test_every_problem_is_reported_not_just_the_first(kb: KnowledgeBase) -> None:
    data = healthy(kb)
    data["patient"]["fitzpatrick"] = 9
    data["patient"]["age"] = -3
    data["consult_date"] = "yesterday"
    found = problems(kb, data)
    assert len(found) == 3
    assert any(p.startswith("patient.fitzpatrick:") for p in found)
    assert any(p.startswith("patient.age:") for p in found)
    assert any(p.startswith("consult_date:") for p in found)


def test_unknown_fields_are_refused_not_ignored(kb: KnowledgeBase) -> None:
    data = healthy(kb)
    data["patient"]["pregnent"] = False
    assert problems(kb, data) == ["patient.pregnent: Extra inputs are not permitted"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["patient"].update(sex="male", pregnant=True),
            "patient.pregnant: true contradicts patient.sex: male",
        ),
        (
            lambda d: d["goals"].update(event_date="2026-11-01"),
            "goals.event_date: 2026-11-01 is before the consult date 2026-12-01",
        ),
        (
            lambda d: d["procedures"].append({"type": "botulinum_toxin", "date": "2027-01-01"}),
            "procedures[0].date: 2027-01-01 is after the consult date",
        ),
        (
            lambda d: d["concerns"].append(
                {"concern": "acne_scars", "areas": ["cheeks"], "severity": "mild"}
            ),
            "concerns[1]: acne_scars on cheeks is already concerns[0]",
        ),
        (
            lambda d: d["concerns"].append(
                {
                    "concern": "dullness",
                    "areas": ["cheeks"],
                    "severity": "mild",
                    "scar_types": ["rolling"],
                }
            ),
            "concerns[1].scar_types: only for scar concerns (acne_scars, scars)",
        ),
    ],
)
def test_contradictions_are_refused(kb: KnowledgeBase, change: Any, expected: str) -> None:
    data = healthy(kb)
    change(data)
    assert problems(kb, data) == [expected]


def test_a_medication_stopped_in_the_future_is_refused(kb: KnowledgeBase) -> None:
    data = healthy(kb)
    data["medications"]["isotretinoin"] = {"status": "stopped", "last_taken": "2027-02-01"}
    assert problems(kb, data) == [
        "medications.isotretinoin.last_taken: 2027-02-01 is after the consult date"
    ]


def test_unknown_ids_in_every_vocabulary(kb: KnowledgeBase) -> None:
    data = healthy(kb)
    data["conditions"]["pregnancy_test"] = True
    data["medications"]["isotretinoine"] = {"status": "never"}
    data["allergies"] = ["soya"]
    data["concerns"][0]["concern"] = "acne_scar"
    found = problems(kb, data)
    assert (
        "medications.isotretinoine: 'isotretinoine' is not a screened medication"
        " — did you mean 'isotretinoin'?" in found
    )
    assert "concerns[0].concern: 'acne_scar' is not a concern — did you mean 'acne_scars'?" in found
    assert any(p.startswith("conditions.pregnancy_test:") for p in found)
    assert any(p.startswith("allergies[0]: 'soya' is not an allergen") for p in found)


def test_roman_numerals_are_read_for_skin_types(kb: KnowledgeBase) -> None:
    data = healthy(kb)
    data["patient"]["fitzpatrick"] = "IV"
    data["patient"]["glogau"] = "iii"
    patient = parse_assessment(data, kb).patient
    assert (patient.fitzpatrick, patient.glogau) == (4, 3)


def test_a_list_is_not_an_assessment(kb: KnowledgeBase) -> None:
    assert problems(kb, [1, 2]) == ["the assessment must be a mapping of fields"]


def test_age_on_counts_whole_years() -> None:
    born = dt.date(1988, 12, 2)
    assert (age_on(born, dt.date(2026, 12, 1)), age_on(born, dt.date(2026, 12, 2))) == (37, 38)
    assert age_on(dt.date(2000, 2, 29), dt.date(2026, 2, 28)) == 25


def test_only_scar_concerns_take_kinds_of_scar(kb: KnowledgeBase) -> None:
    """Every concern the knowledge marks as a scar takes kinds of scar; no other does."""
    for concern in kb.concerns.values():
        data = healthy(kb)
        area = concern.occurs_on.areas[0]
        data["concerns"] = [
            {"concern": concern.id, "areas": [area], "severity": "mild", "scar_types": ["rolling"]}
        ]
        if concern.scar_kinds:
            assert parse_assessment(data, kb).concerns[0].scar_types == ["rolling"]
        else:
            assert problems(kb, data) == [
                "concerns[0].scar_types: only for scar concerns (acne_scars, scars)"
            ], concern.id
    assert {c.id for c in kb.concerns.values() if c.scar_kinds} == {"acne_scars", "scars"}
