"""Text a person gives, and text shown back to one.

A control character makes text do something instead of saying it: ESC and OSC sequences
restyle, retitle or rewrite a terminal, NUL ends a string in C and PostgreSQL refuses it,
a bidirectional override shows text in another order than it is stored. So every free-text
field refuses Unicode's "other" characters (category C: controls C0, DEL and C1, format
characters such as the bidi controls, surrogates, private use, unassigned) where it is
taken: a `Line` all of them, `Prose` all but line feed and tab. Only the zero-width joiner
and non-joiner are kept, which Persian, Indic scripts and emoji need. And every line the
command line prints shows such characters, in rows written before this rule, as visible
escapes (`shown`). It sits below every other module so each layer's input models share it,
and needs only the standard library until a model is built, so printing loads nothing more.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema

JOINERS = frozenset("\u200c\u200d")
_LINE_KEEPS = JOINERS
_PROSE_KEEPS = JOINERS | frozenset("\n\t")


def _refused(char: str, keeps: frozenset[str]) -> bool:
    return char not in keeps and unicodedata.category(char)[0] == "C"


def _spelled(char: str) -> str:
    """U+202E (RIGHT-TO-LEFT OVERRIDE); controls have no name, only their number."""
    code = f"U+{ord(char):04X}"
    name = unicodedata.name(char, "")
    return f"{code} ({name})" if name else code


def text_problem(value: str, *, prose: bool = False) -> str | None:
    """Why `value` cannot be taken as text (a line, or `prose` with line breaks and tabs),
    or None."""
    if value.isprintable():  # no category C at all: the common case, at C speed
        return None
    keeps = _PROSE_KEEPS if prose else _LINE_KEEPS
    for index, char in enumerate(value):
        if _refused(char, keeps):
            one_line = "" if prose or char not in "\n\r\t" else " (this field takes one line)"
            return (
                f"control character {_spelled(char)} at character {index + 1} is not allowed"
                + one_line
            )
    return None


def as_line(value: str) -> str:
    """`value` itself, or ValueError saying which character is refused (a validator)."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def as_prose(value: str) -> str:
    """`value` with Windows line ends as line feeds, or ValueError saying which character
    is refused (a lone carriage return rewrites a terminal's line)."""
    value = value.replace("\r\n", "\n")
    problem = text_problem(value, prose=True)
    if problem is not None:
        raise ValueError(problem)
    return value


class _Checked:
    """A pydantic validator run after the text is a `str` (as AfterValidator, which would
    import pydantic with this module)."""

    def __init__(self, check: Callable[[str], str]) -> None:
        self.check = check

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self.check, handler(source))


# after a field's own constraints (Annotated[str, Field(max_length=100), LINE]), so that
# pydantic checks a length as a string's
LINE = _Checked(as_line)
PROSE = _Checked(as_prose)
Line = Annotated[str, LINE]
Prose = Annotated[str, PROSE]


def _escaped(char: str) -> str:
    """A JSON escape: in JSON output it reads back as the character, in text it shows."""
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"


def shown(text: str, *, one_line: bool = False) -> str:
    """`text` as it may reach a terminal or a pipe: line breaks (a CSV's CR LF too) and tabs
    kept, unless it must stay `one_line`, and every other character a field refuses written
    as its escape."""
    if one_line:
        return _shown_line(text, _LINE_KEEPS)
    *lines, last = text.split("\n")
    return "\n".join(
        [*(_shown_line(line, _PROSE_KEEPS, ends_a_line=True) for line in lines), _shown_line(last)]
    )


def _shown_line(
    line: str, keeps: frozenset[str] = _PROSE_KEEPS, *, ends_a_line: bool = False
) -> str:
    if line.isprintable():
        return line
    body, end = (line[:-1], "\r") if ends_a_line and line.endswith("\r") else (line, "")
    return "".join(_escaped(char) if _refused(char, keeps) else char for char in body) + end
