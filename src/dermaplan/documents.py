"""Plain data from what people give: the one YAML reader (JSON is YAML) for every file the
program reads, and the bounds any nested data is held to, from a file or not.

YAML can say more than data. A repeated key keeps the last value silently; aliases expand a
400-byte file to gigabytes ("billion laughs") or name the value that holds them; nesting
runs deep enough to exhaust the stack; tags build bytes and sets. The reader refuses each
with a located message, and returns mappings, lists, text, numbers, booleans, null, and the
dates and times YAML writes unquoted (the files' dates are written so; a free-form
document stores their ISO text). Data given otherwise (a web form's JSON) is held to the same
bounds (`bounded`), and a free-form document stored as JSON to more (`json_document`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dermaplan.bounds import (
    ALIASES,
    DEPTH,
    DOCUMENT_BYTES,
    LARGEST,
    MEBIBYTE,
    VALUES,
)
from dermaplan.problems import Location
from dermaplan.problems import path as field_path
from dermaplan.text import text_problem

if TYPE_CHECKING:
    import yaml

TEXT_CHARS = DOCUMENT_BYTES  # characters of text once aliases are expanded
_MERGE = "tag:yaml.org,2002:merge"
_SHOWN_PATH = 60  # characters of a path of fields shown: a deep one is cut


class DocumentError(ValueError):
    """Data that cannot be taken: what is wrong, and where (a line and column of the file,
    or a path of fields)."""

    def __init__(
        self, message: str, *, line: int | None = None, column: int | None = None, at: Location = ()
    ) -> None:
        where = field_path(at)
        if len(where) > _SHOWN_PATH:
            where = where[: _SHOWN_PATH - 1] + "…"
        super().__init__(message + (f" at {where}" if at else ""))
        self.line = line
        self.column = column

    def located(self, where: str) -> str:
        """One line for a person: `where` (a file), the line and column if known, what."""
        if self.line is None:
            return f"{where}: {self}"
        return f"{where}:{self.line}:{self.column}: {self}"


@functools.cache
def _plain_loader() -> type[yaml.SafeLoader]:
    """The safe loader (libyaml's parser when PyYAML has it, as its wheels do: several times
    faster), refusing a key given twice in a mapping and the tags that build more than plain
    data. Made on first use: the records check data without loading YAML."""
    import yaml

    base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class PlainLoader(base):  # type: ignore[valid-type, misc]
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            """A merge key's `<<` may be overridden: that is what it is for."""
            first: dict[Any, yaml.Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue
                key = self.construct_object(key_node, deep=deep)
                mark = key_node.start_mark
                try:
                    seen = first.get(key)
                except TypeError:  # unhashable: the constructor says so below
                    continue
                if seen is not None:
                    raise DocumentError(
                        f"key {key!r} is given twice, on lines {seen.line + 1} and "
                        f"{mark.line + 1} (the last would silently replace the first)",
                        line=mark.line + 1,
                        column=mark.column + 1,
                    )
                first[key] = mark
            result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
            return result

    def not_plain(loader: yaml.SafeLoader, node: yaml.Node) -> None:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"{node.tag.replace('tag:yaml.org,2002:', '!!')} is not plain data "
            "(text, numbers, lists, mappings)",
            node.start_mark,
        )

    for tag in ("binary", "set", "omap", "pairs"):
        PlainLoader.add_constructor(f"tag:yaml.org,2002:{tag}", not_plain)
    return PlainLoader


def _too_large() -> DocumentError:
    return DocumentError(f"larger than {DOCUMENT_BYTES // MEBIBYTE} MiB, the limit of a document")


