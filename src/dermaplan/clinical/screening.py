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

from dermaplan.bounds import days_later
from dermaplan.clinical.facts import (
    AREA_BOUND,
    NOT_APPLICABLE,
    UNKNOWN,
    FactSheet,
    FactValue,
)
from dermaplan.clinical.plan import (
    ABSOLUTE,
    INFO,
    MISSING,
    PRECAUTION,
    RELATIVE,
    Finding,
    FindingSeverity,
)
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
    walk,
)
from dermaplan.knowledge.schema import Evidence, Modality, Rule
from dermaplan.vocabulary import COMBINED, MESOTHERAPY, MICRONEEDLING

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
    if isinstance(expected, bool) and test.op in ("is", "==", "is not", "!="):
        # yes/no facts are the bulk of the rules: one identity test, a prebuilt outcome
        wanted = expected if test.op in ("is", "==") else not expected
        holds = Outcome(True, frozenset(), (f"{fact} = {_show(wanted)}",))

        def check_answer(sheet: FactSheet) -> Outcome:
            actual = sheet.values[fact]
            if actual is UNKNOWN:
                return unknown
            return holds if actual is wanted else FALSE

        return check_answer

    def check(sheet: FactSheet) -> Outcome:
        actual = sheet.values[fact]
        if actual is UNKNOWN:
            return unknown
        if actual is NOT_APPLICABLE or (numeric and not isinstance(actual, float)):
            return FALSE
        if not compare(actual, expected):
            return FALSE
        return Outcome(True, frozenset(), (f"{fact} = {_show(actual)}",))

    return check


def _any_answer(condition: Any) -> Check | None:
    """`any` of yes/no tests only (most `any` rules): one loop over the facts, no call per
    test; None for any other `any`."""
    tests = []
    for item in condition.items:
        test = _yes_no(item)
        if test is None:
            return None
        fact, wanted = test
        tests.append((fact, wanted, f"{fact} = {_show(wanted)}"))

    def check(sheet: FactSheet) -> Outcome:
        values = sheet.values
        because: list[str] = []
        unknown: list[str] = []
        for fact, wanted, text in tests:
            actual = values[fact]
            if actual is wanted:
                because.append(text)
            elif actual is UNKNOWN:
                unknown.append(fact)
        if because:
            return Outcome(True, frozenset(), tuple(because))
        return Outcome(None, frozenset(unknown), ()) if unknown else FALSE

    return check


def _combination(condition: All | Any, knowledge: KnowledgeBase) -> Check:
    if isinstance(condition, Any):
        answers = _any_answer(condition)
        if answers is not None:
            return answers
    items = tuple(compile_condition(item, knowledge) for item in condition.items)

    def check_any(sheet: FactSheet) -> Outcome:
        because: list[str] = []
        unknown: list[frozenset[str]] = []
        holds = False
        for item in items:
            outcome = item(sheet)
            if outcome.value:
                holds = True
                because += outcome.because
            elif outcome.value is None:
                unknown.append(outcome.unknown)
        if holds:
            return Outcome(True, frozenset(), tuple(because))
        missing = frozenset().union(*unknown) if unknown else frozenset()
        return Outcome(None, missing, ()) if missing else FALSE

    def check_all(sheet: FactSheet) -> Outcome:
        # a false item settles it: the items are pure, the rest need not be read
        because: list[str] = []
        unknown: list[frozenset[str]] = []
        for item in items:
            outcome = item(sheet)
            if outcome.value is False:
                return FALSE
            if outcome.value is None:
                unknown.append(outcome.unknown)
            else:
                because += outcome.because
        missing = frozenset().union(*unknown) if unknown else frozenset()
        return Outcome(None, missing, ()) if missing else Outcome(True, frozenset(), tuple(because))

    return check_any if isinstance(condition, Any) else check_all


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


