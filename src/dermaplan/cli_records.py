"""The records commands: `db`, `patients`, `sessions`, `courses`, `recall`, `audit`, and the
storing of a consult. SQLAlchemy loads inside commands only.

Each command is one transaction: it commits when the command succeeds and writes nothing
when it fails. Errors a person can cause exit with code 2, one `error:` line per problem;
a database that cannot be used exits with code 1.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dermaplan.cli_shell import (
    FormatOption,
    OutputFormat,
    acting,
    broken,
    call,
    fail,
    outside_a_unit,
    parse_id,
    settings,
    show,
    within,
)
from dermaplan.cli_shell import patient_id as patient_ref

if TYPE_CHECKING:
    import datetime as dt
    import uuid

    from dermaplan.app.consults import SavedConsult, StoredConsult
    from dermaplan.app.courses import CourseView
    from dermaplan.app.patients import ConsentEntry, ConsultEntry, PatientChart, PatientLine
    from dermaplan.app.sessions import RecordedSession
    from dermaplan.app.unit import UnitOfWork
    from dermaplan.clinical.assessment import Assessment
    from dermaplan.clinical.plan import Plan
    from dermaplan.knowledge import KnowledgeBase
    from dermaplan.records.db import Initialised
    from dermaplan.records.plans import StoredPlan
    from dermaplan.records.schemas import SessionData
    from dermaplan.records.settings import Settings

db_app = typer.Typer(help="Create and upgrade the records database.", no_args_is_help=True)
patients_app = typer.Typer(help="Add, find and show patients.", no_args_is_help=True)
audit_app = typer.Typer(help="Check the audit log.", no_args_is_help=True)
sessions_app = typer.Typer(help="Record and sign treatment sessions.", no_args_is_help=True)
courses_app = typer.Typer(
    help="Start courses from approved plans and follow their sessions.", no_args_is_help=True
)


def _line(patient: PatientLine) -> str:
    name = ", ".join(part for part in (patient.family_name, patient.given_names) if part)
    born = patient.birth_date.isoformat() if patient.birth_date else "-"
    deleted = "  (deleted)" if patient.deleted else ""
    return f"{patient.id}  {born}  {name}{deleted}"


# -- db --------------------------------------------------------------------------------


def init() -> None:
    """Create the data folder, the records database and its audit anchor, readable by
    their owner only; a second run changes nothing."""
    from dermaplan.records.db import head_revision

    chosen = settings()
    done = _initialise(chosen, upgrade_schema=False)
    if done.before is None:
        typer.echo(
            f"ok: created the database {done.where} at schema revision {head_revision()}, "
            f"its audit anchor {chosen.audit_anchor}, in {chosen.home}"
        )
    else:
        typer.echo(f"already initialised: {done.where} at schema revision {done.before}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema to this version of Dermaplan (back up first), or create the database
    as `dermaplan init` does."""
    from dermaplan.records.db import head_revision

    done = _initialise(settings(), upgrade_schema=True)
    head = head_revision()
    if done.before == head:
        typer.echo(f"ok: {done.where} is at schema revision {head}")
    else:
        typer.echo(f"ok: {done.where} upgraded from {done.before or 'empty'} to {head}")


def _initialise(chosen: Settings, *, upgrade_schema: bool) -> Initialised:
    from dermaplan.records.db import initialise
    from dermaplan.records.errors import DatabaseError

    try:
        return initialise(chosen, upgrade_schema=upgrade_schema)
    except DatabaseError as error:
        broken(str(error))


# -- patients --------------------------------------------------------------------------


