"""The clinical event commands: `adverse-events` (record, follow up, close, report) and
`outcomes record|list`, each one use case of `dermaplan.app.adverse` or `.outcomes`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.cli_shell import FormatOption, OutputFormat, call, fail, parse_id, patient_id

if TYPE_CHECKING:
    from dermaplan.app.adverse import AdverseEventVersion
    from dermaplan.app.outcomes import OutcomeEntry
    from dermaplan.records.schemas import AdverseEventData

adverse_app = typer.Typer(
    help="Record adverse events and report them to a manufacturer or regulator.",
    no_args_is_help=True,
)
outcomes_app = typer.Typer(
    help="Record and list outcome scores (GAIS, scar grade, ...).", no_args_is_help=True
)

EVENT_ID = "an adverse event id (a UUID, as `adverse-events record` prints)"


def _event_file(file: Path) -> AdverseEventData:
    from dermaplan.cli import read_document
    from dermaplan.records.errors import InvalidInput
    from dermaplan.records.schemas import AdverseEventData

    try:
        return AdverseEventData.parse(read_document(file), where=f"{file}: ")
    except InvalidInput as error:
        fail(error.problems)


def _said(version: AdverseEventVersion) -> str:
    return f"adverse event {version.id} ({version.status.value})"


@adverse_app.command("record")
def adverse_record(
    file: Annotated[Path, typer.Argument(help="The adverse event (YAML or JSON).")],
) -> None:
    """Record an adverse event reported by the practitioner acting; `closed: true` in the
    file freezes it at once."""
    from dermaplan.app import adverse

    typer.echo(f"recorded {_said(call(adverse.record, _event_file(file)))}")


@adverse_app.command("follow-up")
def adverse_follow_up(
    event: Annotated[str, typer.Argument(metavar="ID")],
    file: Annotated[Path, typer.Argument(help="The event as it now stands (YAML or JSON).")],
    reason: Annotated[str, typer.Option(help="What the follow-up adds or corrects.")],
) -> None:
    """Record a new version of an event (open or closed), reported by the practitioner
    acting; the old one is kept as history."""
    from dermaplan.app import adverse

    event_id = parse_id(event, EVENT_ID)
    followed = call(adverse.follow_up, event_id, _event_file(file), reason)
    typer.echo(f"recorded {_said(followed)}, following {event_id}")


@adverse_app.command("close")
def adverse_close(event: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Close an open event: it is then frozen, and changes only by a follow-up."""
    from dermaplan.app import adverse

    typer.echo(f"closed {_said(call(adverse.close, parse_id(event, EVENT_ID)))}")


@adverse_app.command("report")
def adverse_report(
    event: Annotated[str, typer.Argument(metavar="ID")],
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """The report for a manufacturer or regulator: the patient as initials, age and sex only."""
    from dermaplan.app import adverse

    found = call(adverse.report, parse_id(event, EVENT_ID))
    if output_format is OutputFormat.JSON:
        typer.echo(json.dumps(found.document, indent=2, ensure_ascii=False))
    else:
        from dermaplan.records.adverse import report_text

        typer.echo(report_text(found.document), nl=False)


@outcomes_app.command("record")
def outcomes_record(
    file: Annotated[Path, typer.Argument(help="The outcome (YAML or JSON).")],
) -> None:
    """Record a score on an outcome scale, checked against the scale's range: assessed by
    the practitioner acting (leave `assessor` out), or `patient_reported: true`."""
    from dermaplan.app import outcomes
    from dermaplan.cli import read_document
    from dermaplan.records.errors import InvalidInput
    from dermaplan.records.schemas import OutcomeData

    try:
        data = OutcomeData.parse(read_document(file), where=f"{file}: ")
    except InvalidInput as error:
        fail(error.problems)
    stored = call(outcomes.record, data)
    typer.echo(f"recorded outcome {stored.id}: {stored.label} {stored.score:g}")


def _outcome_line(outcome: OutcomeEntry) -> str:
    by = "patient-reported" if outcome.patient_reported else f"assessor {outcome.assessor_id}"
    after = (
        f"session {outcome.session_id}"
        if outcome.session_id
        else (f"consult {outcome.consult_id}" if outcome.consult_id else "-")
    )
    score = f"{outcome.label} {outcome.score:g}"
    notes = f"  {outcome.notes}" if outcome.notes else ""
    return f"{outcome.assessed_on}  {score}  {by}  {after}  {outcome.id}{notes}"


@outcomes_app.command("list")
def outcomes_list(patient: Annotated[str, typer.Argument(metavar="PATIENT_ID")]) -> None:
    """A patient's scores in date order: date, scale and score, who assessed, the session
    or consult it follows, id and notes; the reading is audited."""
    from dermaplan.app import outcomes

    chosen = patient_id(patient)
    lines = [_outcome_line(outcome) for outcome in call(outcomes.of_patient, chosen)]
    for line in lines:
        typer.echo(line)
    if not lines:
        typer.echo(f"no outcome recorded for patient {chosen}", err=True)