@dataclass(frozen=True, slots=True, eq=False)
class Scope:
    """A rule with what it binds worked out once per knowledge base (one per rule: compared
    by identity)."""

    rule: Rule
    check: Check
    modalities: tuple[Modality, ...]  # as named, with `combined` for either single one
    areas: frozenset[str] | None
    ingredients: frozenset[str]
    devices: tuple[str, ...]  # non-empty: it binds microneedling only with these devices
    severity: FindingSeverity
    sources: tuple[str, ...]
    # the facts it reads that may depend on the area they are read for: earlier procedures
    # (`procedures.<kind>`) and conditions (`conditions.<condition>`), as `area_bound` names them
    area_facts: frozenset[str]
    # the rule's own words and numbers, as every finding of it gives them
    code: str
    named: tuple[Modality, ...]  # the modalities as the rule names them
    title: str
    message: str
    action: str
    evidence: Evidence
    until_text: str | None
    lasts: tuple[str, float] | None  # a temporary rule's: the date fact it runs from, its days


# a rule that is a yes/no test of one fact: the fact, the answer that makes it hold, its
# outcome then, its outcome while the fact is unknown
Answer = tuple[str, bool, Outcome, Outcome, Scope]
# a rule that is a comparison of one fact: the fact, its outcome while the fact is unknown
# (otherwise the rule's check reads it)
Compared = tuple[str, Outcome, Scope]


@dataclass(frozen=True, slots=True)
class Rules:
    """Every rule's scope, split once per knowledge base: the rules that test one fact (most
    are, and most are false for any one patient) are read off their fact before anything
    else, the others one by one."""

    answers: tuple[Answer, ...]
    compared: tuple[Compared, ...]
    # the rules of one fact with the area-bound facts that have them read area by area
    area_read: tuple[tuple[frozenset[str], Scope], ...]
    others: tuple[tuple[Scope, None], ...]  # with no outcome yet, as the screen reads them


def _yes_no(test: Condition) -> tuple[str, bool] | None:
    """A yes/no test's fact and the answer that makes it hold."""
    if not (isinstance(test, Comparison) and isinstance(test.value, bool)):
        return None
    if test.op not in ("is", "==", "is not", "!="):
        return None
    return test.fact, test.value if test.op in ("is", "==") else not test.value


def _area_facts_read(rule: Rule) -> frozenset[str]:
    facts = [node.fact for node in walk(rule.when) if isinstance(node, Comparison)]
    if rule.temporary is not None and rule.temporary.from_fact is not None:
        facts.append(rule.temporary.from_fact)
    return frozenset(
        AREA_BOUND + fact.removeprefix(AREA_BOUND).partition(".")[0]
        if fact.startswith(AREA_BOUND)
        else fact
        for fact in facts
        if fact.startswith((AREA_BOUND, "conditions."))
    )


@lru_cache(maxsize=16)
def scopes(knowledge: KnowledgeBase) -> tuple[Scope, ...]:
    result = []
    for rule in knowledge.rules:
        named = set(rule.modalities)
        if named & {MESOTHERAPY, MICRONEEDLING}:
            named.add(COMBINED)
        temporary = rule.temporary
        result.append(
            Scope(
                rule,
                compile_condition(rule.when, knowledge),
                tuple(m for m in MODALITIES if m in named),
                None if rule.areas is None else frozenset(rule.areas),
                frozenset(rule.ingredients),
                tuple(rule.devices),
                FindingSeverity(rule.severity.value),
                tuple(rule.sources),
                _area_facts_read(rule),
                rule.id,
                tuple(rule.modalities),
                rule.title,
                rule.message,
                rule.action,
                rule.evidence,
                None if temporary is None else temporary.until_text,
                None
                if temporary is None or temporary.from_fact is None or temporary.days is None
                else (temporary.from_fact, knowledge.number(temporary.days)),
            )
        )
    return tuple(result)