def _options_data(
    family_name: str | None,
    given_names: str | None,
    birth_date: str | None,
    sex: str | None,
    email: str | None,
    phone: str | None,
    allergies: list[str],
    no_known_allergies: bool,
    identifiers: list[str],
    problems: list[str],
) -> dict[str, Any]:
    """The patient as typed on the command line; PatientData validates the values."""
    data: dict[str, Any] = {
        name: value
        for name, value in (
            ("family_name", family_name),
            ("given_names", given_names),
            ("birth_date", birth_date),
            ("sex", sex),
            ("email", email),
            ("phone", phone),
        )
        if value is not None
    }
    if allergies and no_known_allergies:
        problems.append("--allergy and --no-known-allergies contradict each other")
    if allergies or no_known_allergies:
        data["allergies"] = allergies
    systems: dict[str, str] = {}
    for item in identifiers:
        system, sign, value = item.partition("=")
        if not sign or not system.strip() or not value.strip():
            problems.append(f"--identifier '{item}': expected SYSTEM=VALUE, e.g. chart=1042")
        elif system.strip() in systems:
            problems.append(f"--identifier: '{system.strip()}' is given twice")
        else:
            systems[system.strip()] = value.strip()
    if systems:
        data["identifiers"] = systems
    return data


FileOption = Annotated[
    Path | None, typer.Option("--file", help="The patient as YAML or JSON, instead of options.")
]
FamilyName = Annotated[str | None, typer.Option(help="Required to add (unless --file).")]
GivenNames = Annotated[str | None, typer.Option()]
BirthDate = Annotated[str | None, typer.Option(help="YYYY-MM-DD")]
SexOption = Annotated[str | None, typer.Option(help="female, male or intersex")]
Email = Annotated[str | None, typer.Option()]
Phone = Annotated[str | None, typer.Option()]
Allergy = Annotated[
    list[str] | None, typer.Option("--allergy", help="A known allergy (repeatable).")
]
NoKnownAllergies = Annotated[bool, typer.Option("--no-known-allergies", help="Asked: none known.")]
Identifier = Annotated[
    list[str] | None,
    typer.Option("--identifier", help="SYSTEM=VALUE, e.g. chart=1042 (repeatable)."),
]


def _patient_input(file: Path | None, typed: dict[str, Any], problems: list[str]) -> Any:
    """The patient's fields from --file or from the options (never both), as raw data."""
    if file is not None and (typed or problems):
        fail(["give the patient either as --file or as options, not both"])
    if file is None:
        return typed
    from dermaplan.cli import read_document

    return read_document(file)


@patients_app.command("add")
def patients_add(
    file: FileOption = None,
    family_name: FamilyName = None,
    given_names: GivenNames = None,
    birth_date: BirthDate = None,
    sex: SexOption = None,
    email: Email = None,
    phone: Phone = None,
    allergy: Allergy = None,
    no_known_allergies: NoKnownAllergies = False,
    identifier: Identifier = None,
) -> None:
    """Add a patient. Allergies left out are recorded as not asked, never as none."""
    from dermaplan.records.errors import InvalidInput
    from dermaplan.records.schemas import PatientData

    problems: list[str] = []
    typed = _options_data(
        family_name,
        given_names,
        birth_date,
        sex,
        email,
        phone,
        allergy or [],
        no_known_allergies,
        identifier or [],
        problems,
    )
    raw = _patient_input(file, typed, problems)
    try:
        data = PatientData.parse(raw, where=f"{file}: " if file else "")
    except InvalidInput as error:
        fail(problems + error.problems)
    if problems:
        fail(problems)

    from dermaplan.app import patients

    typer.echo(f"added {_line(call(patients.add, data))}")


