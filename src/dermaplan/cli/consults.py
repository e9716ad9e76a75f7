"""`dermaplan consults`: show, list, approve and correct stored consults, and the storing of
a consult for a patient (`consult FILE --save`), each one use case of `dermaplan.app.consults`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.cli.render import CONSULTS
from dermaplan.cli.shell import (
    FormatOption,
    KnowledgeDirs,
    OutputFormat,
    call,
    group,
    load,
    parse_id,
    patient_id,
    permitted,
    read_document,
    say,
    show,
    show_list,
)

if TYPE_CHECKING:
    from dermaplan.app.consults import SavedConsult, StoredConsult
    from dermaplan.clinical.assessment import Assessment
    from dermaplan.clinical.plan import Plan
    from dermaplan.knowledge import KnowledgeBase
    from dermaplan.records.plans import StoredPlan

consults_app = group("Show, list, approve, discard and correct stored consults.")
CONSULT_ID = "a consult id (a UUID, as `consult FILE --save` prints)"


def _report_filled(saved: SavedConsult) -> None:
    for line in saved.filled:
        say(f"from the patient's record: {line}", err=True)


def save_consult(patient: str, assessment: Assessment, kb: KnowledgeBase) -> Plan:
    """Plan for a patient on record and store the consult as a draft (`consult --save`)."""
    from dermaplan.app import consults

    saved = call(consults.save, patient_id(patient), assessment, kb)
    _report_filled(saved)
    say(f"saved consult {saved.consult_id} (draft) for patient {saved.patient_id}", err=True)
    return saved.plan


@consults_app.command("approve")
def consults_approve(consult: Annotated[str, typer.Argument(metavar="CONSULT_ID")]) -> None:
    """Approve a draft consult as the practitioner acting (--as); it cannot change
    afterwards."""
    from dermaplan.app import consults

    approved = call(consults.approve, parse_id(consult, "a consult id (a UUID)"))
    say(f"approved consult {approved.id} by {approved.approved_by}")


@consults_app.command("discard")
def consults_discard(
    consult: Annotated[str, typer.Argument(metavar="CONSULT_ID")],
    reason: Annotated[str, typer.Option(help="Why it is set aside (required).")],
) -> None:
    """Discard a draft consult as the practitioner acting (saved for the wrong patient, a
    correction that corrects nothing): it is kept, with the reason, and never approved."""
    from dermaplan.app import consults

    discarded = call(consults.discard, parse_id(consult, CONSULT_ID), reason)
    say(f"discarded consult {discarded.id} (draft of {discarded.date})")


@consults_app.command("correct")
def consults_correct(
    consult: Annotated[str, typer.Argument(metavar="CONSULT_ID")],
    file: Annotated[Path, typer.Argument(help="The corrected assessment (YAML or JSON).")],
    reason: Annotated[str, typer.Option(help="What the correction changes (required).")],
    knowledge: KnowledgeDirs = None,
) -> None:
    """Correct an approved consult: the engine plans again from the corrected assessment,
    stored as a draft that supersedes the consult once approved."""
    from dermaplan.app import consults
    from dermaplan.cli.consult import read_assessment

    with permitted(consults.correct):
        consult_id = parse_id(consult, CONSULT_ID)
        kb = load(knowledge)
        assessment = read_assessment(file, read_document(file), kb)
        saved = call(consults.correct, consult_id, assessment, kb, reason)
        _report_filled(saved)
        say(f"recorded correction {saved.consult_id} (draft) of consult {consult_id}")


def _plan_summary(plan: StoredPlan) -> list[str]:
    """The decisions and courses of a stored plan."""
    lines = [
        f"  {d.modality.value}: {d.decision}" + (f" until {d.until}" if d.until else "")
        for d in plan.decisions
    ]
    for course in plan.courses:
        span = f", {course.dates[0]} to {course.dates[-1]}" if course.dates else ""
        lines.append(
            f"  course: {course.modality.value}, {course.sessions} sessions "
            f"every {course.interval_days} days{span}"
        )
    if plan.missing:
        lines.append(f"  {len(plan.missing)} safety questions still to answer")
    return lines


def _consult_lines(consult: StoredConsult) -> list[str]:
    lines = [
        f"consult {consult.id}  {consult.date}  {consult.status}",
        f"patient {consult.patient_id}",
        f"knowledge {consult.knowledge_version}",
    ]
    approver = consult.approved_by
    if approver is not None:
        lines.append(f"approved {consult.approved_at} by {approver.name} ({approver.id})")
    if consult.supersedes is not None:
        lines.append(f"corrects {consult.supersedes}: {consult.correction_reason}")
    if consult.corrected_by is not None:
        corrected = consult.corrected_by
        lines.append(f"corrected by {corrected.id} ({corrected.status})")
    if consult.discarded_at is not None:
        lines.append(
            f"discarded {consult.discarded_at} by {consult.discarded_by}: {consult.discard_reason}"
        )
    return [*lines, "plan", *_plan_summary(consult.plan)]


@consults_app.command("show")
def consults_show(
    consult: Annotated[str, typer.Argument(metavar="CONSULT_ID")],
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """A consult: status, approval, knowledge version, corrections and its plan (audited)."""
    from dermaplan.app import consults

    found = call(consults.show, parse_id(consult, CONSULT_ID))
    show(found, output, lambda: _consult_lines(found))


@consults_app.command("list")
def consults_list(
    patient: Annotated[str, typer.Argument(metavar="PATIENT_ID")],
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """A patient's consults, oldest first: id, date, status, approval, correction (audited)."""
    from dermaplan.app import consults

    chosen = patient_id(patient)
    found = call(consults.of_patient, chosen)
    show_list(found, output, CONSULTS, f"no consult stored for patient {chosen}")
