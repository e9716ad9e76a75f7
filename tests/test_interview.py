"""The interview asks what the chosen concerns and areas need, and says how many are left."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import dermaplan.interview as interview_module
from dermaplan.clinical.assessment import parse_assessment
from dermaplan.interview import interview
from dermaplan.knowledge import KnowledgeBase

TODAY = dt.date(2026, 12, 1)


def scripted(answers: dict[str, list[str]], asked: list[str]) -> Callable[..., Any]:
    """An `ask` that records each question and answers it from the script: the first pattern
    that matches gives the next of its answers (the last one repeats); y/n questions are
    answered no, medicines never."""
    queues: dict[str, Iterator[str]] = {}

    def answer(question: str, parse: Callable[[str], Any], default: str | None = None) -> Any:
        asked.append(question)
        for pattern, given in answers.items():
            if re.search(pattern, question):
                queue = queues.setdefault(pattern, iter(given + [given[-1]] * 100))
                return parse(next(queue))
        if "current, stopped, never" in question:
            return parse("never")
        return parse("n")

    return answer


TWO_FACE_CONCERNS = {
    "Consult date": ["2026-12-01"],
    "Age in years": ["34"],
    "^Sex": ["female"],
    "^Concern": ["acne_scars", "dehydration"],
    "Areas": ["cheeks", "cheeks, forehead"],
    "Severity": ["moderate"],
    "Scar types": ["rolling, boxcar"],
    "Another concern": ["y", "n"],
    "Fitzpatrick": ["3"],
    "^\\(\\d+ left\\) Allergies": ["none"],
    "Days of redness|Pain tolerance|Most sessions|An event": [""],
}


def test_a_two_concern_face_patient_is_asked_only_what_those_concerns_need(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(interview_module, "ask", scripted(TWO_FACE_CONCERNS, asked))
    data = interview(kb, TODAY)
    parse_assessment(data, kb)  # the file written is a valid assessment
    screening = kb.screening
    # what the interview asked before: every condition, medicine, the allergies, the
    # procedures, and four facts of the patient, for every patient
    everything = len(screening.conditions) + len(screening.medications) + 2 + 4
    counted = [q for q in asked if q.startswith("(")]
    safety = len(counted) - 4  # the four goals close the interview
    # 45, and the three implant questions of the radiofrequency device acne scars may use
    assert safety == 48 < everything
    assert len(asked) == 64
    questions = "\n".join(asked)
    assert "pacemaker" in questions
    assert "gold threads" in questions
    for unneeded in ("swallowing", "under the chin", "blood clot", "thrombophilia", "Glogau"):
        assert unneeded not in questions
    assert "Fitzpatrick" in questions  # the needling reads the skin type
    assert "Oral isotretinoin" in questions
    left = [int(q[1 : q.index(" ")]) for q in counted]
    assert left == list(range(len(counted), 0, -1))
    out = capsys.readouterr().out
    assert "48 safety questions bear on these concerns and areas" in out


def test_a_man_is_not_asked_about_pregnancy_nor_about_what_his_concern_cannot_use(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    script = TWO_FACE_CONCERNS | {
        "^Sex": ["male"],
        "^Concern": ["stretch_marks"],
        "Areas": ["abdomen"],
        "Another concern": ["n"],
    }
    monkeypatch.setattr(interview_module, "ask", scripted(script, asked))
    data = interview(kb, TODAY)
    assert "pregnant" not in data["patient"]
    assert not any("Pregnant" in q or "Breastfeeding" in q for q in asked)
    assert not any("pacemaker" in q or "gold threads" in q for q in asked)  # no device there
    # stretch marks are needled, never injected: nothing about an injected ingredient
    assert "renal_impairment" not in data["conditions"]
    assert "g6pd_deficiency" in data["conditions"]  # the numbing cream may hold prilocaine