def parse_yaml(text: str) -> Any:
    """YAML (or JSON) into plain data within the bounds, or DocumentError."""
    import yaml

    if len(text) > DOCUMENT_BYTES:
        raise _too_large()
    try:
        data = yaml.load(text, Loader=_plain_loader())  # noqa: S506 - a safe loader
    except DocumentError:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise DocumentError(
            f"not valid YAML or JSON: {error.problem}",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.reader.ReaderError as error:  # a character YAML does not take, raw
        line = text.count("\n", 0, error.position) + 1
        column = error.position - text.rfind("\n", 0, error.position)
        raise DocumentError(
            f"not valid YAML or JSON: character U+{error.character:04X} is not allowed",
            line=line,
            column=column,
        ) from None
    except yaml.YAMLError as error:  # one line, whatever PyYAML wrote
        raise DocumentError(f"not valid YAML or JSON: {' '.join(str(error).split())}") from None
    except (ValueError, OverflowError) as error:  # a date off the calendar, a 5000-digit number
        raise DocumentError(f"not valid YAML or JSON: {error}") from None
    except RecursionError:  # the pure-Python parser, where libyaml is missing
        raise DocumentError(f"nested deeper than {DEPTH} levels") from None
    bounded(data)
    return data


def read_yaml_file(path: Path) -> Any:
    """A file's YAML (or JSON) as plain data, never reading more than a document may hold;
    DocumentError for its content, OSError when it cannot be read at all."""
    with path.open("rb") as stream:
        content = stream.read(DOCUMENT_BYTES + 1)
    if len(content) > DOCUMENT_BYTES:
        raise _too_large()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DocumentError(f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    return parse_yaml(text)


_Link = tuple[Any, str | int] | None  # (the link before, a name): a path built as walked


def _location(link: _Link) -> Location:
    names: list[str | int] = []
    while link is not None:
        link, name = link
        names.append(name)
    return tuple(reversed(names))


class _Measure:
    """One walk over nested data: every value counted as often as it is reached (an alias
    is its whole value again), each mapping and list measured once."""

    def __init__(self) -> None:
        self.measured: dict[int, tuple[int, int, int]] = {}  # id: values, characters, levels
        self.open: set[int] = set()  # the containers being walked: one met again holds itself
        self.aliases = 0

    def refuse(self, message: str, at: _Link) -> DocumentError:
        return DocumentError(message, at=_location(at))

    def walk(
        self, value: dict[Any, Any] | list[Any], at: _Link, depth: int
    ) -> tuple[int, int, int]:
        key = id(value)
        if key in self.open:
            raise self.refuse("a value that contains itself (an alias inside its anchor)", at)
        if key in self.measured:
            self.aliases += 1
            if self.aliases > ALIASES:
                raise self.refuse(f"more than {ALIASES} aliases", at)
            measured = self.measured[key]
        else:
            if depth > DEPTH:
                raise self.refuse(f"nested deeper than {DEPTH} levels", at)
            self.open.add(key)
            measured = self._contents(value, at, depth)
            self.open.discard(key)
            self.measured[key] = measured
        if depth + measured[2] - 1 > DEPTH:
            raise self.refuse(f"nested deeper than {DEPTH} levels", at)
        return measured

    def _contents(
        self, value: dict[Any, Any] | list[Any], at: _Link, depth: int
    ) -> tuple[int, int, int]:
        values, characters, levels = 1, 0, 1
        mapping = isinstance(value, dict)
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for name, item in items:
            if mapping:
                values += 1
                if isinstance(name, str):
                    characters += len(name)
            if isinstance(item, dict | list):
                link = (at, name if isinstance(name, str | int) else str(name))
                inner_values, inner_characters, inner_levels = self.walk(item, link, depth + 1)
                values += inner_values
                characters += inner_characters
                levels = max(levels, inner_levels + 1)
            else:
                values += 1
                if isinstance(item, str):
                    characters += len(item)
            if values > VALUES:
                raise self.refuse(f"more than {VALUES} values once aliases are expanded", at)
            if characters > TEXT_CHARS:
                raise self.refuse(
                    f"more than {TEXT_CHARS // MEBIBYTE} Mi characters of text once aliases "
                    "are expanded",
                    at,
                )
        return values, characters, levels


def bounded(data: Any) -> None:
    """DocumentError if `data` nests deeper, holds more aliases, or expands to more values or
    text than any document may, or contains itself."""
    if isinstance(data, dict | list):
        _Measure().walk(data, None, 1)


def json_document(data: Any, limit: int) -> Any:
    """`data` (within the bounds) as the JSON it is stored as: text keys, dates as ISO text,
    whole numbers within a database INTEGER, finite numbers, text without control
    characters (line breaks and tabs allowed), at most `limit` bytes once written; or
    DocumentError saying what and where."""
    bounded(data)
    document = _json_value(data, ())
    size = len(json.dumps(document, ensure_ascii=False).encode("utf-8"))
    if size > limit:
        raise DocumentError(f"{size} bytes as JSON, more than the {limit} it may take")
    return document


def _json_value(value: Any, at: Location) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        problem = text_problem(value, prose=True)
        if problem is not None:
            raise DocumentError(problem, at=at)
        return value
    if isinstance(value, int):
        if not -LARGEST <= value <= LARGEST:
            raise DocumentError(f"a whole number beyond ±{LARGEST}", at=at)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DocumentError(f"{value} is not a number JSON can hold", at=at)
        return value
    if isinstance(value, dt.date):  # dt.datetime too
        return value.isoformat()
    if isinstance(value, list):
        return [_json_value(item, (*at, index)) for index, item in enumerate(value)]
    if isinstance(value, dict):
        document = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise DocumentError(f"the key {key!r} is not text", at=at)
            problem = text_problem(key)
            if problem is not None:
                raise DocumentError(f"key {key!r}: {problem}", at=at)
            document[key] = _json_value(item, (*at, key))
        return document
    raise DocumentError(
        f"{type(value).__name__} is not plain data (text, numbers, true/false, null, lists, "
        "mappings)",
        at=at,
    )
