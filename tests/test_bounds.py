"""Nothing a person gives overflows deeper in: every whole number an edge takes is bounded,
every date and instant lies within the calendar, and the engine's date arithmetic saturates
instead of raising."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import types
from collections.abc import Iterator
from typing import Any, Union, get_args, get_origin

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError
from typer.main import get_command

import dermaplan.clinical.assessment
import dermaplan.knowledge.schema
import dermaplan.records.schemas
from dermaplan.bounds import FIRST_DAY, LARGEST, LAST_DAY, days_later
from dermaplan.cli import COMMANDS
from dermaplan.clinical.assessment import Day
from dermaplan.records.schemas import Instant

INPUT_MODULES = (
    dermaplan.knowledge.schema,
    dermaplan.clinical.assessment,
    dermaplan.records.schemas,
)


def _commands() -> Iterator[tuple[str, Any]]:
    for name, entry in COMMANDS.items():
        app = getattr(importlib.import_module(f"dermaplan.cli.{entry.module}"), entry.attribute)
        found = [(name, get_command(app))]
        while found:
            path, command = found.pop()
            yield path, command
            found += [(f"{path} {n}", c) for n, c in getattr(command, "commands", {}).items()]


def _takes_whole_numbers(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_takes_whole_numbers(arg) for arg in get_args(annotation))
    return annotation is int


def test_every_whole_number_option_of_the_command_line_is_bounded() -> None:
    """A number typed on the command line reaches a query or a column: bounded, it is refused
    with a usage error (exit 2) instead of overflowing there."""
    unbounded = [
        f"{path} {parameter.name}"
        for path, command in _commands()
        for parameter in command.params
        if _takes_whole_numbers(parameter.type_descriptor.annotation)
        and (parameter.min is None or parameter.max is None or parameter.max > LARGEST)
    ]
    assert unbounded == []


def _unbounded_integers(node: Any, where: str) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "integer" and node.get("maximum", LARGEST + 1) > LARGEST:
            yield where
        for key, value in node.items():
            yield from _unbounded_integers(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _unbounded_integers(value, f"{where}/{index}")


@pytest.mark.parametrize("module", INPUT_MODULES, ids=lambda module: module.__name__)
def test_every_whole_number_field_of_an_input_model_is_bounded(module: types.ModuleType) -> None:
    """Files (assessments, records, a clinic's knowledge) are edges too."""
    models = [
        model
        for model in vars(module).values()
        if inspect.isclass(model)
        and issubclass(model, BaseModel)
        and model.__module__ == module.__name__
    ]
    assert models
    unbounded = [
        path
        for model in models
        for path in _unbounded_integers(model.model_json_schema(), model.__name__)
    ]
    assert unbounded == []


@given(st.dates())
def test_a_day_is_taken_only_within_the_calendar(day: dt.date) -> None:
    days = TypeAdapter(Day)
    if not FIRST_DAY <= day <= LAST_DAY:
        with pytest.raises(ValidationError, match=f"is not between {FIRST_DAY} and {LAST_DAY}"):
            days.validate_python(day)
        return
    assert days.validate_python(day) == day


offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)


@given(st.datetimes(timezones=offsets), offsets)
def test_an_instant_is_taken_only_within_the_calendar_and_reads_in_every_zone(
    instant: dt.datetime, zone: dt.timezone
) -> None:
    """Year 1 at +01:00 is before the first instant Python has in UTC: refused, not read."""
    instants = TypeAdapter(Instant)
    if not FIRST_DAY <= instant.date() <= LAST_DAY:
        with pytest.raises(ValidationError, match="is not between"):
            instants.validate_python(instant)
        return
    assert instants.validate_python(instant).astimezone(dt.UTC).astimezone(zone) == instant


@given(st.dates(), st.integers(-(10**30), 10**30) | st.floats(allow_nan=False))
def test_days_later_saturates_instead_of_overflowing(day: dt.date, days: float) -> None:
    moved = days_later(day, days)
    try:
        exact = day + dt.timedelta(days=int(days))
    except OverflowError:
        assert moved in (dt.date.min, dt.date.max)
        assert (moved == dt.date.max) == (days > 0)
    else:
        assert moved == exact