@lru_cache(maxsize=16)
def _rules(knowledge: KnowledgeBase) -> Rules:
    answers: list[Answer] = []
    compared: list[Compared] = []
    area_read: list[tuple[frozenset[str], Scope]] = []
    others: list[tuple[Scope, None]] = []
    for scope in scopes(knowledge):
        test = scope.rule.when
        if not isinstance(test, Comparison):
            others.append((scope, None))
            continue
        unknown = Outcome(None, frozenset([test.fact]), ())
        answer = _yes_no(test)
        if answer is None:
            compared.append((test.fact, unknown, scope))
            # a comparison is read area by area when any fact it reads is
            area_keys = scope.area_facts
        else:
            fact, wanted = answer
            holds = Outcome(True, frozenset(), (f"{fact} = {_show(wanted)}",))
            answers.append((fact, wanted, holds, unknown, scope))
            # a yes/no rule when its own fact is
            area_keys = frozenset([fact])
        if area_keys:
            area_read.append((area_keys, scope))
    return Rules(tuple(answers), tuple(compared), tuple(area_read), tuple(others))


def rule_modalities(
    scope: Scope, areas: Mapping[Modality, frozenset[str]], concerned: frozenset[str] | None = None
) -> tuple[Modality, ...]:
    """The modalities a rule bears on for this patient: those it binds that treat one of
    its areas (or of the areas it concerns)."""
    where = scope.areas if concerned is None else concerned
    found = []
    for modality in scope.modalities:
        treated = areas[modality]
        if treated and (where is None or not where.isdisjoint(treated)):
            found.append(modality)
    return tuple(found)


