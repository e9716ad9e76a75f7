"""The clinical event commands: `adverse-events` (record, follow up, close, report) and
`outcomes record|list`. SQLAlchemy loads inside commands only.

Each command is one transaction, as in cli_records: errors a person can cause exit with
code 2, one `error:` line per problem, and nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dermaplan.cli_records import ShowFormat, _clinic, _fail, _patient_id, _unit_of_work, _uuid

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dermaplan.records.context import Context
    from dermaplan.records.models import AdverseEvent, Outcome
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
        _fail(error.problems)


def _said(record: AdverseEvent) -> str:
    return f"adverse event {record.id} ({record.status.value})"


@adverse_app.command("record")
def adverse_record(
    file: Annotated[Path, typer.Argument(help="The adverse event (YAML or JSON).")],
) -> None:
    """Record an adverse event; `closed: true` in the file freezes it at once."""
    data = _event_file(file)

    def record(session: Session, context: Context) -> str:
        from dermaplan.records.adverse import record_adverse_event

        clinic = _clinic(session, context)
        return _said(record_adverse_event(session, context, clinic.id, data))

    typer.echo(f"recorded {_unit_of_work(record)}")


@adverse_app.command("follow-up")
def adverse_follow_up(
    event: Annotated[str, typer.Argument(metavar="ID")],
    file: Annotated[Path, typer.Argument(help="The event as it now stands (YAML or JSON).")],
    reason: Annotated[str, typer.Option(help="What the follow-up adds or corrects.")],
) -> None:
    """Record a new version of an event (open or closed); the old one is kept as history."""
    event_id = _uuid(event, EVENT_ID)
    data = _event_file(file)

    def follow(session: Session, context: Context) -> str:
        from dermaplan.records.adverse import follow_up_adverse_event

        clinic = _clinic(session, context)
        return _said(follow_up_adverse_event(session, context, clinic.id, event_id, data, reason))

    typer.echo(f"recorded {_unit_of_work(follow)}, following {event_id}")


@adverse_app.command("close")
def adverse_close(event: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Close an open event: it is then frozen, and changes only by a follow-up."""
    event_id = _uuid(event, EVENT_ID)

    def close(session: Session, context: Context) -> str:
        from dermaplan.records.adverse import close_adverse_event

        clinic = _clinic(session, context)
        return _said(close_adverse_event(session, context, clinic.id, event_id))

    typer.echo(f"closed {_unit_of_work(close)}")


@adverse_app.command("report")
def adverse_report(
    event: Annotated[str, typer.Argument(metavar="ID")],
    output_format: Annotated[ShowFormat, typer.Option("--format", "-f")] = ShowFormat.TEXT,
) -> None:
    """The report for a manufacturer or regulator: the patient as initials, age and sex only."""
    event_id = _uuid(event, EVENT_ID)

    def report(session: Session, context: Context) -> dict[str, Any]:
        from dermaplan.records.adverse import adverse_event_report

        clinic = _clinic(session, context)
        return adverse_event_report(session, context, clinic.id, event_id)

    document = _unit_of_work(report)
    if output_format is ShowFormat.JSON:
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        from dermaplan.records.adverse import report_text

        typer.echo(report_text(document), nl=False)


@outcomes_app.command("record")
def outcomes_record(
    file: Annotated[Path, typer.Argument(help="The outcome (YAML or JSON).")],
) -> None:
    """Record a score on an outcome scale, checked against the scale's range."""
    from dermaplan.cli import read_document
    from dermaplan.records.errors import InvalidInput
    from dermaplan.records.schemas import OutcomeData

    try:
        data = OutcomeData.parse(read_document(file), where=f"{file}: ")
    except InvalidInput as error:
        _fail(error.problems)

    def record(session: Session, context: Context) -> str:
        from dermaplan.records.outcomes import record_outcome
        from dermaplan.records.scales import SCALES

        clinic = _clinic(session, context)
        stored = record_outcome(session, context, clinic.id, data)
        return f"recorded outcome {stored.id}: {SCALES[stored.scale].label} {stored.score:g}"

    typer.echo(_unit_of_work(record))


def _outcome_line(outcome: Outcome) -> str:
    from dermaplan.records.scales import SCALES

    by = "patient-reported" if outcome.patient_reported else f"assessor {outcome.assessor_id}"
    after = (
        f"session {outcome.session_id}"
        if outcome.session_id
        else (f"consult {outcome.consult_id}" if outcome.consult_id else "-")
    )
    score = f"{SCALES[outcome.scale].label} {outcome.score:g}"
    notes = f"  {outcome.notes}" if outcome.notes else ""
    return f"{outcome.assessed_on}  {score}  {by}  {after}  {outcome.id}{notes}"


@outcomes_app.command("list")
def outcomes_list(patient: Annotated[str, typer.Argument(metavar="PATIENT_ID")]) -> None:
    """A patient's scores in date order: date, scale and score, who assessed, the session
    or consult it follows, id and notes; the reading is audited."""
    patient_id = _patient_id(patient)

    def every(session: Session, context: Context) -> list[str]:
        from dermaplan.records.outcomes import patient_outcomes

        clinic = _clinic(session, context)
        found = patient_outcomes(session, context, clinic.id, patient_id)
        return [_outcome_line(outcome) for outcome in found]

    lines = _unit_of_work(every)
    for line in lines:
        typer.echo(line)
    if not lines:
        typer.echo(f"no outcome recorded for patient {patient_id}", err=True)
