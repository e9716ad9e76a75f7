"""`dermaplan patients`: add, correct, delete, list, search and show patients, and their
whole timeline, each one use case of `dermaplan.app.patients`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dermaplan.bounds import LARGEST
from dermaplan.cli.render import PATIENTS, at, consent_line, consult_line, patient_line
from dermaplan.cli.shell import (
    FormatOption,
    OutputFormat,
    call,
    fail,
    group,
    patient_id,
    permitted,
    read_document,
    say,
    show_list,
    within,
)

if TYPE_CHECKING:
    from dermaplan.app.patients import PatientChart, PatientLine
    from dermaplan.app.unit import UnitOfWork

patients_app = group("Add, find and show patients.")


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
    from dermaplan.app import patients
    from dermaplan.records.errors import InvalidInput
    from dermaplan.records.schemas import PatientData

    with permitted(patients.add):
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
        say(f"added {patient_line(call(patients.add, data))}")


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
    from dermaplan.app import patients
    from dermaplan.records.errors import InvalidInput

    with permitted(patients.update):
        chosen = patient_id(patient)
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

        def update(uow: UnitOfWork) -> PatientLine:
            try:
                return patients.update(uow, chosen, changes)
            except InvalidInput as error:
                if file is None:
                    raise
                raise InvalidInput([f"{file}: {problem}" for problem in error.problems]) from None

        say(f"updated {patient_line(within(update))}")


@patients_app.command("delete")
def patients_delete(
    patient: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option("--reason", help="Why the record is deleted.")],
) -> None:
    """Take a patient out of lists and searches. Nothing is erased: the record, its history
    and the reason stay, and `patients show` and `patients list --deleted` still find it."""
    chosen = patient_id(patient)

    from dermaplan.app import patients

    say(f"deleted {patient_line(call(patients.delete, chosen, reason))}")


@patients_app.command("list")
def patients_list(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0, max=LARGEST)] = 0,
    deleted: Annotated[bool, typer.Option("--deleted", help="Include deleted records.")] = False,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Patients in name order: id, birth date, name."""
    from dermaplan.app import patients

    found = call(patients.page, limit=limit, offset=offset, include_deleted=deleted)
    show_list(found, output, PATIENTS, "no patients yet")


@patients_app.command("search")
def patients_search(
    prefix: Annotated[str, typer.Argument(help="The start of 'family-name given-names'.")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Find patients by the start of their name, ignoring case and accents."""
    from dermaplan.app import patients

    found = call(patients.search, prefix, limit=limit)
    show_list(found, output, PATIENTS, f"no patient's name starts with '{prefix}'")


@patients_app.command("show")
def patients_show(
    patient: Annotated[str, typer.Argument(metavar="ID")],
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """One patient with their consults and consents; the reading is audited."""
    chosen = patient_id(patient)

    from dermaplan.app import patients

    chart = call(patients.chart, chosen)
    if output_format is OutputFormat.JSON:
        say(chart.model_dump_json(indent=2))
    else:
        say(_text(chart))


@patients_app.command("timeline")
def patients_timeline(
    patient: Annotated[str, typer.Argument(metavar="ID")],
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Everything recorded for a patient, in date order; the reading is audited."""
    chosen = patient_id(patient)

    from dermaplan.app import patients

    found = call(patients.timeline, chosen)
    if output_format is OutputFormat.JSON:
        say(json.dumps(found.document, indent=2, ensure_ascii=False))
    else:
        from dermaplan.records.timeline import timeline_lines

        say("\n".join([patient_line(found.patient), *timeline_lines(found.document)]))


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
        lines.append(f"  DELETED     {at(deleted.at)} by {deleted.by}: {deleted.reason}")
    lines.append(f"consults ({len(chart.consults)})")
    lines += [f"  {consult_line(consult)}" for consult in chart.consults]
    lines.append(f"consents ({len(chart.consents)})")
    lines += [f"  {consent_line(consent)}" for consent in chart.consents]
    return "\n".join(lines)
