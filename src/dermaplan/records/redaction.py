"""What identifies a patient, found in free text however it was written, and replaced by
`[patient]` before the text leaves the clinic (the adverse event report).

Text and secrets are compared by their letters and digits alone: without accents, case or
punctuation, and across spacing ("Núñez" is "Nunez", "O'Brien" is "Obrien" or "O Brien";
an identifier "190 04 75" is "1900475"). A match covers whole runs of letters or of digits,
so a name is never cut out of a longer word. A phone matches by its last eight digits (or
all, if fewer), written with or without the country code or a trunk 0; the birth date in
any usual numeric form (day, month and year in any order, with two- or four-digit years,
or as one run of digits) or with its month named in English or French. Names count from two
letters, as one word or as the whole name.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

PLACEHOLDER = "[patient]"
PHONE_DIGITS = 8  # a phone's last digits that identify it, whatever prefix is written
PHONE_SEPARATORS = frozenset(" .-/()+")
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan", "janvier", "janv"),
            ("february", "feb", "fevrier", "fev", "fevr"),
            ("march", "mar", "mars"),
            ("april", "apr", "avril", "avr"),
            ("may", "mai"),
            ("june", "jun", "juin"),
            ("july", "jul", "juillet", "juil"),
            ("august", "aug", "aout"),
            ("september", "sep", "sept", "septembre"),
            ("october", "oct", "octobre"),
            ("november", "nov", "novembre"),
            ("december", "dec", "decembre"),
        ),
        start=1,
    )
    for name in names
}
# words that may stand inside a date: an ordinal's suffix after the day (1st, 15th; 1er,
# 2e) and "of" (the 15th of April)
FILLERS = frozenset({"st", "nd", "rd", "th", "er", "e", "of"})


@dataclass(frozen=True, slots=True)
class Identifying:
    """What a report must not carry of a patient, as the record holds it."""

    names: tuple[str, ...]  # family name, given names
    birth_date: dt.date | None = None
    phone: str | None = None
    email: str | None = None
    identifiers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Token:
    """A run of letters, or of digits, folded (no accents, lower case, ASCII digits), with
    its span in the text."""

    text: str
    start: int
    end: int


def _fold(char: str) -> str:
    """A character's letters and digits as compared: "Ñ" is "n", "²" is "2", "'" nothing."""
    kept = []
    for part in unicodedata.normalize("NFKD", char):
        category = unicodedata.category(part)
        if category == "Nd":
            kept.append(str(unicodedata.decimal(part)))
        elif category[0] in "LN":
            kept.append(part.casefold())
    return "".join(kept)


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    run, start, digits = "", 0, False
    for index, char in enumerate(text):
        folded = _fold(char)
        if not folded:
            if unicodedata.category(char)[0] == "M" and run:  # an accent typed apart
                continue
            if run:
                tokens.append(_Token(run, start, index))
            run = ""
            continue
        if run and folded.isdigit() != digits:  # "NIR1900475": a label, then the number
            tokens.append(_Token(run, start, index))
            run = ""
        if not run:
            start, digits = index, folded.isdigit()
        run += folded
    if run:
        tokens.append(_Token(run, start, len(text)))
    return tokens


def skeleton(text: str) -> str:
    """Its letters and digits as compared."""
    return "".join(token.text for token in _tokens(text))


def _spelled(tokens: list[_Token], secret: str) -> Iterator[tuple[int, int]]:
    """Runs of tokens that spell `secret` (a skeleton) end to end."""
    for first, token in enumerate(tokens):
        spelled = ""
        for last in range(first, len(tokens)):
            spelled += tokens[last].text
            if not secret.startswith(spelled):
                break
            if spelled == secret:
                yield token.start, tokens[last].end
                break


