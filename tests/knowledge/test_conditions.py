"""The condition language: what parses, what is refused, and that parsing is total."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dermaplan.knowledge.conditions import (
    All,
    Any,
    Comparison,
    ConditionError,
    Not,
    PolicyRef,
    Predicate,
    parse_condition,
    render,
    walk,
)


def test_a_test_with_a_policy_reference() -> None:
    parsed = parse_condition(
        "medications.isotretinoin.stopped_days_ago < policy.isotretinoin_wait_days"
    )
    assert parsed == Comparison(
        "medications.isotretinoin.stopped_days_ago", "<", PolicyRef("isotretinoin_wait_days")
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("patient.pregnant is true", True), ("patient.pregnant is not false", False)],
)
def test_booleans(text: str, value: bool) -> None:
    parsed = parse_condition(text)
    assert isinstance(parsed, Comparison)
    assert parsed.value is value


def test_nested_forms() -> None:
    parsed = parse_condition(
        {
            "all": [
                "patient.age >= 18",
                {"not": {"any": ["patient.pregnant is true", {"predicate": "treats_face"}]}},
            ]
        }
    )
    assert isinstance(parsed, All)
    inner = parsed.items[1]
    assert isinstance(inner, Not)
    assert isinstance(inner.item, Any)
    assert Predicate("treats_face") in list(walk(parsed))


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("patient.pregnant iss true", "FACT OPERATOR VALUE"),
        ("patient.age < true", "number or a policy"),
        ("patient.age is 3", "'is' compares"),
        ({"all": []}, "non-empty list"),
        ({"all": ["patient.age > 1"], "any": []}, "one key"),
        ({"predicate": "Bad Name"}, "predicate name"),
        ("patient.age < policy.Bad", "policy name"),
        ("__import__('os').system('x') is true", "FACT OPERATOR VALUE"),
        (42, "a condition is"),
    ],
)
def test_refusals_say_what_is_wrong(raw: object, says: str) -> None:
    with pytest.raises(ConditionError, match=says.replace("(", r"\(").replace(")", r"\)")):
        parse_condition(raw)


names = st.from_regex(r"[a-z][a-z0-9_]{0,8}(\.[a-z][a-z0-9_]{0,8}){0,2}", fullmatch=True)
values = st.one_of(
    st.booleans(),
    st.integers(-1000, 1000).map(float),
    st.from_regex(r"policy\.[a-z][a-z_]{0,10}", fullmatch=True),
)


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    value = draw(values)
    if isinstance(value, bool):
        op = draw(st.sampled_from(["is", "is not"]))
        shown = "true" if value else "false"
    else:
        op = (
            draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
            if not isinstance(value, str)
            else draw(st.sampled_from(["<", ">="]))
        )
        shown = value if isinstance(value, str) else str(int(value))
    return f"{draw(names)} {op} {shown}"


conditions = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda items: {"all": items}),
        st.lists(inner, min_size=1, max_size=3).map(lambda items: {"any": items}),
        inner.map(lambda item: {"not": item}),
    ),
    max_leaves=8,
)


def _to_raw(condition: object) -> object:
    if isinstance(condition, Comparison):
        return str(condition)
    if isinstance(condition, Not):
        return {"not": _to_raw(condition.item)}
    if isinstance(condition, All | Any):
        return {
            "all" if isinstance(condition, All) else "any": [_to_raw(i) for i in condition.items]
        }
    assert isinstance(condition, Predicate)
    return {"predicate": condition.name}


@given(conditions)
def test_parse_is_stable_through_its_own_rendering(raw: object) -> None:
    parsed = parse_condition(raw)
    assert parse_condition(_to_raw(parsed)) == parsed
    assert render(parsed)


@given(st.text(max_size=60))
def test_any_string_parses_or_is_refused_cleanly(text: str) -> None:
    with contextlib.suppress(ConditionError):
        parse_condition(text)


@given(
    st.recursive(
        st.none() | st.integers() | st.text(max_size=8),
        lambda c: st.lists(c) | st.dictionaries(st.text(max_size=5), c),
        max_leaves=6,
    )
)
def test_any_yaml_shape_parses_or_is_refused_cleanly(raw: object) -> None:
    with contextlib.suppress(ConditionError):
        parse_condition(raw)
