"""The `dermaplan` command. Heavy modules are imported inside commands so --help is quick.

Errors a person can cause end with exit code 2 and one located line per problem.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dermaplan.cli_clinic import clinic_app
from dermaplan.cli_clinical_events import adverse_app, outcomes_app
from dermaplan.cli_consents import consents_app
from dermaplan.cli_demo import demo_app
from dermaplan.cli_photos import photos_app
from dermaplan.cli_records import (
    audit_app,
    backup,
    consults_app,
    courses_app,
    db_app,
    init,
    patients_app,
    recall,
    restore,
    save_consult,
    sessions_app,
)
from dermaplan.cli_shell import act_as, fail
from dermaplan.cli_staff import staff_app

if TYPE_CHECKING:
    from dermaplan.clinical.assessment import Assessment
    from dermaplan.clinical.plan import Plan
    from dermaplan.knowledge import KnowledgeBase

app = typer.Typer(
    help="Dermaplan: plan, explain and record mesotherapy and microneedling.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def acting_member(
    staff: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="STAFF",
            help="The member of staff acting (an id or a name; default: $DERMAPLAN_STAFF).",
        ),
    ] = None,
) -> None:
    """Dermaplan: plan, explain and record mesotherapy and microneedling."""
    act_as(staff)


knowledge_app = typer.Typer(help="Check and read the clinical knowledge.", no_args_is_help=True)
app.add_typer(knowledge_app, name="knowledge")
app.command()(init)
app.add_typer(db_app, name="db")
app.add_typer(patients_app, name="patients")
app.add_typer(audit_app, name="audit")
app.add_typer(sessions_app, name="sessions")
app.add_typer(courses_app, name="courses")
app.add_typer(consults_app, name="consults")
app.command()(recall)
app.add_typer(demo_app, name="demo")
app.add_typer(adverse_app, name="adverse-events")
app.add_typer(outcomes_app, name="outcomes")
app.add_typer(consents_app, name="consents")
app.add_typer(staff_app, name="staff")
app.add_typer(clinic_app, name="clinic")
app.add_typer(photos_app, name="photos")
app.command()(backup)
app.command()(restore)


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


class SchemaName(StrEnum):
    ASSESSMENT = "assessment"
    PLAN = "plan"


KnowledgeDirs = Annotated[
    list[Path] | None,
    typer.Option(
        "--knowledge",
        "-k",
        help="A clinic knowledge directory layered over the built-in one (repeatable).",
    ),
]


def load(dirs: list[Path] | None, *, cached: bool = True) -> KnowledgeBase:
    """The knowledge with `dirs` layered over it, kept between commands unless `cached` is
    false (knowledge.cache); problems exit 2."""
    from dermaplan.knowledge import KnowledgeError, load_knowledge
    from dermaplan.knowledge.cache import load_cached_knowledge

    try:
        return (load_cached_knowledge if cached else load_knowledge)(dirs or [])
    except KnowledgeError as error:
        fail(error.problems)


def read_document(path: Path) -> Any:
    """YAML or JSON (JSON is YAML) from a file, or a located error."""
    import yaml

    from dermaplan.knowledge.loader import parse_yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail([f"{path}: no such file"])
    except (OSError, UnicodeDecodeError) as error:
        fail([f"{path}: cannot be read: {error}"])
    try:
        return parse_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error)
        fail([f"{where}: not valid YAML or JSON: {problem}"])
    except ValueError as error:  # a well-formed timestamp that is no date, e.g. 2026-13-01
        fail([f"{path}: not valid YAML or JSON: {error}"])


@app.command()
def consult(
    file: Annotated[Path, typer.Argument(help="The assessment (YAML or JSON).")],
    output_format: Annotated[Format, typer.Option("--format", "-f")] = Format.TEXT,
    knowledge: KnowledgeDirs = None,
    interactive: Annotated[
        bool, typer.Option("--interactive", "-i", help="Ask the questions and write FILE.")
    ] = False,
    save: Annotated[
        str | None,
        typer.Option(metavar="PATIENT_ID", help="Also store the consult as a draft for a patient."),
    ] = None,
) -> None:
    """Screen, decide and plan for one patient."""
    from dermaplan.clinical.plan import plan_json

    kb = load(knowledge)
    if interactive:
        from dermaplan.interview import interview

        if file.exists():
            fail([f"{file}: already exists; choose a new file name (nothing was overwritten)"])
        data = interview(kb)
        write_assessment(file, data)
        typer.echo(f"Assessment written to {file}", err=True)
    else:
        data = read_document(file)
    if save is None:
        plan = run_engine(file, data, kb)
    else:
        plan = save_consult(save, read_assessment(file, data, kb), kb)
    if output_format is Format.JSON:
        sys.stdout.write(plan_json(plan))
    elif output_format is Format.MARKDOWN:
        from dermaplan.report import markdown

        sys.stdout.write(markdown(plan, f"Plan for {file.stem}"))
    else:
        from rich.console import Console

        from dermaplan.report import rich_view

        console = Console()
        for part in rich_view(plan, f"Plan for {file.stem}"):
            console.print(part)


def read_assessment(file: Path, data: Any, kb: KnowledgeBase) -> Assessment:
    """The assessment read from FILE; problems exit 2."""
    from dermaplan.clinical.assessment import AssessmentError, parse_assessment

    try:
        return parse_assessment(data, kb)
    except AssessmentError as error:
        fail([f"{file}: {problem}" for problem in error.problems])


def run_engine(file: Path, data: Any, kb: KnowledgeBase) -> Plan:
    """The engine's plan for the assessment read from FILE; problems exit 2."""
    from dermaplan.clinical.consult import consult as run_consult

    return run_consult(read_assessment(file, data, kb), kb)


def write_assessment(path: Path, data: dict[str, Any]) -> None:
    import yaml

    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    write_new_file(path, text.encode("utf-8"))


def write_new_file(path: Path, content: bytes) -> None:
    """Write once, atomically: a crash leaves either no file or the whole file."""
    import os
    import tempfile

    directory = path.parent if str(path.parent) else Path()
    try:
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        fail([f"{path}: cannot be written ({error.strerror})"])
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.link(temporary, path)  # fails if the file appeared meanwhile: never overwrite
    except FileExistsError:
        fail([f"{path}: already exists; nothing was overwritten"])
    finally:
        os.unlink(temporary)


@app.command()
def schema(name: SchemaName) -> None:
    """Print the published JSON Schema of the assessment or the plan."""
    import json

    from dermaplan.schemas import assessment_schema, plan_schema

    document = assessment_schema() if name is SchemaName.ASSESSMENT else plan_schema()
    typer.echo(json.dumps(document, indent=2, sort_keys=True))


@knowledge_app.command("check")
def knowledge_check(
    directory: Annotated[
        Path | None, typer.Argument(help="A clinic directory to check over the built-in one.")
    ] = None,
) -> None:
    """Validate the knowledge (and a clinic layer over it); report every problem."""
    kb = load([directory] if directory else [], cached=False)
    typer.echo(
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
    typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
    cited = sorted(_source_ids(data))
    if cited:
        typer.echo("\nsources:")
        for ref in cited:
            typer.echo(f"  [{ref}] {kb.references[ref].citation}")


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


def main() -> None:
    app()