def device_areas(scope: Scope, devices: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """Where a device rule bears: the areas one of its devices could be used on, within
    the rule's own areas."""
    if not devices:
        return frozenset()
    usable = frozenset().union(*(devices.get(d, frozenset()) for d in scope.devices))
    return usable if scope.areas is None else usable & scope.areas


def _until(scope: Scope, sheet: FactSheet) -> dt.date | None:
    if scope.lasts is None:
        return None
    start = sheet.get(scope.lasts[0])
    if not isinstance(start, dt.date):
        return None
    return days_later(start, scope.lasts[1])


def _finding(
    scope: Scope,
    outcome: Outcome,
    modalities: tuple[Modality, ...],
    areas: tuple[str, ...],
    candidate_ingredients: frozenset[str],
    until: dt.date | None,
) -> Finding:
    unanswered: tuple[str, ...] = ()
    if outcome.value is None:
        severity = MISSING
        unanswered = tuple(sorted(outcome.unknown))
        because = "unanswered: " + ", ".join(unanswered)
    else:
        severity = scope.severity
        because = "; ".join(outcome.because)
    return Finding(  # positional: built about ten times a consult, on the hot path
        scope.code,
        severity,
        scope.title,
        scope.message,
        scope.action,
        modalities,
        areas,
        tuple(sorted(scope.ingredients & candidate_ingredients)) if scope.ingredients else (),
        because,
        unanswered,
        scope.sources,
        scope.evidence,
        scope.severity,
        until,
        scope.until_text,
        scope.devices,
    )


def _by_area(
    scope: Scope,
    sheet: FactSheet,
    areas: Mapping[Modality, frozenset[str]],
    candidate_ingredients: frozenset[str],
    devices: Mapping[str, frozenset[str]],
) -> list[Finding]:
    """A rule about earlier procedures, or about a condition a concern shows on some areas,
    read area by area: one finding for each group of areas it holds for in the same way, so a
    toxin in the forehead defers the forehead only, and active acne on the back the back."""
    where = sheet.treated_areas if scope.areas is None else sheet.treated_areas & scope.areas
    if scope.devices:
        where &= device_areas(scope, devices)
    groups: dict[
        tuple[bool | None, frozenset[str], tuple[str, ...], dt.date | None],
        tuple[Outcome, list[str]],
    ] = {}
    for area in sorted(where):
        narrowed = sheet.narrowed(area)
        outcome = scope.check(narrowed)
        if outcome.value is False:
            continue
        until = _until(scope, narrowed) if outcome.value else None
        key = (outcome.value, outcome.unknown, outcome.because, until)
        groups.setdefault(key, (outcome, []))[1].append(area)
    findings = []
    for (_, _, _, until), (outcome, group) in groups.items():
        concerned = frozenset(group)
        if scope.devices:
            modalities: tuple[Modality, ...] = ()
        elif scope.ingredients:
            modalities = scope.named
        else:
            modalities = rule_modalities(scope, areas, concerned)
        if modalities or scope.devices:
            findings.append(
                _finding(scope, outcome, modalities, tuple(group), candidate_ingredients, until)
            )
    return findings


def screen(
    sheet: FactSheet,
    areas: Mapping[Modality, frozenset[str]],
    candidate_ingredients: frozenset[str],
    devices: Mapping[str, frozenset[str]] | None = None,
) -> list[Finding]:
    """Every finding for this patient, strongest first, then by rule id and areas;
    `devices`: the areas each device could be used on (a device rule bears only there)."""
    devices = devices or {}
    findings: list[Finding] = []
    treated = sheet.treated_areas
    every_area = tuple(sorted(treated))
    by_area = sheet.area_bound
    values = sheet.values
    bound: dict[tuple[Modality, ...], tuple[Modality, ...]] = {}
    rules = _rules(sheet.knowledge)
    # the rules of one fact that may hold, with their outcome (None: read below, area by area
    # or by the rule's comparison); a fact not applicable makes every test of it false
    live: list[tuple[Scope, Outcome | None]] = []
    for fact, wanted, holds, unknown, scope in rules.answers:
        actual = values[fact]
        if actual is wanted:
            live.append((scope, holds))
        elif actual is UNKNOWN:
            live.append((scope, unknown))
    for fact, unknown, scope in rules.compared:
        actual = values[fact]
        if actual is UNKNOWN:
            live.append((scope, unknown))
        elif actual is not NOT_APPLICABLE:
            live.append((scope, None))
    if by_area:
        # a fact that differs between the treated areas: its rules are read area by area
        split = [scope for keys, scope in rules.area_read if not by_area.isdisjoint(keys)]
        if split:
            live = [item for item in live if item[0] not in split]
            live += [(scope, None) for scope in split]
    live += rules.others
    for scope, read in live:
        if scope.ingredients and scope.ingredients.isdisjoint(candidate_ingredients):
            continue
        if scope.areas is not None and scope.areas.isdisjoint(treated):
            continue  # a rule about areas none of which is treated
        usable = device_areas(scope, devices) & treated if scope.devices else None
        if usable is not None and not usable:
            continue  # a device rule, and the device could be used on none of its areas
        if read is not None:
            outcome = read
        elif by_area and not by_area.isdisjoint(scope.area_facts):
            findings += _by_area(scope, sheet, areas, candidate_ingredients, devices)
            continue
        else:
            outcome = scope.check(sheet)
            if outcome.value is False:
                continue
        if usable is not None:
            modalities: tuple[Modality, ...] = ()
        elif scope.ingredients:
            modalities = scope.named
        else:
            if scope.areas is not None:
                modalities = rule_modalities(scope, areas)
            elif scope.modalities in bound:
                modalities = bound[scope.modalities]
            else:
                modalities = bound[scope.modalities] = rule_modalities(scope, areas)
            if not modalities:
                continue
        if usable is not None:
            concerned = tuple(sorted(usable))
        elif scope.areas is None:
            concerned = every_area
        else:
            concerned = tuple(sorted(treated & scope.areas))
        until = _until(scope, sheet) if outcome.value and scope.lasts else None
        findings.append(
            _finding(scope, outcome, modalities, concerned, candidate_ingredients, until)
        )
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.code, f.areas))


SEVERITY_ORDER = {
    ABSOLUTE: 0,
    MISSING: 1,
    RELATIVE: 2,
    PRECAUTION: 3,
    INFO: 4,
}
