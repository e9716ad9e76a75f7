"""Problems carry their location, whether pydantic found them or a check wrote them as text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from dermaplan.problems import Problem, path, validation_problems
from dermaplan.records.errors import InvalidInput

names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
locations = st.tuples(names).flatmap(
    lambda first: st.lists(st.one_of(names, st.integers(0, 99)), max_size=4).map(
        lambda rest: (*first, *rest)
    )
)
messages = st.text(min_size=1).filter(lambda m: m.strip() == m and m)


@given(locations, messages)
def test_a_located_problem_survives_being_written_as_a_line(
    location: tuple[str | int, ...], message: str
) -> None:
    assert Problem.of(str(Problem(location, message))) == Problem(location, message)


def test_a_line_without_a_field_path_has_no_location() -> None:
    line = "consult 1234 is a draft: revise it instead"
    assert Problem.of(line) == Problem((), line)


class Lot(BaseModel):
    number: str


class Session(BaseModel):
    products: list[Lot]


def test_pydantic_errors_become_problems_at_their_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        Session.model_validate({"products": [{"number": "L1"}, {}]})
    (problem,) = validation_problems(caught.value, prefix=("session",))
    assert problem.location == ("session", "products", 1, "number")
    assert path(problem.location) == "session.products[1].number"
    assert str(problem) == "session.products[1].number: Field required"


def test_a_records_error_keeps_each_problem_located() -> None:
    error = InvalidInput(["products[0].lot: expired", Problem(("areas", 2), "unknown area")])
    assert [p.location for p in error.details] == [("products", 0, "lot"), ("areas", 2)]
    assert error.problems == ["products[0].lot: expired", "areas[2]: unknown area"]


@given(locations, locations, messages)
def test_a_problem_is_within_a_field_exactly_when_its_location_starts_with_the_fields(
    location: tuple[str | int, ...], other: tuple[str | int, ...], message: str
) -> None:
    """What a form shows under a field: its own problems and its parts', never a sibling's
    whose name merely starts the same ("product" is not within "products")."""
    problem = Problem(location, message)
    for cut in range(len(location) + 1):
        assert problem.within(path(location[:cut])) == (cut > 0 or not location)
    assert problem.within(path(other)) == (location[: len(other)] == other)
    assert Problem((), message).within("")
    assert not problem.within(path(location) + "x")
