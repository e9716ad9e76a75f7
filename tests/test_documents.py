"""The one YAML reader: a repeated key is an error naming both lines; aliases, nesting and
size are bounded; only plain data comes out; and nothing else in the package loads YAML."""

from __future__ import annotations

import ast
import datetime as dt
import math
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import dermaplan
from dermaplan.bounds import ALIASES, DEPTH, DOCUMENT_BYTES, HISTORY_BYTES, VALUES
from dermaplan.documents import DocumentError, bounded, json_document, parse_yaml, read_yaml_file

PACKAGE = Path(dermaplan.__file__).parent


def refused(text: str) -> str:
    with pytest.raises(DocumentError) as error:
        parse_yaml(text)
    return error.value.located("f.yaml")


def laughs(levels: int = 9) -> str:
    """The "billion laughs": each level ten aliases of the one before, 10**levels once
    expanded, in a few hundred bytes."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


def test_a_repeated_key_names_the_key_and_both_lines() -> None:
    text = "family_name: Moreau\nallergies: [penicillin]\nsex: female\nallergies: []\n"
    assert refused(text) == (
        "f.yaml:4:1: key 'allergies' is given twice, on lines 2 and 4 (the last would "
        "silently replace the first)"
    )


def test_a_repeated_key_is_found_at_any_depth_and_in_json() -> None:
    assert refused("history:\n  smoker: no\n  x: 1\n  smoker: yes\n").startswith(
        "f.yaml:4:3: key 'smoker' is given twice, on lines 2 and 4"
    )
    assert "key 'a' is given twice, on lines 1 and 1" in refused('{"a": 1, "a": 2}')
    assert "key True is given twice" in refused("yes: 1\ntrue: 2\n")  # one key to YAML


def test_a_merge_key_may_be_overridden() -> None:
    data = parse_yaml("base: &b {x: 1, y: 2}\nthis:\n  <<: *b\n  x: 3\n")
    assert data["this"] == {"x": 3, "y": 2}


def test_the_billion_laughs_are_refused_without_expanding_them() -> None:
    tracemalloc.start()
    try:
        message = refused(laughs())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == f"f.yaml: more than {VALUES} values once aliases are expanded at l4"
    assert peak < 5_000_000


def test_text_repeated_by_aliases_is_bounded_too() -> None:
    text = f"a: &s {'x' * 100_000}\nb: &t [{', '.join(['*s'] * 20)}]\n"
    assert refused(text) == (
        "f.yaml: more than 1 Mi characters of text once aliases are expanded at b"
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [("a: &a [1, *a]\n", "a[1]"), ("a: &a {b: *a}\n", "a.b"), ("&a [*a]\n", "[0]")],
)
def test_a_value_that_contains_itself_is_refused(text: str, where: str) -> None:
    assert refused(text) == (
        f"f.yaml: a value that contains itself (an alias inside its anchor) at {where}"
    )


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * (DEPTH + 1) + "]" * (DEPTH + 1),
        "a: " + "[" * 900 + "]" * 900,
        "a: " + "{a: " * 900 + "}" * 900,
        "a: " + "[" * 100_000 + "]" * 100_000,  # past libyaml's own limit
        "a:\n" + "".join(f"{'  ' * i}- \n" for i in range(900)),
    ],
    ids=["limit", "flow", "mappings", "libyaml", "block"],
)
def test_deep_nesting_is_refused(text: str) -> None:
    message = refused(text)
    assert "nested deeper than" in message or "maximum nesting depth" in message


def test_nesting_up_to_the_limit_is_read() -> None:
    levels = DEPTH - 1
    assert parse_yaml("a: " + "[" * levels + "]" * levels) is not None


def test_aliases_are_counted() -> None:
    text = "a: &a [1]\nb: [" + ", ".join(["*a"] * (ALIASES + 1)) + "]\n"
    assert refused(text) == f"f.yaml: more than {ALIASES} aliases at b[{ALIASES}]"


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("a: !!binary aGVsbG8=\n", "!!binary"),
        ("a: !!set {x, y}\n", "!!set"),
        ("a: !!omap [{x: 1}]\n", "!!omap"),
        ("a: !!pairs [{x: 1}]\n", "!!pairs"),
    ],
)
def test_only_plain_data_is_built(text: str, tag: str) -> None:
    assert refused(text) == (
        f"f.yaml:1:4: not valid YAML or JSON: {tag} is not plain data (text, numbers, lists, "
        "mappings)"
    )


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system [echo]\n",
        "a: !!python/name:os.system\n",
        "a: 1\n---\nb: 2\n",
        "a: " + "1" * 5000 + "\n",  # beyond Python's digits for a number read from text
        "a: 2026-13-01\n",
        "a: [\n",
        "a: \x00\n",
    ],
)
def test_what_is_no_plain_data_is_a_located_error(text: str) -> None:
    assert refused(text).startswith("f.yaml")


def test_dates_and_times_are_read() -> None:
    data = parse_yaml("day: 2026-11-02\nat: 2026-11-02T10:30:00+01:00\n")
    assert data["day"] == dt.date(2026, 11, 2)
    assert data["at"].utcoffset() == dt.timedelta(hours=1)


def test_a_document_is_bounded_in_size(tmp_path: Path) -> None:
    assert refused("#" * (DOCUMENT_BYTES + 1)) == (
        "f.yaml: larger than 1 MiB, the limit of a document"
    )
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as stream:
        stream.truncate(4 * DOCUMENT_BYTES)  # sparse: nothing on disk, all of it zeros
    with pytest.raises(DocumentError, match="larger than 1 MiB"):
        read_yaml_file(huge)


def test_a_file_that_is_not_utf8_is_located(tmp_path: Path) -> None:
    file = tmp_path / "latin1.yaml"
    file.write_bytes("family_name: Müller\n".encode("latin-1"))
    with pytest.raises(DocumentError) as error:
        read_yaml_file(file)
    assert error.value.located("p.yaml") == "p.yaml: not UTF-8 text (invalid start byte at byte 14)"


# Hypothesis: whatever the text, the reader returns data or says why not, never raises
# anything else; and any data it returns is within the bounds.
@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!,'\"\n #|>?<.0123456789")), max_size=80))
def test_any_text_is_read_or_refused_with_a_located_error(text: str) -> None:
    try:
        data = parse_yaml(text)
    except DocumentError:
        return
    bounded(data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_json_document_stores_plain_json_or_says_why_not(data: Any) -> None:
    try:
        stored = json_document({"x": data}, HISTORY_BYTES)
    except DocumentError:
        return
    assert yaml.safe_load(yaml.safe_dump(stored)) == stored or _has_nan(stored)


def _has_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a": float("nan")}, "nan is not a number JSON can hold at a"),
        ({"a": [float("inf")]}, "inf is not a number JSON can hold at a[0]"),
        ({"a": "x\x00"}, "control character U+0000 at character 2 is not allowed at a"),
        ({"a": "x\x1b]0;t\x07"}, "control character U+001B at character 2 is not allowed at a"),
        ({1: "x"}, "the key 1 is not text"),
        (
            {"a": {"x", "y"}},
            "set is not plain data (text, numbers, true/false, null, lists, mappings) at a",
        ),
        (
            {"a": b"\x00"},
            "bytes is not plain data (text, numbers, true/false, null, lists, mappings) at a",
        ),
        ({"a": 2**40}, "a whole number beyond ±2147483647 at a"),
        (
            {"a": "x" * HISTORY_BYTES},
            f"{HISTORY_BYTES + 9} bytes as JSON, more than the {HISTORY_BYTES} it may take",
        ),
    ],
)
def test_a_free_form_document_takes_only_what_json_holds(data: Any, message: str) -> None:
    with pytest.raises(DocumentError) as error:
        json_document(data, HISTORY_BYTES)
    assert str(error.value) == message


def test_a_free_form_document_given_as_data_is_bounded_as_a_file() -> None:
    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(900):
        inner["a"] = {}
        inner = inner["a"]
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(DocumentError, match="nested deeper than"):
        json_document(deep, HISTORY_BYTES)
    with pytest.raises(DocumentError, match="contains itself"):
        json_document({"a": looped}, HISTORY_BYTES)
    assert json_document({"on": dt.date(2020, 1, 2)}, HISTORY_BYTES) == {"on": "2020-01-02"}


def test_nothing_else_loads_yaml() -> None:
    """Every YAML input goes through dermaplan.documents: no other module parses YAML."""
    parsers = {"load", "safe_load", "load_all", "safe_load_all", "full_load", "unsafe_load",
               "parse", "compose", "compose_all"}  # fmt: skip
    found = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "documents.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "yaml"
        and node.attr in parsers
    ]
    assert found == []


def test_a_character_yaml_does_not_take_is_one_located_line() -> None:
    assert refused("a: b\nc: d\x1be\n") == (
        "f.yaml:2:5: not valid YAML or JSON: character U+001B is not allowed"
    )
