"""Text a person gives refuses control characters in every free-text field of every input
model; text shown back shows any it holds as escapes, never as the characters."""

from __future__ import annotations

import json
import unicodedata
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from dermaplan.clinical import assessment
from dermaplan.records import schemas
from dermaplan.text import JOINERS, shown, text_problem

# every character Unicode calls "other" (category C), as far as this Python knows
CONTROLS = st.characters(categories=["Cc", "Cf", "Cs", "Co", "Cn"]).filter(
    lambda char: char not in JOINERS
)
HOSTILE = ["\x1b[31m", "\x1b]0;owned\x07", "\x00", "\u202e", "\u2066", "\x9b", "\u200b", "\rX"]


def _with(text: str, char: str, at: int) -> str:
    at = min(at, len(text))
    return text[:at] + char + text[at:]


@given(st.text(max_size=20), CONTROLS, st.integers(min_value=0, max_value=20))
def test_a_line_refuses_any_control_character(text: str, char: str, at: int) -> None:
    assert text_problem(_with(text, char, at)) is not None


@given(st.text(max_size=20), CONTROLS, st.integers(min_value=0, max_value=20))
def test_prose_refuses_every_control_character_but_line_feed_and_tab(
    text: str, char: str, at: int
) -> None:
    refused = text_problem(_with(text, char, at), prose=True) is not None
    assert refused or char in "\n\t"


def test_what_a_field_takes() -> None:
    assert text_problem("Núñez-O'Brien 李 😀") is None
    assert text_problem("می\u200cخواهم") is None  # Persian needs the zero-width non-joiner
    assert text_problem("first\nsecond\tthird", prose=True) is None
    assert text_problem("a\nb") == (
        "control character U+000A at character 2 is not allowed (this field takes one line)"
    )
    assert text_problem("a\u202eb") == (
        "control character U+202E (RIGHT-TO-LEFT OVERRIDE) at character 2 is not allowed"
    )


def _text_shapes(text: str) -> list[Any]:
    """The shapes a text field takes text in: alone, in a list, as a mapping's key or value."""
    return [text, [text], {text: 1.0}, {"k": text}, {text: text}]


def _fields(model: type[BaseModel]) -> list[tuple[str, TypeAdapter[Any]]]:
    """Every field of `model` and of the models inside it, each as its own validator."""
    found = []
    for name, info in model.model_fields.items():
        annotation = Annotated[info.annotation, info]  # type: ignore[name-defined]
        found.append((f"{model.__name__}.{name}", TypeAdapter(annotation)))
        for inner in _models_in(info.annotation):
            found += _fields(inner)
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def _accepts(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


INPUT_MODELS = [
    schemas.PatientData,
    schemas.SessionData,
    schemas.AdverseEventData,
    schemas.OutcomeData,
    schemas.ConsentData,
    assessment.Assessment,
]
TEXT_FIELDS = [
    (name, adapter)
    for model in INPUT_MODELS
    for name, adapter in _fields(model)
    if any(_accepts(adapter, shape) for shape in _text_shapes("abc"))
]


def test_the_text_fields_are_found() -> None:
    names = {name for name, _ in TEXT_FIELDS}
    assert {
        "PatientData.family_name",
        "PatientData.history",
        "ProductUse.lot",
        "SessionData.notes",
        "SessionData.areas",
        "AdverseEventData.description",
        "LotInvolved.lot",
        "ConsentData.signer",
        "OutcomeData.notes",
        "Assessment.notes",
    } <= names


@pytest.mark.parametrize(("name", "adapter"), TEXT_FIELDS, ids=[n for n, _ in TEXT_FIELDS])
@settings(max_examples=25)
@given(char=CONTROLS.filter(lambda char: char not in "\n\t"))
def test_every_text_field_of_every_input_model_refuses_control_characters(
    name: str, adapter: TypeAdapter[Any], char: str
) -> None:
    for clean, hostile in zip(_text_shapes("abc"), _text_shapes(f"a{char}bc"), strict=True):
        if _accepts(adapter, clean):
            assert not _accepts(adapter, hostile), (name, hostile)


def _unsafe(char: str) -> bool:
    return char not in "\n\t" and char not in JOINERS and unicodedata.category(char)[0] == "C"


@given(st.text())
def test_shown_text_holds_no_control_character_but_line_breaks_and_tabs(text: str) -> None:
    assert not any(_unsafe(char) for char in shown(text).replace("\r\n", "\n"))


@given(st.text())
def test_shown_json_reads_back_as_the_text(text: str) -> None:
    """Escapes are JSON's, so JSON output shown safe still says exactly what was stored."""
    assert json.loads(shown(json.dumps(text, ensure_ascii=False))) == text


@pytest.mark.parametrize("hostile", HOSTILE)
def test_shown_spells_out_escape_sequences(hostile: str) -> None:
    """A carriage return too, unless it ends a line (a CSV's CR LF)."""
    assert shown(f"name{hostile}") == "name" + "".join(
        f"\\u{ord(c):04x}" if _unsafe(c) else c for c in hostile
    )
