"""Screening: each rule's condition read over the facts, in three-valued logic.

A condition is true, false or unknown (Kleene logic: `any` with one true branch is true
whatever else is unknown). A true rule gives a finding of its severity; an unknown one a
`missing` finding naming the questions to answer. Nothing unknown ever passes as false.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any as Any_

from dermaplan.clinical.facts import NOT_APPLICABLE, UNKNOWN, FactSheet, FactValue, reader
from dermaplan.clinical.plan import Finding, FindingSeverity
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.conditions import (
    All,
    Any,
    Comparison,
    Condition,
    Not,
    PolicyRef,
    Predicate,
    render,
)
from dermaplan.knowledge.schema import Modality, Rule

Tri = bool | None


@dataclass(slots=True)
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


Check = Callable[[FactSheet], Outcome]
OPERATORS: dict[str, Callable[[Any_, Any_], bool]] = {
    "is": operator.eq,
    "==": operator.eq,
    "is not": operator.ne,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _comparison(test: Comparison, knowledge: KnowledgeBase) -> Check:
    fact = test.fact
    expected: Any_ = test.value
    if isinstance(expected, PolicyRef):
        expected = knowledge.policy(expected.name)
    compare = OPERATORS[test.op]
    numeric = test.op in ("<", "<=", ">", ">=")
    unknown = Outcome(None, frozenset([fact]), ())
    read = reader(fact)
    if isinstance(expected, bool) and test.op in ("is", "==", "is not", "!="):
        # yes/no facts are the bulk of the rules: one identity test, a prebuilt outcome
        wanted = expected if test.op in ("is", "==") else not expected
        holds = Outcome(True, frozenset(), (f"{fact} = {_show(wanted)}",))

        def check_answer(sheet: FactSheet) -> Outcome:
            values = sheet.values
            actual = values[fact] if fact in values else values.setdefault(fact, read(sheet))
            if actual is UNKNOWN:
                return unknown
            return holds if actual is wanted else FALSE

        return check_answer

    def check(sheet: FactSheet) -> Outcome:
        values = sheet.values
        if fact in values:
            actual = values[fact]
        else:
            actual = values[fact] = read(sheet)
        if actual is UNKNOWN:
            return unknown
        if actual is NOT_APPLICABLE or (numeric and not isinstance(actual, float)):
            return FALSE
        if not compare(actual, expected):
            return FALSE
        return Outcome(True, frozenset(), (f"{fact} = {_show(actual)}",))

    return check


def _combination(condition: All | Any, knowledge: KnowledgeBase) -> Check:
    items = tuple(compile_condition(item, knowledge) for item in condition.items)
    any_of = isinstance(condition, Any)

    def check(sheet: FactSheet) -> Outcome:
        outcomes = [item(sheet) for item in items]
        if any_of:
            true = [o for o in outcomes if o.value is True]
            if true:
                return Outcome(True, frozenset(), tuple(b for o in true for b in o.because))
        elif any(o.value is False for o in outcomes):
            return FALSE
        unknown = frozenset().union(*(o.unknown for o in outcomes if o.value is None))
        if unknown:
            return Outcome(None, unknown, ())
        if any_of:
            return FALSE
        return Outcome(True, frozenset(), tuple(b for o in outcomes for b in o.because))

    return check


def compile_condition(condition: Condition, knowledge: KnowledgeBase) -> Check:
    """A condition turned, once, into a function of the facts (policies already read)."""
    if isinstance(condition, Comparison):
        return _comparison(condition, knowledge)
    if isinstance(condition, Predicate):
        name = condition.name
        holds = Outcome(True, frozenset(), (name,))
        return lambda sheet: holds if sheet.predicate(name) else FALSE
    if isinstance(condition, Not):
        inner = compile_condition(condition.item, knowledge)

        def negate(sheet: FactSheet) -> Outcome:
            outcome = inner(sheet)
            if outcome.value is None:
                return outcome
            return (
                FALSE
                if outcome.value
                else Outcome(True, frozenset(), ("not " + render(condition.item),))
            )

        return negate
    return _combination(condition, knowledge)


MODALITIES = tuple(Modality)


@dataclass(frozen=True, slots=True)
class Scope:
    """A rule with what it binds worked out once per knowledge base."""

    rule: Rule
    check: Check
    modalities: tuple[Modality, ...]  # as named, with `combined` for either single one
    areas: frozenset[str] | None
    ingredients: frozenset[str]
    severity: FindingSeverity
    sources: tuple[str, ...]


@lru_cache(maxsize=16)
def scopes(knowledge: KnowledgeBase) -> tuple[Scope, ...]:
    result = []
    for rule in knowledge.rules:
        named = set(rule.modalities)
        if named & {Modality.MESOTHERAPY, Modality.MICRONEEDLING}:
            named.add(Modality.COMBINED)
        result.append(
            Scope(
                rule,
                compile_condition(rule.when, knowledge),
                tuple(m for m in MODALITIES if m in named),
                None if rule.areas is None else frozenset(rule.areas),
                frozenset(rule.ingredients),
                FindingSeverity(rule.severity.value),
                tuple(rule.sources),
            )
        )
    return tuple(result)


def rule_modalities(scope: Scope, areas: Mapping[Modality, frozenset[str]]) -> tuple[Modality, ...]:
    """The modalities a rule bears on for this patient: those it binds that treat one of
    its areas."""
    if scope.areas is None:
        return tuple(m for m in scope.modalities if areas[m])
    return tuple(m for m in scope.modalities if not scope.areas.isdisjoint(areas[m]))


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
    every_area = tuple(sorted(treated))
    bound: dict[tuple[Modality, ...], tuple[Modality, ...]] = {}
    for scope in scopes(sheet.knowledge):
        if scope.ingredients and scope.ingredients.isdisjoint(candidate_ingredients):
            continue
        # reading the facts is pure and cheap; most rules are false, so read them first
        outcome = scope.check(sheet)
        if outcome.value is False:
            continue
        rule = scope.rule
        if scope.ingredients:
            modalities: tuple[Modality, ...] = tuple(rule.modalities)
        else:
            if scope.areas is not None:
                modalities = rule_modalities(scope, areas)
            elif scope.modalities in bound:
                modalities = bound[scope.modalities]
            else:
                modalities = bound[scope.modalities] = rule_modalities(scope, areas)
            if not modalities:
                continue
        concerned = every_area if scope.areas is None else tuple(sorted(treated & scope.areas))
        unanswered: tuple[str, ...] = ()
        if outcome.value is None:
            severity = FindingSeverity.MISSING
            unanswered = tuple(sorted(outcome.unknown))
            because = "unanswered: " + ", ".join(unanswered)
        else:
            severity = scope.severity
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
                ingredients=tuple(sorted(scope.ingredients & candidate_ingredients)),
                because=because,
                unanswered=unanswered,
                sources=scope.sources,
                evidence=rule.evidence,
                rule_severity=scope.severity,
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
