"""`dermaplan adverse-events`: record, follow up, close and report adverse events, each one
use case of `dermaplan.app.adverse`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.cli.shell import (
    FormatOption,
    OutputFormat,
    call,
    group,
    parse_id,
    permitted,
    read_input,
    say,
)

if TYPE_CHECKING:
    from dermaplan.app.adverse import AdverseEventVersion
    from dermaplan.records.schemas import AdverseEventData

adverse_app = group(
    "Record, follow up and report adverse events. Reports go to a manufacturer or regulator."
)

EVENT_ID = "an adverse event id (a UUID, as `adverse-events record` prints)"


def _event_file(file: Path) -> AdverseEventData:
    from dermaplan.records.schemas import AdverseEventData

    return read_input(file, AdverseEventData.parse)


def _said(version: AdverseEventVersion) -> str:
    return f"adverse event {version.id} ({version.status.value})"


@adverse_app.command("record")
def adverse_record(
    file: Annotated[Path, typer.Argument(help="The adverse event (YAML or JSON).")],
) -> None:
    """Record an adverse event reported by the practitioner acting; `closed: true` in the
    file freezes it at once."""
    from dermaplan.app import adverse

    with permitted(adverse.record):
        say(f"recorded {_said(call(adverse.record, _event_file(file)))}")


@adverse_app.command("follow-up")
def adverse_follow_up(
    event: Annotated[str, typer.Argument(metavar="ID")],
    file: Annotated[Path, typer.Argument(help="The event as it now stands (YAML or JSON).")],
    reason: Annotated[str, typer.Option(help="What the follow-up adds or corrects.")],
) -> None:
    """Record a new version of an event (open or closed), reported by the practitioner
    acting; the old one is kept as history."""
    from dermaplan.app import adverse

    with permitted(adverse.follow_up):
        event_id = parse_id(event, EVENT_ID)
        followed = call(adverse.follow_up, event_id, _event_file(file), reason)
        say(f"recorded {_said(followed)}, following {event_id}")


@adverse_app.command("close")
def adverse_close(event: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Close an open event: it is then frozen, and changes only by a follow-up."""
    from dermaplan.app import adverse

    say(f"closed {_said(call(adverse.close, parse_id(event, EVENT_ID)))}")


@adverse_app.command("report")
def adverse_report(
    event: Annotated[str, typer.Argument(metavar="ID")],
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """The report for a manufacturer or regulator: the patient as initials, age and sex only."""
    from dermaplan.app import adverse

    found = call(adverse.report, parse_id(event, EVENT_ID))
    if output_format is OutputFormat.JSON:
        say(json.dumps(found.document, indent=2, ensure_ascii=False))
    else:
        from dermaplan.records.adverse import report_text

        say(report_text(found.document), nl=False)
