"""A problem with what someone gave: where it is (a path of fields) and what is wrong.

Every edge reports problems in this one shape: the command line prints one line each, the
web layer will answer with their locations. It sits below every other module (pydantic
alone) so the engine, the knowledge, the records and the application can all use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

Location = tuple[str | int, ...]

# a field path at the start of a problem written as text: "products[0].volumes_ml: ..."
_LEADING_PATH = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\]|\.[A-Za-z_]\w*)*): (.+)$", re.DOTALL)
_PART = re.compile(r"\[(\d+)\]|\.?([A-Za-z_]\w*)")


def path(location: Iterable[str | int], *, within: bool = False) -> str:
    """`("products", 0, "lot")` as `products[0].lot` (`.products[0].lot` `within` a name
    written before it)."""
    text = ""
    for part in location:
        dot = "." if text or within else ""
        text += f"[{part}]" if isinstance(part, int) else f"{dot}{part}"
    return text


@dataclass(frozen=True, slots=True)
class Problem:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{path(self.location)}: {self.message}" if self.location else self.message

    @property
    def where(self) -> str:
        """The path of its field ("products[0].lot"; "" for the input as a whole)."""
        return path(self.location)

    def within(self, field: str) -> bool:
        """Whether it is about `field` (a path) or one of its parts; "" holds only the
        problems of the input as a whole."""
        where = self.where
        if not field or where == field:
            return where == field
        return where.startswith(field) and where[len(field)] in "[."

    @classmethod
    def of(cls, text: str) -> Problem:
        """A problem written as one line; a leading field path becomes its location."""
        match = _LEADING_PATH.match(text)
        if match is None:
            return cls((), text)
        parts: list[str | int] = [
            int(index) if index else name for index, name in _PART.findall(match.group(1))
        ]
        return cls(tuple(parts), match.group(2))


def validation_problems(
    error: ValidationError, prefix: Location = (), what: str = ""
) -> list[Problem]:
    """pydantic's errors as problems: each at its field (under `prefix`), the message
    without pydantic's "Value error, "; `what` names a problem of the whole input."""
    found = []
    for detail in error.errors():
        location = (*prefix, *detail["loc"]) or ((what,) if what else ())
        found.append(Problem(location, detail["msg"].removeprefix("Value error, ")))
    return found