@patients_app.command("update")
def patients_update(
    patient: Annotated[str, typer.Argument(metavar="ID")],
    file: FileOption = None,
    family_name: FamilyName = None,
    given_names: GivenNames = None,
    birth_date: BirthDate = None,
    sex: SexOption = None,
    email: Email = None,
    phone: Phone = None,
    allergy: Allergy = None,
    no_known_allergies: NoKnownAllergies = False,
    identifier: Identifier = None,
) -> None:
    """Correct a patient's details: only the fields given change; --allergy (or
    --no-known-allergies) replaces the recorded list; --identifier sets one system's value
    and keeps the others.
    The change is audited with the record before and after."""
    patient_id = patient_ref(patient)
    problems: list[str] = []
    typed = _options_data(
        family_name,
        given_names,
        birth_date,
        sex,
        email,
        phone,
        allergy or [],
        no_known_allergies,
        identifier or [],
        problems,
    )
    changes = _patient_input(file, typed, problems)
    if problems:
        fail(problems)
    if not isinstance(changes, dict):
        fail([f"{file}: must be a mapping of the fields to change"])
    if not changes:
        fail(["nothing to change: give the fields to correct as options or --file"])

    from dermaplan.app import patients
    from dermaplan.records.errors import InvalidInput

    def update(uow: UnitOfWork) -> PatientLine:
        try:
            return patients.update(uow, patient_id, changes)
        except InvalidInput as error:
            if file is None:
                raise
            raise InvalidInput([f"{file}: {problem}" for problem in error.problems]) from None

    typer.echo(f"updated {_line(within(update))}")


@patients_app.command("delete")
def patients_delete(
    patient: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option("--reason", help="Why the record is deleted.")],
) -> None:
    """Take a patient out of lists and searches. Nothing is erased: the record, its history
    and the reason stay, and `patients show` and `patients list --deleted` still find it."""
    patient_id = patient_ref(patient)

    from dermaplan.app import patients

    typer.echo(f"deleted {_line(call(patients.delete, patient_id, reason))}")


