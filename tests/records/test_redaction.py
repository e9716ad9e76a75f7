"""Whatever identifies a patient is found in free text however it was re-spelled (accents,
case, punctuation, spacing, date formats, the digits of a phone or an identifier), and
nothing else is taken out."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from dermaplan.records.redaction import PLACEHOLDER, Identifying, redact, skeleton
from dermaplan.records.schemas import PatientData

FILLER = ["swelling", "after", "the", "session", "on", "cheeks", "called", "said", "lot", "day"]
LETTERS = "abcdefghijklmnopqrstuvwxyzáàâäãåçéèêëíìîïñóòôöõøúùûüýÿ"
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]  # fmt: skip
FRENCH_MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                 "septembre", "octobre", "novembre", "décembre"]  # fmt: skip


def _word(letters: str) -> str:
    return letters[0].upper() + letters[1:]


# a name of one to three words joined by a space, a hyphen or an apostrophe: Núñez-O'Brien
words = st.text(LETTERS, min_size=2, max_size=9).map(_word)
names = st.builds(
    lambda first, rest: first + "".join(join + word for join, word in rest),
    words,
    st.lists(st.tuples(st.sampled_from([" ", "-", "'"]), words), max_size=2),
).filter(lambda name: all(skeleton(word) not in FILLER for word in re.split(r"\W+", name)))


@st.composite
def respelled_name(draw: st.DrawFn, name: str) -> str:
    """As someone might type it: accents dropped or kept, any case, an apostrophe or a
    hyphen dropped, doubled or made a space."""
    if draw(st.booleans()):
        name = "".join(
            c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
        )
    name = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in name)
    for mark in ("'", "-"):
        name = name.replace(mark, draw(st.sampled_from(["", " ", mark, "’", "--"])))
    return unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD"])), name)


def respelled_date(day: dt.date, written: int) -> str:
    y, m, d = day.year, day.month, day.day
    return [
        f"{y}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y}", f"{d}.{m}.{y}", f"{m:02d}/{d:02d}/{y}",
        f"{d:02d}-{m:02d}-{y % 100:02d}", f"{y}{m:02d}{d:02d}", f"{d:02d}{m:02d}{y}",
        f"{d} {MONTH_NAMES[m - 1]} {y}", f"{MONTH_NAMES[m - 1]} {d}, {y}",
        f"{MONTH_NAMES[m - 1][:3]}. {d}th {y}", f"the {d}th of {MONTH_NAMES[m - 1]} {y}",
        f"{d} {FRENCH_MONTHS[m - 1]} {y}", f"{d:02d} / {m:02d} / {y % 100:02d}",
    ][written]  # fmt: skip


def grouped(digits: str, sizes: list[int], separator: str) -> str:
    parts, rest = [], digits
    for size in sizes:
        if not rest:
            break
        parts.append(rest[:size])
        rest = rest[size:]
    return separator.join([*parts, rest] if rest else parts)


@st.composite
def phones(draw: st.DrawFn) -> tuple[str, str]:
    """A phone as recorded (international) and as written elsewhere: national with its
    trunk 0, international with +, 00 or (0), digits grouped any way."""
    country = str(draw(st.integers(1, 998)))
    national = draw(st.from_regex(r"[1-9][0-9]{7,9}", fullmatch=True))
    stored = f"+{country} {grouped(national, [1, 2, 2, 2, 2], ' ')}"
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=6))
    separator = draw(st.sampled_from(["", " ", ".", "-", "/"]))
    written = draw(
        st.sampled_from(
            [
                "0" + grouped(national, sizes, separator),
                f"+{country} {grouped(national, sizes, separator)}",
                f"00{country}{separator}{grouped(national, sizes, separator)}",
                f"+{country} (0){grouped(national, sizes, separator)}",
            ]
        )
    )
    return stored, written


@st.composite
def identifiers(draw: st.DrawFn) -> tuple[str, str]:
    value = draw(st.from_regex(r"[0-9A-Z]{6,15}", fullmatch=True))
    stored = grouped(value, draw(st.lists(st.integers(1, 4), max_size=5)), " ")
    written = grouped(
        value.lower() if draw(st.booleans()) else value,
        draw(st.lists(st.integers(1, 4), max_size=5)),
        draw(st.sampled_from(["", " ", "-", "."])),
    )
    return stored, written


@st.composite
def patients_and_respellings(draw: st.DrawFn) -> tuple[Identifying, list[str]]:
    family, given = draw(names), draw(names)
    born = draw(st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)))
    phone, phone_written = draw(phones())
    identifier, identifier_written = draw(identifiers())
    PatientData.parse(  # what the records would take
        {"family_name": family, "given_names": given, "birth_date": born.isoformat(),
         "phone": phone, "identifiers": {"chart": identifier}}
    )  # fmt: skip
    who = Identifying((family, given), born, phone, None, (identifier,))
    written = [
        draw(respelled_name(family)),
        draw(respelled_name(given)),
        respelled_date(born, draw(st.integers(0, 12))),
        phone_written,
        identifier_written,
    ]
    return who, written


def _survives(secret: str, text: str) -> bool:
    """`secret` in `text` as a whole (not inside a longer word or number), ignoring case."""
    return re.search(rf"(?<![^\W_]){re.escape(secret)}(?![^\W_])", text, re.I) is not None


@settings(max_examples=400, deadline=None)
@given(patients_and_respellings(), st.lists(st.sampled_from(FILLER), max_size=6), st.randoms())
def test_no_respelling_of_what_identifies_the_patient_survives(
    case: tuple[Identifying, list[str]], filler: list[str], order: object
) -> None:
    who, written = case
    pieces = [*filler, *written]
    order.shuffle(pieces)  # type: ignore[attr-defined]
    text = " ".join(pieces) + "."
    redacted = redact(text, who)
    for secret in written:
        assert not _survives(secret, redacted), (secret, redacted)
    for word in filler:
        assert _survives(word, redacted)


def test_exact_and_respelled_forms_are_replaced_and_the_rest_kept() -> None:
    who = Identifying(
        names=("Núñez-O'Brien", "María"),
        birth_date=dt.date(1988, 4, 12),
        phone="+33 6 12 34 56 78",
        email="maria@example.org",
        identifiers=("1 88 04 75 123 456 78",),
    )
    text = (
        "Nunez Obrien (maria@Example.org) born 12/04/1988, 1988-04-12; tel 06.12.34.56.78; "
        "NIR 188047512345678. Swelling on 2026-04-12 after 12 days, lot HB2391; Nunezian."
    )
    assert redact(text, who) == (
        f"{PLACEHOLDER} ({PLACEHOLDER}) born {PLACEHOLDER}, {PLACEHOLDER}; tel "
        f"{PLACEHOLDER}; NIR {PLACEHOLDER}. Swelling on 2026-04-12 after 12 days, lot HB2391; "
        "Nunezian."
    )
