"""Search keys: what is typed finds what was written; a key prefix is a key range."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dermaplan.records.names import search_key, successor


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("  Núñez-O'Brien  ", "nunez obrien"),
        ("MÜLLER, Jürgen", "muller jurgen"),
        ("Straße", "strasse"),
        ("Ǆurić", "dzuric"),
        ("李 小龍", "李 小龍"),
        ("--", ""),
    ],
)
def test_search_keys(name: str, key: str) -> None:
    assert search_key(name) == key


@given(st.text())
def test_keys_are_stable(text: str) -> None:
    assert search_key(search_key(text)) == search_key(text)


@given(prefix=st.text(min_size=1), rest=st.text())
def test_every_extension_of_a_prefix_lies_in_its_range(prefix: str, rest: str) -> None:
    upper = successor(prefix)
    assert prefix <= prefix + rest
    assert upper is None or prefix + rest < upper


@given(prefix=st.text(min_size=1), other=st.text())
def test_nothing_else_lies_in_the_range(prefix: str, other: str) -> None:
    upper = successor(prefix)
    if not other.startswith(prefix):
        assert other < prefix or (upper is not None and other >= upper)


def test_the_range_has_no_top_at_the_last_code_point() -> None:
    assert successor("\U0010ffff") is None
    assert successor("a\U0010ffff") == "b"
    assert successor("\ud7ff") == "\ue000"
