"""What use cases return: frozen pydantic models that every front end renders its own way
(text, JSON, HTML), detached from the database session."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from dermaplan.records.errors import RecordsError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

T = TypeVar("T")
S = TypeVar("S")

# Values that hold no instant: left as they are without a look inside (a plan or a timeline
# document is thousands of them). Exact types: a subclass, such as a datetime, is looked at.
_NO_INSTANT: frozenset[type] = frozenset({str, int, float, bool, type(None), uuid.UUID, dt.date})


class _TimesAsText:
    """Marks a read model's field whose value holds its times as text (a JSON document, as
    stored or as written for every front end alike): the clinic's clock passes it over."""


Document = Annotated[dict[str, Any], _TimesAsText()]
"""A JSON document (a plan, a timeline): plain values only, its times as text."""


class ReadModel(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True, defer_build=True)


class Refused(ReadModel, Generic[S]):
    """A change a page asked for, refused, and what the page shows again: read in the same
    unit of work, once the refused change was undone (`UnitOfWork.attempt`)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    error: RecordsError
    shown: S


def on_clinic_clock(value: T, where: ZoneInfo) -> T:
    """`value` with every instant in it (in read models, lists, tuples and dicts, however
    deep) given on the clinic's clock: the same instants, the offsets of the clinic's time
    zone, so that no front end shows a time in UTC or converts on its own."""
    if type(value) in _NO_INSTANT:
        return value
    shown: Any = value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        shown = value.astimezone(where)
    elif isinstance(value, BaseModel):
        changed = {
            name: on_clinic_clock(getattr(value, name), where) for name in _with_times(type(value))
        }
        shown = value.model_copy(update=changed)
    elif isinstance(value, list | tuple):
        shown = type(value)(on_clinic_clock(item, where) for item in value)
    elif isinstance(value, dict):
        shown = {key: on_clinic_clock(item, where) for key, item in value.items()}
    return cast(T, shown)


@functools.cache
def _with_times(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of `model` that may hold an instant: all but its `Document`s."""
    return tuple(
        name
        for name, field in model.model_fields.items()
        if not any(isinstance(marker, _TimesAsText) for marker in field.metadata)
    )
