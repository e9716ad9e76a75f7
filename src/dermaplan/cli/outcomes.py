"""`dermaplan outcomes`: record a score on an outcome scale and list a patient's scores,
each one use case of `dermaplan.app.outcomes`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.cli.render import Columns, Row
from dermaplan.cli.shell import (
    FormatOption,
    OutputFormat,
    call,
    group,
    patient_id,
    permitted,
    read_input,
    say,
    show_list,
)

if TYPE_CHECKING:
    from dermaplan.app.outcomes import OutcomeEntry

outcomes_app = group("Record and list outcome scores (GAIS, scar grade, ...).")


@outcomes_app.command("record")
def outcomes_record(
    file: Annotated[Path, typer.Argument(help="The outcome (YAML or JSON).")],
) -> None:
    """Record a score on an outcome scale, checked against the scale's range: assessed by
    the practitioner acting (leave `assessor` out), or `patient_reported: true`."""
    from dermaplan.app import outcomes
    from dermaplan.records.schemas import OutcomeData

    with permitted(outcomes.record):
        stored = call(outcomes.record, read_input(file, OutcomeData.parse))
        say(f"recorded outcome {stored.id}: {stored.label} {stored.score:g}")


def _outcome(outcome: OutcomeEntry) -> Row:
    by = "patient-reported" if outcome.patient_reported else f"assessed by {outcome.assessor}"
    after = (
        f"session {outcome.session_id}"
        if outcome.session_id
        else (f"consult {outcome.consult_id}" if outcome.consult_id else "-")
    )
    score = f"{outcome.label} {outcome.score:g}"
    return str(outcome.assessed_on), score, by, after, str(outcome.id), outcome.notes or ""


OUTCOMES: Columns[OutcomeEntry] = Columns(("date", "score", "by", "after", "id", "notes"), _outcome)


@outcomes_app.command("list")
def outcomes_list(
    patient: Annotated[str, typer.Argument(metavar="PATIENT_ID")],
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """A patient's scores in date order: date, scale and score, who assessed, the session
    or consult it follows, id and notes; the reading is audited."""
    from dermaplan.app import outcomes

    chosen = patient_id(patient)
    found = call(outcomes.of_patient, chosen)
    show_list(found, output, OUTCOMES, f"no outcome recorded for patient {chosen}")
