"""`dermaplan consult`: screen, decide and plan for one patient from an assessment file (or
an interview), printed for a person or as JSON; and `dermaplan schema`, the published JSON
Schemas of the assessment and the plan. Nothing here opens the records unless `--save`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dermaplan.cli.shell import (
    KnowledgeDirs,
    fail,
    load,
    new_file,
    permitted,
    read_document,
    say,
    single,
)

if TYPE_CHECKING:
    from dermaplan.clinical.assessment import Assessment
    from dermaplan.clinical.plan import Plan
    from dermaplan.knowledge import KnowledgeBase

consult_app = single()
schema_app = single()


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


class SchemaName(StrEnum):
    ASSESSMENT = "assessment"
    PLAN = "plan"


@consult_app.command()
def consult(
    file: Annotated[Path, typer.Argument(help="The assessment (YAML or JSON).")],
    output_format: Annotated[
        Format, typer.Option("--format", "-f", help="text, json or markdown.")
    ] = Format.TEXT,
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

    if save is None:
        kb = load(knowledge)
        plan = run_engine(file, _given(file, kb, interactive), kb)
    else:
        from dermaplan.app import consults
        from dermaplan.cli.consults import save_consult

        with permitted(consults.save):
            kb = load(knowledge)
            data = _given(file, kb, interactive)
            plan = save_consult(save, read_assessment(file, data, kb), kb)
    if output_format is Format.JSON:
        say(plan_json(plan), nl=False)
    elif output_format is Format.MARKDOWN:
        from dermaplan.report import markdown

        say(markdown(plan, f"Plan for {file.stem}"), nl=False)
    else:
        from dermaplan.cli.render import drawn
        from dermaplan.report import rich_view

        say(drawn(rich_view(plan, f"Plan for {file.stem}")))


def _given(file: Path, kb: KnowledgeBase, interactive: bool) -> Any:
    """The assessment as raw data: read from FILE, or asked for and written to it."""
    if not interactive:
        return read_document(file)
    from dermaplan.interview import interview

    if file.exists():
        fail([f"{file}: already exists; choose a new file name (nothing was overwritten)"])
    with new_file(file) as output:  # a folder that cannot take it is said before asking
        data = interview(kb)
        output.write(assessment_yaml(data))
    say(f"Assessment written to {file}", err=True)
    return data


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


def assessment_yaml(data: dict[str, Any]) -> bytes:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode("utf-8")


@schema_app.command()
def schema(name: SchemaName) -> None:
    """Print the JSON Schema of the assessment or the plan."""
    import json

    from dermaplan.schemas import assessment_schema, plan_schema

    document = assessment_schema() if name is SchemaName.ASSESSMENT else plan_schema()
    say(json.dumps(document, indent=2, sort_keys=True))
