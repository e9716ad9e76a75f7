"""The small condition language of rules: parsed into a tree, never evaluated as code.

A test reads `FACT OP VALUE`, for instance `medications.isotretinoin.stopped_days_ago <
policy.isotretinoin_wait_days` or `patient.pregnant is true`. Tests combine with
`{all: [...]}`, `{any: [...]}`, `{not: ...}`; `{predicate: NAME}` names a predicate
implemented once in code.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Operator = Literal["is", "is not", "<", "<=", ">", ">=", "==", "!="]
Literal_ = bool | float | str


@dataclass(frozen=True, slots=True)
class PolicyRef:
    name: str


@dataclass(frozen=True, slots=True)
class Comparison:
    fact: str
    op: Operator
    value: Literal_ | PolicyRef

    def __str__(self) -> str:
        value = self.value
        shown = (
            f"policy.{value.name}"
            if isinstance(value, PolicyRef)
            else str(value).lower()
            if isinstance(value, bool)
            else _number_text(value)
            if isinstance(value, float)
            else value
        )
        return f"{self.fact} {self.op} {shown}"


@dataclass(frozen=True, slots=True)
class All:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Any:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


@dataclass(frozen=True, slots=True)
class Predicate:
    name: str


Condition = Comparison | All | Any | Not | Predicate


class ConditionError(ValueError):
    """A condition that does not parse; the message says what is wrong."""


_NAME = r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*"
_TEST = re.compile(
    rf"^\s*(?P<fact>{_NAME})\s+(?P<op>is not|is|<=|>=|==|!=|<|>)\s+(?P<value>\S.*?)\s*$"
)
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _parse_value(text: str) -> Literal_ | PolicyRef:
    if text in ("true", "false"):
        return text == "true"
    if _NUMBER.match(text):
        return float(text)
    if text.startswith("policy."):
        name = text.removeprefix("policy.")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ConditionError(f"'{text}' is not a policy name")
        return PolicyRef(name)
    if re.fullmatch(r"[a-z][a-z0-9_]*", text):
        return text
    raise ConditionError(f"'{text}' is not a value (true, false, a number, a word or policy.NAME)")


def parse_test(text: str) -> Comparison:
    match = _TEST.match(text)
    if match is None:
        raise ConditionError(f"'{text}' is not of the form 'FACT OPERATOR VALUE'")
    op: Operator = match["op"]  # type: ignore[assignment]
    value = _parse_value(match["value"])
    if op in ("is", "is not") and not isinstance(value, bool | str):
        raise ConditionError(f"'{text}': 'is' compares with true, false or a word")
    if op in ("<", "<=", ">", ">=") and not isinstance(value, float | PolicyRef):
        raise ConditionError(f"'{text}': '{op}' compares with a number or a policy")
    # interned, as the fact sheet's names are: a rule reads its fact by identity, not by its text
    return Comparison(sys.intern(match["fact"]), op, value)


def parse_condition(raw: object) -> Condition:
    """Turn the YAML form of a condition into its tree, or raise ConditionError."""
    if isinstance(raw, Comparison | All | Any | Not | Predicate):
        return raw
    if isinstance(raw, str):
        return parse_test(raw)
    if isinstance(raw, dict) and len(raw) == 1:
        ((key, body),) = raw.items()
        if key in ("all", "any"):
            if not isinstance(body, list) or not body:
                raise ConditionError(f"'{key}' takes a non-empty list of conditions")
            items = tuple(parse_condition(item) for item in body)
            return All(items) if key == "all" else Any(items)
        if key == "not":
            return Not(parse_condition(body))
        if key == "predicate":
            if not isinstance(body, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", body):
                raise ConditionError("'predicate' takes a predicate name")
            return Predicate(body)
    raise ConditionError(
        "a condition is 'FACT OP VALUE', or a mapping with one key: all, any, not or predicate"
    )


def walk(condition: Condition) -> Iterator[Condition]:
    """Every node of a condition tree, the root first."""
    yield condition
    if isinstance(condition, All | Any):
        for item in condition.items:
            yield from walk(item)
    elif isinstance(condition, Not):
        yield from walk(condition.item)


def render(condition: Condition) -> str:
    """A one-line human reading of a condition, for explanations."""
    if isinstance(condition, Comparison):
        return str(condition)
    if isinstance(condition, Predicate):
        return condition.name
    if isinstance(condition, Not):
        return f"not ({render(condition.item)})"
    joiner = " and " if isinstance(condition, All) else " or "
    return "(" + joiner.join(render(item) for item in condition.items) + ")"
