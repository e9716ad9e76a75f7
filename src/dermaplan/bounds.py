"""The ranges every edge holds numbers and dates to, so that nothing a person gives overflows
deeper in (a database column, a date in another time zone, a course laid out in days).

Whole numbers stop at what a database INTEGER column holds. Days and instants lie between
1800-01-01 and 2199-12-31: room for any birth date the records take (130 years back) and any
plan, and centuries from the ends of Python's calendar (years 1 and 9999), so that a day
moved by a course or a wait, or an instant read in any time zone, stays representable.
Which dates make sense (no birth date in the future, no session before its patient) the
records decide, within these.

What a person hands over is bounded in size before it is worked on: a document (YAML or
JSON) in bytes, and the data in it however it was given (`dermaplan.documents`): nesting
depth, aliases, values once aliases are expanded; a patient's free-form history as stored
JSON; an image in bytes and in pixels, read from its header before any pixel is decoded.
It sits below every other module (the standard library alone: the command line's help
loads it) so the engine, records and front ends share it.
"""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

LARGEST = 2**31 - 1  # PostgreSQL's INTEGER; more than anything a clinic counts
FIRST_DAY = dt.date(1800, 1, 1)
LAST_DAY = dt.date(2199, 12, 31)

MEBIBYTE = 1024 * 1024
DOCUMENT_BYTES = MEBIBYTE  # a YAML or JSON file: the largest built-in knowledge file is 52 KB
DEPTH = 32  # levels of nesting: the knowledge uses 8
ALIASES = 1000  # YAML aliases, or values met again in given data
VALUES = 100_000  # values once aliases are expanded: the whole built-in knowledge has 9,024
HISTORY_BYTES = 64 * 1024  # a patient's history as stored JSON
PHOTO_BYTES = 50 * MEBIBYTE
PHOTO_PIXELS = 50_000_000  # a 50-megapixel camera; decoded, up to 200 MB
SIGNATURE_BYTES = 256 * 1024  # a drawn signature's PNG
SIGNATURE_PIXELS = 4_000_000

D = TypeVar("D", bound=dt.date)


def calendar_problem(value: dt.date) -> str | None:
    """Why a day or an instant is refused, or None; an instant is judged by its own day,
    before any conversion (which is what would overflow)."""
    day = value.date() if isinstance(value, dt.datetime) else value
    if FIRST_DAY <= day <= LAST_DAY:
        return None
    return f"{value.isoformat()} is not between {FIRST_DAY} and {LAST_DAY}"


def in_calendar(value: D) -> D:
    """`value` itself, or ValueError with its calendar_problem (a pydantic validator)."""
    problem = calendar_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def days_later(day: dt.date, days: float) -> dt.date:
    """`day` moved by whole `days` (earlier when negative), held at the first or last day
    Python can represent instead of overflowing: a wait that outlasts the calendar ends on
    its last day, never sooner."""
    if days >= (dt.date.max - day).days:
        return dt.date.max
    if days <= -(day - dt.date.min).days:
        return dt.date.min
    return day + dt.timedelta(days=int(days))
