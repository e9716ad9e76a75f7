"""`consult --interactive`: the questions a practitioner answers.

The patient and the concerns come first; then only the safety questions that bear on what
could treat those concerns there (`clinical.relevance`), each saying how many are left.
Every safety question accepts y, n or ? (unknown); unknown is recorded as such, never as
no, and a question left unasked stays unknown. Each answer is checked as it is given, so the
file written is always valid.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from dermaplan.bounds import calendar_problem
from dermaplan.clinical.assessment import SCALES, ConcernEntry
from dermaplan.clinical.relevance import questions_for
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.loader import did_you_mean
from dermaplan.text import shown

T = TypeVar("T")
UNKNOWN_WORDS = ("?", "unknown", "u")
WHOLE = re.compile(r"[0-9]{1,9}")  # ASCII digits only, and few enough for int() to read


class Invalid(ValueError):
    pass


def ask(question: str, parse: Callable[[str], T], default: str | None = None) -> T:
    """Ask until `parse` takes the answer; the question (the knowledge's words, a clinic's
    layer among them) and each problem are shown safe (dermaplan.text)."""
    while True:
        answer = typer.prompt(shown(question), default=default, show_default=default is not None)
        try:
            return parse(answer.strip())
        except Invalid as problem:
            typer.echo(shown(f"  {problem}"), err=True)


def tri_state(text: str) -> bool | None:
    lowered = text.lower()
    if lowered in ("y", "yes"):
        return True
    if lowered in ("n", "no"):
        return False
    if lowered in UNKNOWN_WORDS:
        return None
    raise Invalid("answer y, n or ? (unknown)")


def optional_int(low: int, high: int) -> Callable[[str], int | None]:
    """A whole number in ASCII digits: `str.isdigit` also takes "²", which `int` cannot read."""

    def parse(text: str) -> int | None:
        if text.lower() in ("", *UNKNOWN_WORDS):
            return None
        if not (WHOLE.fullmatch(text) and low <= int(text) <= high):
            raise Invalid(f"a whole number from {low} to {high}, or ? if unknown")
        return int(text)

    return parse


def optional_date(text: str) -> str | None:
    if text.lower() in ("", *UNKNOWN_WORDS):
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid("a date as YYYY-MM-DD, or ? if unknown") from None
    problem = calendar_problem(day)
    if problem is not None:
        raise Invalid(problem)
    return day.isoformat()


def one_of(choices: list[str], allow_unknown: bool = True) -> Callable[[str], str | None]:
    def parse(text: str) -> str | None:
        if allow_unknown and text.lower() in ("", *UNKNOWN_WORDS):
            return None
        if text not in choices:
            raise Invalid(
                f"'{text}' is not one of: {', '.join(choices)}{did_you_mean(text, choices)}"
            )
        return text

    return parse


def many_of(choices: list[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise Invalid("name at least one")
        for item in items:
            if item not in choices:
                raise Invalid(
                    f"'{item}' is not one of: {', '.join(choices)}{did_you_mean(item, choices)}"
                )
        return items

    return parse


def _allergies(allergens: list[str]) -> Callable[[str], list[str] | None]:
    def parse(text: str) -> list[str] | None:
        if text.lower() in UNKNOWN_WORDS:
            return None
        if text.lower() == "none":
            return []
        return many_of(allergens)(text)

    return parse


def interview(knowledge: KnowledgeBase, today: dt.date | None = None) -> dict[str, Any]:
    """Ask everything a consult needs and return the assessment as plain data."""
    try:
        return _interview(knowledge, today or dt.datetime.now(dt.UTC).date())
    except typer.Abort:
        typer.echo(
            "error: the input ended before the interview was finished; nothing was written",
            err=True,
        )
        raise typer.Exit(code=2) from None


PATIENT_PROMPTS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "pregnant": ("Pregnant (or could she be)?", tri_state),
    "breastfeeding": ("Breastfeeding?", tri_state),
    "fitzpatrick": (
        f"Fitzpatrick type (1-{SCALES['fitzpatrick']})",
        optional_int(1, SCALES["fitzpatrick"]),
    ),
    "glogau": (f"Glogau class (1-{SCALES['glogau']})", optional_int(1, SCALES["glogau"])),
}
FEMALE_ONLY = ("pregnant", "breastfeeding")
# the list question on procedures, as the interview and the assessment form ask it
PROCEDURES_QUESTION = (
    "Any recent procedures (toxin, filler, peel, laser, waxing, surgery, tanning…)?"
)
GOALS = 4  # the questions on goals that close the interview


class Countdown:
    """Asks each remaining question with how many are left, this one included."""

    def __init__(self, total: int) -> None:
        self.left = total

    def ask(self, question: str, parse: Callable[[str], T], default: str | None = None) -> T:
        answer = ask(f"({self.left} left) {question}", parse, default)
        self.left -= 1
        return answer


def _interview(knowledge: KnowledgeBase, today: dt.date) -> dict[str, Any]:
    typer.echo(
        "First the patient and what they want treated; then only the safety questions those "
        "concerns and areas need. Answer y, n or ? (unknown: it will be listed as missing)."
    )
    data: dict[str, Any] = {"consult_date": ask("Consult date", optional_date, today.isoformat())}
    patient: dict[str, Any] = {
        "age": ask("Age in years", optional_int(0, 120)),
        "sex": ask("Sex (female, male, intersex)", one_of(["female", "male", "intersex"])),
    }
    data["concerns"] = _concerns(knowledge)
    needed = questions_for(knowledge, [ConcernEntry.model_validate(c) for c in data["concerns"]])
    male = patient["sex"] == "male"
    about = [a for a in PATIENT_PROMPTS if a in needed.patient and not (a in FEMALE_ONLY and male)]
    conditions = [
        item
        for item in knowledge.screening.conditions
        if item.id in needed.conditions and not (item.female_only and male)
    ]
    asked = len(about) + len(conditions) + len(needed.medications)
    asked += needed.allergies + needed.procedures
    typer.echo(
        f"{asked} safety questions bear on these concerns and areas; the others cannot change "
        "the plan and stay unasked (unknown)."
    )
    screening = knowledge.screening
    countdown = Countdown(asked + GOALS)
    for attribute in about:
        question, parse = PATIENT_PROMPTS[attribute]
        patient[attribute] = countdown.ask(question, parse)
    data["patient"] = {key: value for key, value in patient.items() if value is not None}
    data["conditions"] = {item.id: countdown.ask(item.question, tri_state) for item in conditions}
    medications: dict[str, Any] = {}
    for item in screening.medications:
        if item.id not in needed.medications:
            continue
        status = countdown.ask(
            f"{item.question} (current, stopped, never, ?)", one_of(["current", "stopped", "never"])
        )
        use: dict[str, Any] = {"status": status}
        if status == "stopped":
            use["last_taken"] = ask("  Date of the last dose (YYYY-MM-DD or ?)", optional_date)
        medications[item.id] = use
    data["medications"] = medications
    if needed.allergies:
        allergens = [item.id for item in screening.allergens]
        data["allergies"] = countdown.ask(
            f"Allergies ({', '.join(allergens)}; comma-separated), none, or ?",
            _allergies(allergens),
        )
    if needed.procedures:
        data["procedures"] = _procedures(knowledge, countdown)
    goals = {
        "downtime_days": countdown.ask(
            "Days of redness the patient accepts (blank: not said)", optional_int(0, 60), ""
        ),
        "pain_tolerance": countdown.ask(
            "Pain tolerance (low, medium, high; blank: not said)",
            one_of(["low", "medium", "high"]),
            "",
        ),
        "max_sessions": countdown.ask(
            "Most sessions acceptable (blank: not said)", optional_int(1, 24), ""
        ),
        "event_date": countdown.ask(
            "An event to be ready for (YYYY-MM-DD; blank: none)", optional_date, ""
        ),
    }
    data["goals"] = {key: value for key, value in goals.items() if value is not None}
    return data


def _procedures(knowledge: KnowledgeBase, countdown: Countdown) -> list[dict[str, Any]] | None:
    answer = countdown.ask(PROCEDURES_QUESTION, tri_state)
    if answer is None:
        return None
    procedures: list[dict[str, Any]] = []
    kinds = [item.id for item in knowledge.screening.procedures]
    areas = sorted(knowledge.areas)
    while answer:
        entry: dict[str, Any] = {
            "type": ask(f"  Procedure ({', '.join(kinds)})", one_of(kinds, False))
        }
        entry["date"] = ask("  Date (YYYY-MM-DD)", optional_date)
        while entry["date"] is None:
            typer.echo("  the date is needed to time the next treatment", err=True)
            entry["date"] = ask("  Date (YYYY-MM-DD)", optional_date)
        entry["areas"] = ask("  Areas (comma-separated)", many_of(areas))
        procedures.append(entry)
        answer = bool(ask("Another procedure?", tri_state))
    return procedures


def _concerns(knowledge: KnowledgeBase) -> list[dict[str, Any]]:
    concerns: list[dict[str, Any]] = []
    names = sorted(knowledge.concerns)
    scar_types = [scar.id for scar in knowledge.needling.scar_types]
    while True:
        entry: dict[str, Any] = {
            "concern": ask(f"Concern ({', '.join(names)})", one_of(names, False))
        }
        areas = knowledge.concerns[entry["concern"]].occurs_on.areas
        entry["areas"] = ask(f"  Areas ({', '.join(areas)}; comma-separated)", many_of(areas))
        entry["severity"] = ask(
            "  Severity (mild, moderate, severe)", one_of(["mild", "moderate", "severe"], False)
        )
        if knowledge.concerns[entry["concern"]].scar_kinds:
            entry["scar_types"] = ask(
                f"  Scar types ({', '.join(scar_types)})", many_of(scar_types)
            )
        concerns.append(entry)
        if not ask("Another concern?", tri_state):
            return concerns