def _phone(text: str, tokens: list[_Token], phone: str) -> Iterator[tuple[int, int]]:
    """Runs of digit tokens whose digits end with the phone's last PHONE_DIGITS, taken back
    to the start of the number as written (its country code or trunk 0)."""
    tail = "".join(char for char in phone if char.isdigit())[-PHONE_DIGITS:]
    if not tail:
        return
    for last, token in enumerate(tokens):
        digits, first = "", last
        while first >= 0 and tokens[first].text.isdigit() and len(digits) < len(tail):
            digits = tokens[first].text + digits
            first -= 1
        if len(digits) < len(tail) or not digits.endswith(tail):
            continue
        while first >= 0 and _same_number(text, tokens[first], tokens[first + 1], digits):
            digits = tokens[first].text + digits
            first -= 1
        yield tokens[first + 1].start, token.end


def _same_number(text: str, before: _Token, after: _Token, digits: str) -> bool:
    """Whether `before` is more of the phone number that `after` goes on with: digits, only
    a phone's separators between, and no more digits than a number has (E.164: 15)."""
    gap = text[before.end : after.start]
    return (
        before.text.isdigit()
        and len(gap) <= 2
        and set(gap) <= PHONE_SEPARATORS
        and len(before.text + digits) <= 15
    )


def _year(text: str, born: dt.date) -> bool:
    return text == f"{born.year}" or text == f"{born.year % 100:02d}"


def _number(text: str, value: int) -> bool:
    return text.isdigit() and len(text) <= 2 and int(text) == value


def _is_birth_date(parts: list[str], born: dt.date) -> bool:
    """Day, month and year in one of the orders people write them, the month as a number
    or a name; or one run of eight or six digits."""
    if len(parts) == 1 and parts[0].isdigit() and len(parts[0]) in (6, 8):
        y = f"{born.year}" if len(parts[0]) == 8 else f"{born.year % 100:02d}"
        d, m = f"{born.day:02d}", f"{born.month:02d}"
        return parts[0] in (y + m + d, d + m + y, m + d + y)
    if len(parts) != 3:
        return False
    named = [MONTHS.get(part) for part in parts]
    for day, month, year in ((0, 1, 2), (1, 0, 2), (2, 1, 0)):  # D M Y, M D Y, Y M D
        month_matches = named[month] == born.month or _number(parts[month], born.month)
        if month_matches and _number(parts[day], born.day) and _year(parts[year], born):
            return True
    return False


def _birth_date(tokens: list[_Token], born: dt.date) -> Iterator[tuple[int, int]]:
    words = [token.text for token in tokens]
    for first in range(len(tokens)):
        for last in range(first, min(first + 5, len(tokens))):
            parts = [word for word in words[first : last + 1] if word not in FILLERS]
            if words[last] not in FILLERS and _is_birth_date(parts, born):
                yield tokens[first].start, tokens[last].end


def _name_secrets(names: Iterable[str]) -> set[str]:
    """Each name whole, each of its words (split at spaces and hyphens), and each run of
    letters (split at apostrophes too), from two letters."""
    found = set()
    for name in names:
        pieces = [name, *re.split(r"[\s\-‐‑–—]+", name), *re.findall(r"[^\W\d_]+", name)]
        found |= {skeleton(piece) for piece in pieces}
    return {secret for secret in found if len(secret) >= 2}


def _spans(text: str, who: Identifying) -> list[tuple[int, int]]:
    tokens = _tokens(text)
    secrets = _name_secrets(who.names)
    secrets |= {skeleton(value) for value in (who.email, *who.identifiers) if value}
    spans = [span for secret in secrets if secret for span in _spelled(tokens, secret)]
    if who.phone:
        spans += _phone(text, tokens, who.phone)
    if who.birth_date:
        spans += _birth_date(tokens, who.birth_date)
    return sorted(spans)


def redact(text: str, who: Identifying) -> str:
    """`text` with everything that identifies `who` replaced by [patient]; spans that
    overlap are replaced as one."""
    merged: list[tuple[int, int]] = []
    for start, end in _spans(text, who):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    kept, position = [], 0
    for start, end in merged:
        kept.append(text[position:start])
        position = end
    return PLACEHOLDER.join([*kept, text[position:]])