@patients_app.command("list")
def patients_list(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    deleted: Annotated[bool, typer.Option("--deleted", help="Include deleted records.")] = False,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Patients in name order: id, birth date, name."""
    from dermaplan.app import patients

    found = call(patients.page, limit=limit, offset=offset, include_deleted=deleted)
    show(found, output, lambda: map(_line, found))


@patients_app.command("search")
def patients_search(
    prefix: Annotated[str, typer.Argument(help="The start of 'family-name given-names'.")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Find patients by the start of their name, ignoring case and accents."""
    from dermaplan.app import patients

    found = call(patients.search, prefix, limit=limit)
    show(found, output, lambda: map(_line, found))
    if not found and output is OutputFormat.TEXT:
        typer.echo(f"no patient's name starts with '{prefix}'", err=True)


@patients_app.command("show")
def patients_show(
    patient: Annotated[str, typer.Argument(metavar="ID")],
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """One patient with their consults and consents; the reading is audited."""
    patient_id = patient_ref(patient)

    from dermaplan.app import patients

    chart = call(patients.chart, patient_id)
    if output_format is OutputFormat.JSON:
        typer.echo(chart.model_dump_json(indent=2))
    else:
        typer.echo(_text(chart))


@patients_app.command("timeline")
def patients_timeline(
    patient: Annotated[str, typer.Argument(metavar="ID")],
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Everything recorded for a patient, in date order; the reading is audited."""
    patient_id = patient_ref(patient)

    from dermaplan.app import patients

    found = call(patients.timeline, patient_id)
    if output_format is OutputFormat.JSON:
        typer.echo(json.dumps(found.document, indent=2, ensure_ascii=False))
    else:
        from dermaplan.records.timeline import timeline_lines

        typer.echo("\n".join([_line(found.patient), *timeline_lines(found.document)]))


def _at(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def consent_line(entry: ConsentEntry) -> str:
    signed = (
        f"signed {_at(entry.signed_at)} by {entry.signer}"
        if entry.status == "signed"
        else "opened, not signed"
    )
    parts = [
        f"{entry.id}  {entry.kind} v{entry.version}  opened {_at(entry.opened_at)}",
        signed,
    ]
    if entry.scopes is not None:
        granted = sorted(scope for scope, given in entry.scopes.items() if given)
        parts.append(f"scopes: {', '.join(granted) or 'none granted'}")
    parts += [f"withdrawn {w.scope} {_at(w.at)}: {w.reason}" for w in entry.withdrawn]
    return "  ".join(parts)


def _consult_line(consult: ConsultEntry) -> str:
    approved = f", approved {_at(consult.approved_at)}" if consult.approved_at else ""
    corrects = (
        f", corrects {consult.supersedes}: {consult.correction_reason}"
        if consult.supersedes
        else ""
    )
    return f"{consult.id}  {consult.date}  {consult.status}{approved}{corrects}"


def _text(chart: PatientChart) -> str:
    allergies = chart.allergies
    lines = [
        f"{chart.family_name}, {chart.given_names}".rstrip(", "),
        f"  id          {chart.id}",
        f"  born        {chart.birth_date or 'not recorded'}",
        f"  sex         {chart.sex or 'not recorded'}",
        f"  e-mail      {chart.email or '-'}",
        f"  phone       {chart.phone or '-'}",
        "  allergies   "
        + ("not asked" if allergies is None else ", ".join(allergies) or "none known"),
    ]
    lines += [f"  {system:<11} {value}" for system, value in chart.identifiers.items()]
    if chart.deleted:
        deleted = chart.deleted
        lines.append(f"  DELETED     {_at(deleted.at)} by {deleted.by}: {deleted.reason}")
    lines.append(f"consults ({len(chart.consults)})")
    lines += [f"  {_consult_line(consult)}" for consult in chart.consults]
    lines.append(f"consents ({len(chart.consents)})")
    lines += [f"  {consent_line(consent)}" for consent in chart.consents]
    return "\n".join(lines)


# -- consults and sessions -------------------------------------------------------------


def _report_filled(saved: SavedConsult) -> None:
    for line in saved.filled:
        typer.echo(f"from the patient's record: {line}", err=True)


def save_consult(patient: str, assessment: Assessment, kb: KnowledgeBase) -> Plan:
    """Plan for a patient on record and store the consult as a draft (`consult --save`)."""
    from dermaplan.app import consults

    saved = call(consults.save, patient_ref(patient), assessment, kb)
    _report_filled(saved)
    typer.echo(f"saved consult {saved.consult_id} (draft) for patient {saved.patient_id}", err=True)
    return saved.plan


Knowledge = Annotated[
    list[Path] | None,
    typer.Option("--knowledge", "-k", help="A clinic knowledge directory (repeatable)."),
]


Override = Annotated[
    str | None,
    typer.Option(
        "--override",
        "--override-reason",
        metavar="REASON",
        help="Record a session the safety check refuses: the practitioner's reason.",
    ),
]
SESSION_ID = "a session id (a UUID, as `sessions record` prints)"


def _session_file(file: Path, kb: KnowledgeBase) -> SessionData:
    from dermaplan.cli import read_document
    from dermaplan.records.errors import InvalidInput
    from dermaplan.records.schemas import SessionData

    try:
        return SessionData.parse(read_document(file), kb, where=f"{file}: ")
    except InvalidInput as error:
        fail(error.problems)


def _echo_draft(recorded: RecordedSession) -> None:
    if recorded.amends is not None:
        typer.echo(f"recorded amendment {recorded.id} (draft) of session {recorded.amends}")
    elif recorded.revised:
        typer.echo(f"revised session {recorded.id} (draft)")
    else:
        typer.echo(f"recorded session {recorded.id} (draft)")
    if recorded.fulfils is not None:
        course, number = recorded.fulfils
        typer.echo(f"it fulfils planned session {number} of course {course}")
    for item in recorded.to_complete:
        typer.echo(f"to complete before signing: {item}", err=True)


@sessions_app.command("record")
def sessions_record(
    file: Annotated[Path, typer.Argument(help="The session (YAML or JSON).")],
    override: Override = None,
    knowledge: Knowledge = None,
) -> None:
    """Record a treatment session you gave (you are its `practitioner`) as a draft, checked
    against safety first."""
    from dermaplan.app import sessions
    from dermaplan.cli import load

    kb = load(knowledge)
    _echo_draft(call(sessions.record, _session_file(file, kb), kb, override))


@sessions_app.command("revise")
def sessions_revise(
    session_id: Annotated[str, typer.Argument(metavar="SESSION_ID")],
    file: Annotated[Path, typer.Argument(help="The session as it should read (YAML or JSON).")],
    override: Override = None,
    knowledge: Knowledge = None,
) -> None:
    """Replace a draft session's content, checked against safety again."""
    from dermaplan.app import sessions
    from dermaplan.cli import load
    from dermaplan.records.errors import ImmutableRecord

    wanted = parse_id(session_id, SESSION_ID)
    kb = load(knowledge)
    data = _session_file(file, kb)

    def revise(uow: UnitOfWork) -> RecordedSession:
        try:
            return sessions.revise(uow, wanted, data, kb, override)
        except ImmutableRecord as error:
            fail(error.problems, f"use `dermaplan sessions amend {wanted} FILE --reason REASON`")

    _echo_draft(within(revise))


@sessions_app.command("amend")
def sessions_amend(
    session_id: Annotated[str, typer.Argument(metavar="SESSION_ID")],
    file: Annotated[Path, typer.Argument(help="The session as it should read (YAML or JSON).")],
    reason: Annotated[str, typer.Option(help="What the amendment corrects (required).")],
    override: Override = None,
    knowledge: Knowledge = None,
) -> None:
    """Correct a signed session: a new draft version pointing at it, which replaces it
    once signed; the signed version stays on record."""
    from dermaplan.app import sessions
    from dermaplan.cli import load

    wanted = parse_id(session_id, SESSION_ID)
    kb = load(knowledge)
    _echo_draft(call(sessions.amend, wanted, _session_file(file, kb), kb, reason, override))


@sessions_app.command("show")
def sessions_show(session_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Every version of a session, oldest first, as JSON; the reading is audited."""
    from dermaplan.app import sessions

    versions = call(sessions.history, parse_id(session_id, "session"))
    typer.echo(json.dumps(versions, indent=2, ensure_ascii=False))


@sessions_app.command("sign")
def sessions_sign(
    session: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[
        str | None,
        typer.Option(help="Why it is signed although the completeness check finds gaps."),
    ] = None,
    knowledge: Knowledge = None,
) -> None:
    """Sign a draft session as the practitioner acting; it can then only be corrected by an
    amendment."""
    from dermaplan.app import sessions
    from dermaplan.cli import load

    kb = load(knowledge)
    signed = call(sessions.sign, parse_id(session, SESSION_ID), kb, reason)
    note = f", with {signed.gaps_explained} gaps explained" if signed.gaps_explained else ""
    typer.echo(f"signed session {signed.id} by {signed.signed_by}{note}")


def recall(
    lot: Annotated[str, typer.Argument(metavar="LOT")],
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Every patient and session that received a product lot, oldest first, then the
    adverse events that involved it."""
    from dermaplan.app import sessions

    found = call(sessions.recall, lot)
    if output is OutputFormat.JSON:
        show(found, output, list)
        return
    if not found.sessions:
        typer.echo(f"no session used lot '{lot}'", err=True)
    else:
        header = ("performed (UTC)", "session", "status", "patient", "name", "product")
        typer.echo("  ".join((*header, "volume", "expiry")))
        for line in found.sessions:
            typer.echo(
                "  ".join(
                    (
                        line.performed_at.isoformat(timespec="minutes"),
                        str(line.session_id),
                        line.status,
                        str(line.patient_id),
                        line.patient_name,
                        line.product,
                        f"{line.volume_ml:g} mL",
                        f"expires {line.expiry_date or '?'}",
                    )
                )
            )
    if found.adverse_events:
        typer.echo(
            "\nadverse events involving the lot:\n"
            + "  ".join(("event", "patient", "name", "onset", "type", "severity", "status"))
        )
        for event in found.adverse_events:
            typer.echo(
                "  ".join(
                    (
                        str(event.event_id),
                        str(event.patient_id),
                        event.patient_name,
                        event.onset_date.isoformat(),
                        event.event_type,
                        event.severity,
                        event.status,
                    )
                )
            )


# -- courses ---------------------------------------------------------------------------


class CourseModality(StrEnum):
    MESOTHERAPY = "mesotherapy"
    MICRONEEDLING = "microneedling"
    COMBINED = "combined"


def _course_id(text: str) -> uuid.UUID:
    return parse_id(text, "a course id (a UUID, as `dermaplan courses start` prints)")


def _course_lines(course: CourseView) -> list[str]:
    lines = [
        f"course {course.id}  {course.modality.value}"
        + (f" ({', '.join(course.products)})" if course.products else "")
        + f"  {course.status}",
        f"patient {course.patient_id}  from consult {course.consult_id}",
        f"{course.sessions_planned} sessions, every {course.interval_days} days",
    ]
    if course.cancellation_reason is not None:
        lines.append(f"cancelled {course.cancelled_at}: {course.cancellation_reason}")
    for planned in course.planned:
        done = f"done: session {planned.session_id}" if planned.session_id else "to do"
        lines.append(f"  {planned.number}  {planned.planned_on.isoformat()}  {done}")
    return lines


consults_app = typer.Typer(
    help="Show, list, approve and correct stored consults.", no_args_is_help=True
)
CONSULT_ID = "a consult id (a UUID, as `consult FILE --save` prints)"


@consults_app.command("approve")
def consults_approve(consult: Annotated[str, typer.Argument(metavar="CONSULT_ID")]) -> None:
    """Approve a draft consult as the practitioner acting (--as); it cannot change
    afterwards."""
    from dermaplan.app import consults

    approved = call(consults.approve, parse_id(consult, "a consult id (a UUID)"))
    typer.echo(f"approved consult {approved.id} by {approved.approved_by}")


@consults_app.command("correct")
def consults_correct(
    consult: Annotated[str, typer.Argument(metavar="CONSULT_ID")],
    file: Annotated[Path, typer.Argument(help="The corrected assessment (YAML or JSON).")],
    reason: Annotated[str, typer.Option(help="What the correction changes (required).")],
    knowledge: Knowledge = None,
) -> None:
    """Correct an approved consult: the engine plans again from the corrected assessment,
    stored as a draft that supersedes the consult once approved."""
    from dermaplan.app import consults
    from dermaplan.cli import load, read_assessment, read_document

    consult_id = parse_id(consult, CONSULT_ID)
    kb = load(knowledge)
    assessment = read_assessment(file, read_document(file), kb)
    saved = call(consults.correct, consult_id, assessment, kb, reason)
    _report_filled(saved)
    typer.echo(f"recorded correction {saved.consult_id} (draft) of consult {consult_id}")


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

    patient_id = patient_ref(patient)
    found = call(consults.of_patient, patient_id)
    show(found, output, lambda: map(_consult_line, found))
    if not found and output is OutputFormat.TEXT:
        typer.echo(f"no consult stored for patient {patient_id}", err=True)


@courses_app.command("start")
def courses_start(
    consult: Annotated[str, typer.Argument(metavar="CONSULT_ID")],
    modality: Annotated[CourseModality, typer.Argument(metavar="MODALITY")],
    product: Annotated[
        str | None,
        typer.Option(
            help="A product the course gives, where the plan has a course for each of "
            "several preparations."
        ),
    ] = None,
) -> None:
    """Start a course of MODALITY with the sessions the approved consult's plan dates."""
    from dermaplan.app import courses
    from dermaplan.knowledge.schema import Modality

    consult_id = parse_id(consult, "a consult id (a UUID)")
    started = call(courses.start, consult_id, Modality(modality.value), product)
    typer.echo("\n".join(_course_lines(started)))


@courses_app.command("show")
def courses_show(
    course: Annotated[str, typer.Argument(metavar="COURSE_ID")],
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """A course's planned dates and which are done; the reading is audited."""
    from dermaplan.app import courses

    found = call(courses.show, _course_id(course))
    show(found, output, lambda: _course_lines(found))


@courses_app.command("cancel")
def courses_cancel(
    course: Annotated[str, typer.Argument(metavar="COURSE_ID")],
    reason: Annotated[str, typer.Option(help="Why the course stops (required).")],
) -> None:
    """Cancel a course under way, with the reason."""
    from dermaplan.app import courses

    typer.echo(f"cancelled course {call(courses.cancel, _course_id(course), reason).id}")


@courses_app.command("fulfil")
def courses_fulfil(
    course: Annotated[str, typer.Argument(metavar="COURSE_ID")],
    number: Annotated[int, typer.Argument(metavar="NUMBER", help="The planned session, from 1.")],
    session_id: Annotated[str, typer.Argument(metavar="SESSION_ID")],
) -> None:
    """Link a planned session to the recorded treatment session that fulfilled it."""
    from dermaplan.app import courses

    treatment_id = parse_id(session_id, "a session id (a UUID, as `sessions record` prints)")
    updated = call(courses.fulfil, _course_id(course), number, treatment_id)
    typer.echo("\n".join(_course_lines(updated)))


# -- backup ----------------------------------------------------------------------------


def backup(
    path: Annotated[
        Path | None,
        typer.Argument(help="A new file for the backup; by default one in the backups folder."),
    ] = None,
) -> None:
    """Copy the records database to PATH (online) and its photo files to PATH.photos, and
    check the copy."""
    from dermaplan.app import records_admin

    made = call(records_admin.backup, path)
    typer.echo(
        f"ok: {made.path} — schema {made.revision}, {made.events} audit events, checked; "
        f"{made.photo_files} photo files in {made.photos}"
    )


def restore(
    path: Annotated[Path, typer.Argument(help="A backup made by `dermaplan backup`.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: the live database is replaced (and kept).")
    ] = False,
) -> None:
    """Replace the records database with a backup, after checking the backup in full (its
    photo files in PATH.photos too), and bring the photo files back into the storage."""
    from dermaplan.app import records_admin

    if not yes:
        fail([f"restoring {path} replaces the live database"], "add --yes to go ahead")
    done = outside_a_unit(lambda app: records_admin.restore(app, acting(), path))
    typer.echo(
        f"ok: restored {done.path} ({done.events} audit events, {done.photo_files} photo "
        f"files, checked; {done.photos_copied} copied into the storage); "
        f"the database it replaced is kept as {done.kept_aside}"
    )


# -- audit -----------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the log: its hash chains, their anchor, and every record against its last
    audited state; report what is wrong (exit code 1) or ok."""
    from dermaplan.app import records_admin

    report = call(records_admin.verify)
    if report.broken is not None:
        typer.echo(
            f"broken: {report.broken}; the {report.events} events before it verify", err=True
        )
    if report.cut is not None:
        typer.echo(f"broken: {report.cut}", err=True)
    for changed in report.changed:
        typer.echo(f"broken: {changed}", err=True)
    if not report.intact:
        raise typer.Exit(code=1)
    if report.anchored is None and report.events:
        typer.echo(
            f"warning: no audit anchor at {report.anchor} (first use, a restored backup or "
            "another machine?): a log cut off at its end cannot be detected until the next "
            "change writes it",
            err=True,
        )
    chains = f"{report.chains} chain{'' if report.chains == 1 else 's'}"
    anchored = f", {report.anchored} anchored" if report.anchored else ""
    typer.echo(
        f"ok: {report.events} events in {chains}, intact{anchored}, records match their "
        "audited states"
    )
