"""The search key of a name: what a receptionist types must find what was written.

The key is lower-case, without accents or apostrophes, other punctuation as one space
("Núñez-O'Brien" → "nunez obrien"). Keys compare by code point on both databases (SQLite's
BINARY collation, PostgreSQL's "C"), so a prefix is the half-open range
[prefix, successor(prefix)), which any B-tree index serves, even from a prepared statement.
"""

from __future__ import annotations

import unicodedata

_DROPPED = frozenset("'’ʼ`´")
_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def search_key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept: list[str] = []
    for char in decomposed:
        category = unicodedata.category(char)
        if char in _DROPPED or category == "Mn":
            continue
        kept.append(char.casefold() if category[0] in "LN" else " ")
    return " ".join("".join(kept).split())


def name_key(family_name: str, given_names: str) -> str:
    """A patient's search key: the name written family name first, as it is searched."""
    return search_key(f"{family_name} {given_names}")


def successor(prefix: str) -> str | None:
    """The least string greater than every string that starts with `prefix` (None: no bound)."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code in _SURROGATES:
            code = _SURROGATES.stop
        if code <= _MAX_CODE_POINT:
            return "".join(chars) + chr(code)
    return None
