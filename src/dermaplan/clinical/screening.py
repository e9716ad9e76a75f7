"""Screening: each rule's condition read over the facts, in three-valued logic.

A condition is true, false or unknown (Kleene logic: `any` with one true branch is true
whatever else is unknown). A true rule gives a finding of its severity; an unknown one a
`missing` finding naming the questions to answer. Nothing unknown ever passes as false.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from dermaplan.clinical.facts import NOT_APPLICABLE, UNKNOWN, FactSheet, FactValue
from dermaplan.clinical.plan import Finding, FindingSeverity
from dermaplan.knowledge.conditions import (
    All,
    Any,
    Comparison,
    Condition,
    Not,
    PolicyRef,
    Predicate,
)
from dermaplan.knowledge.schema import Modality, Rule

Tri = bool | None


@dataclass(frozen=True, slots=True)
class Outcome:
    value: Tri
    unknown: frozenset[str]  # facts whose absence left the outcome open
    because: tuple[str, ...]  # facts that made it true, as "fact = value"


FALSE = Outcome(False, frozenset(), ())


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _show(value: FactValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _compare(test: Comparison, actual: FactValue, sheet: FactSheet) -> bool:
    expected = test.value
    if isinstance(expected, PolicyRef):
        expected = sheet.knowledge.policy(expected.name)
    op = test.op
    if op in ("is", "=="):
        return actual == expected
    if op in ("is not", "!="):
        return actual != expected
    if not isinstance(actual, float) or not isinstance(expected, float | int):
        return False
    if op == "<":
        return actual < expected
    if op == "<=":
        return actual <= expected
    if op == ">":
        return actual > expected
    return actual >= expected


def evaluate(condition: Condition, sheet: FactSheet) -> Outcome:
    if isinstance(condition, Comparison):
        actual = sheet.get(condition.fact)
        if actual is UNKNOWN:
            return Outcome(None, frozenset([condition.fact]), ())
        if actual is NOT_APPLICABLE or not _compare(condition, actual, sheet):
            return FALSE
        return Outcome(True, frozenset(), (f"{condition.fact} = {_show(actual)}",))
    if isinstance(condition, Predicate):
        holds = sheet.predicate(condition.name)
        return Outcome(True, frozenset(), (condition.name,)) if holds else FALSE
    if isinstance(condition, Not):
        inner = evaluate(condition.item, sheet)
        if inner.value is None:
            return inner
        return FALSE if inner.value else Outcome(True, frozenset(), (f"not {inner.because}",))
    outcomes = [evaluate(item, sheet) for item in condition.items]
    unknown = frozenset().union(*(o.unknown for o in outcomes if o.value is None))
    if isinstance(condition, Any):
        true = [o for o in outcomes if o.value is True]
        if true:
            return Outcome(True, frozenset(), tuple(b for o in true for b in o.because))
        return Outcome(None, unknown, ()) if unknown else FALSE
    assert isinstance(condition, All)
    if any(o.value is False for o in outcomes):
        return FALSE
    if unknown:
        return Outcome(None, unknown, ())
    return Outcome(True, frozenset(), tuple(b for o in outcomes for b in o.because))


def rule_modalities(rule: Rule, areas: Mapping[Modality, frozenset[str]]) -> tuple[Modality, ...]:
    """The modalities a rule bears on for this patient: those it names (a mesotherapy or
    microneedling rule also binds the combination) that treat one of its areas."""
    named = set(rule.modalities)
    if named & {Modality.MESOTHERAPY, Modality.MICRONEEDLING}:
        named.add(Modality.COMBINED)
    return tuple(
        m
        for m in Modality
        if m in named and areas[m] and (rule.areas is None or areas[m].intersection(rule.areas))
    )


def _until(rule: Rule, sheet: FactSheet) -> dt.date | None:
    temporary = rule.temporary
    if temporary is None or temporary.from_fact is None or temporary.days is None:
        return None
    start = sheet.get(temporary.from_fact)
    if not isinstance(start, dt.date):
        return None
    days = temporary.days
    wait = sheet.knowledge.policy(days.removeprefix("policy.")) if isinstance(days, str) else days
    return start + dt.timedelta(days=int(wait))


def screen(
    sheet: FactSheet,
    areas: Mapping[Modality, frozenset[str]],
    candidate_ingredients: frozenset[str],
) -> list[Finding]:
    """Every finding for this patient, strongest first, then by rule id."""
    findings: list[Finding] = []
    treated = sheet.treated_areas
    for rule in sheet.knowledge.rules:
        if rule.ingredients:
            if not candidate_ingredients.intersection(rule.ingredients):
                continue
            modalities: tuple[Modality, ...] = tuple(rule.modalities)
        else:
            modalities = rule_modalities(rule, areas)
            if not modalities:
                continue
        outcome = evaluate(rule.when, sheet)
        if outcome.value is False:
            continue
        concerned = tuple(sorted(treated if rule.areas is None else treated & set(rule.areas)))
        if outcome.value is None:
            severity = FindingSeverity.MISSING
            because = "unanswered: " + ", ".join(sorted(outcome.unknown))
        else:
            severity = FindingSeverity(rule.severity.value)
            because = "; ".join(outcome.because)
        temporary = rule.temporary
        findings.append(
            Finding(
                code=rule.id,
                severity=severity,
                title=rule.title,
                message=rule.message,
                action=rule.action,
                modalities=modalities,
                areas=concerned,
                ingredients=tuple(sorted(set(rule.ingredients) & candidate_ingredients)),
                because=because,
                sources=tuple(rule.sources),
                evidence=rule.evidence,
                rule_severity=FindingSeverity(rule.severity.value),
                until=_until(rule, sheet) if outcome.value else None,
                until_text=temporary.until_text if temporary is not None else None,
            )
        )
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.code))


SEVERITY_ORDER = {
    FindingSeverity.ABSOLUTE: 0,
    FindingSeverity.MISSING: 1,
    FindingSeverity.RELATIVE: 2,
    FindingSeverity.PRECAUTION: 3,
    FindingSeverity.INFO: 4,
}
