"""The layers of docs/architecture.md: each package imports only the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dermaplan

PACKAGE = Path(dermaplan.__file__).parent
# what each layer may not import (the layers above it)
EVERY_LAYER = (
    "dermaplan.knowledge",
    "dermaplan.clinical",
    "dermaplan.records",
    "dermaplan.app",
    "dermaplan.cli",
    "dermaplan.web",
)
FRONT_ENDS = ("dermaplan.cli", "dermaplan.web")
FORBIDDEN = {
    "problems": EVERY_LAYER,
    "bounds": EVERY_LAYER,
    "text": EVERY_LAYER,
    "documents": EVERY_LAYER,
    "knowledge": ("dermaplan.clinical", "dermaplan.records", "dermaplan.app", *FRONT_ENDS),
    "clinical": ("dermaplan.records", "dermaplan.app", *FRONT_ENDS),
    "records": ("dermaplan.app", *FRONT_ENDS),
    "app": FRONT_ENDS,
    "cli": ("dermaplan.web",),  # `serve` names the web app's factory, never imports it
    "web": ("dermaplan.cli",),
}


def above(name: str, module: str) -> bool:
    """Whether `name` is `module` or inside it."""
    return name == module or name.startswith(f"{module}.")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    module = PACKAGE / f"{layer}.py"  # a module below every layer
    files = [module] if module.is_file() else (PACKAGE / layer).rglob("*.py")
    crossings = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in sorted(imported(path))
        if any(above(name, layer_above) for layer_above in FORBIDDEN[layer])
    ]
    assert crossings == []


def test_the_enums_of_the_records_need_no_database() -> None:
    assert not {n for n in imported(PACKAGE / "records" / "enums.py") if "sqlalchemy" in n}


# what a front end may take from the records: their words, input models, errors and
# settings, and the renderers of the documents they return; everything else goes through
# the application layer
FRONT_END_MAY_USE = {
    "dermaplan.records.enums",
    "dermaplan.records.schemas",
    "dermaplan.records.errors",
    "dermaplan.records.settings",
    "dermaplan.records.plans",  # the typed reader of a stored plan (a read model's field)
    "dermaplan.records.timeline",  # timeline_lines: the timeline document as text
    "dermaplan.records.adverse",  # report_text: the report document as text
}


@pytest.mark.parametrize("front_end", ["cli", "web"])
def test_a_front_end_reaches_the_records_only_through_the_application_layer(
    front_end: str,
) -> None:
    crossings = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in (PACKAGE / front_end).rglob("*.py")
        for name in sorted(imported(path))
        if above(name, "dermaplan.records") and name not in FRONT_END_MAY_USE
    ]
    assert crossings == []


def test_the_web_app_opens_no_transaction_and_checks_no_role() -> None:
    """A request runs its use case through `Application.run`, which enters the unit and
    whose use case checks the role: the web names neither a transaction, a unit nor a role
    check in its code."""
    forbidden = {"transaction", "unit", "require", "USE_CASES", "roles", "acting"}
    found = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in (PACKAGE / "web").rglob("*.py")
        for name in sorted(names(path) & forbidden)
    ]
    assert found == []


def names(path: Path) -> set[str]:
    """Every name and attribute the module's code uses (its docstrings left aside)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.add(node.asname or node.name.rsplit(".", 1)[-1])
    return found
