"""`dermaplan knowledge check|show`: validate the clinical knowledge (and a clinic's layer
over it) and read one entry with its sources in full."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dermaplan.cli.shell import KnowledgeDirs, fail, group, load, say

knowledge_app = group("Check and read the clinical knowledge.")


@knowledge_app.command("check")
def knowledge_check(
    directory: Annotated[
        Path | None, typer.Argument(help="A clinic directory to check over the built-in one.")
    ] = None,
) -> None:
    """Validate the knowledge (and a clinic layer over it); report every problem."""
    kb = load([directory] if directory else [], cached=False)
    say(
        f"ok: {kb.version} ({' + '.join(kb.layers)}): {len(kb.rules)} rules, "
        f"{len(kb.ingredients)} ingredients, {len(kb.products)} products, "
        f"{len(kb.courses)} course templates, {len(kb.references)} references"
    )


@knowledge_app.command("show")
def knowledge_show(
    kind: Annotated[str, typer.Argument(help="rule, ingredient, product, area, concern, ...")],
    entry_id: Annotated[str, typer.Argument(metavar="ID")],
    knowledge: KnowledgeDirs = None,
) -> None:
    """Print one entry with its sources in full."""
    import yaml

    kb = load(knowledge)
    try:
        entry = kb.entry(kind, entry_id)
    except KeyError as error:
        fail([str(error.args[0])])
    data = entry.model_dump(mode="json", by_alias=True, exclude_none=True)
    say(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
    cited = sorted(_source_ids(data))
    if cited:
        say("\nsources:")
        for ref in cited:
            say(f"  [{ref}] {kb.references[ref].citation}")


def _source_ids(data: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "sources" and isinstance(value, list):
                found.update(str(v) for v in value)
            else:
                found |= _source_ids(value)
    elif isinstance(data, list):
        for item in data:
            found |= _source_ids(item)
    return found
