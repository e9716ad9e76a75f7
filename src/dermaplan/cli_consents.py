"""The consent commands: `consents template add|list|show`, `consents open`, `consents sign`,
`consents withdraw`, `consents list`. SQLAlchemy loads inside commands only.

Each command is one transaction, as in cli_records: errors a person can cause exit with
code 2, one `error:` line per problem, and nothing written.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.cli_records import (
    _clinic,
    _fail,
    _patient_id,
    _unit_of_work,
    _uuid,
    consent_line,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dermaplan.records.context import Context

consents_app = typer.Typer(
    help="Publish consent texts, open and sign consents, list and withdraw them.",
    no_args_is_help=True,
)
template_app = typer.Typer(help="Versioned consent texts.", no_args_is_help=True)
consents_app.add_typer(template_app, name="template")

CONSENT_ID = "a consent id (a UUID, as `consents sign` prints)"


class Kind(StrEnum):  # records.models.ConsentKind, without importing the models for --help
    TREATMENT_MESOTHERAPY = "treatment_mesotherapy"
    TREATMENT_MICRONEEDLING = "treatment_microneedling"
    TREATMENT_COMBINED = "treatment_combined"
    PHOTO = "photo"


class Scope(StrEnum):  # records.models.PhotoScope
    CLINICAL_RECORD = "clinical_record"
    TEACHING = "teaching"
    MARKETING = "marketing"


@template_app.command("add")
def template_add(
    kind: Annotated[Kind, typer.Argument(help="What the consent is for.")],
    file: Annotated[Path, typer.Argument(help="The consent text (UTF-8).")],
) -> None:
    """Publish a new version of a consent text; published versions never change."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _fail([f"{file}: cannot read it as UTF-8 text ({error.__class__.__name__})"])

    def publish(session: Session, context: Context) -> str:
        from dermaplan.records.consents import publish_template
        from dermaplan.records.enums import ConsentKind

        clinic = _clinic(session, context)
        record = publish_template(session, context, clinic.id, ConsentKind(kind.value), text)
        return f"published {record.kind.value} version {record.version}: {record.id}"

    typer.echo(_unit_of_work(publish))


@template_app.command("list")
def template_list() -> None:
    """Every published version of every consent text: kind, version, when, by whom, id."""

    def every(session: Session, context: Context) -> list[str]:
        from dermaplan.records.consents import consent_templates

        return [
            f"{t.kind.value} v{t.version}  published {t.published_at.isoformat()} "
            f"by {t.published_by}  {t.id}"
            for t in consent_templates(session, _clinic(session, context).id)
        ]

    lines = _unit_of_work(every)
    for line in lines:
        typer.echo(line)
    if not lines:
        typer.echo("no consent text published yet: `dermaplan consents template add`", err=True)


@template_app.command("show")
def template_show(
    kind: Annotated[Kind, typer.Argument(help="What the consent is for.")],
    version: Annotated[
        int | None, typer.Option(min=1, help="A version (default: the current one).")
    ] = None,
) -> None:
    """Print the exact text of a version, as it is shown to patients."""

    def show(session: Session, context: Context) -> str:
        from dermaplan.records.consents import consent_template
        from dermaplan.records.enums import ConsentKind

        clinic = _clinic(session, context)
        return consent_template(session, clinic.id, ConsentKind(kind.value), version).text

    typer.echo(_unit_of_work(show))


@consents_app.command("open")
def consents_open(
    patient: Annotated[str, typer.Argument(metavar="PATIENT_ID")],
    kind: Annotated[Kind, typer.Option(help="What the consent is for.")],
) -> None:
    """Record that the current version of a consent text is shown to the patient now; it
    counts for nothing until `consents sign` completes it (`consent: ID` in the file)."""
    patient_id = _patient_id(patient)

    def open_one(session: Session, context: Context) -> str:
        from dermaplan.records.consents import open_consent
        from dermaplan.records.enums import ConsentKind

        clinic = _clinic(session, context)
        record = open_consent(session, context, clinic.id, patient_id, ConsentKind(kind.value))
        return f"opened consent {record.id} ({record.kind.value}, not signed)"

    typer.echo(_unit_of_work(open_one))


@consents_app.command("sign")
def consents_sign(
    file: Annotated[Path, typer.Argument(help="The signed consent (YAML or JSON).")],
) -> None:
    """Record a consent the patient signed: the exact template version shown (or the opened
    consent that recorded it), when it was opened and signed, the signer and the signature,
    and for photo consent every scope."""
    from dermaplan.cli import read_document
    from dermaplan.records.errors import InvalidInput
    from dermaplan.records.schemas import ConsentData

    try:
        data = ConsentData.parse(read_document(file), where=f"{file}: ")
    except InvalidInput as error:
        _fail(error.problems)

    def sign(session: Session, context: Context) -> str:
        from dermaplan.records.consents import record_consent

        clinic = _clinic(session, context)
        record = record_consent(session, context, clinic.id, data)
        return f"recorded consent {record.id} ({record.kind.value}, signed)"

    typer.echo(_unit_of_work(sign))


@consents_app.command("withdraw")
def consents_withdraw(
    consent: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option(help="Why the patient withdraws it.")],
    scope: Annotated[
        Scope | None, typer.Option(help="Photo consent: withdraw only this scope.")
    ] = None,
) -> None:
    """Withdraw a consent (or one scope of a photo consent); it stays on record."""
    consent_id = _uuid(consent, CONSENT_ID)

    def withdraw(session: Session, context: Context) -> str:
        from dermaplan.records.consents import withdraw_consent
        from dermaplan.records.enums import PhotoScope

        clinic = _clinic(session, context)
        chosen = PhotoScope(scope.value) if scope else None
        done = withdraw_consent(session, context, clinic.id, consent_id, reason, chosen)
        return f"withdrew {done.scope} of consent {consent_id}"

    typer.echo(_unit_of_work(withdraw))


@consents_app.command("list")
def consents_list(patient: Annotated[str, typer.Argument(metavar="PATIENT_ID")]) -> None:
    """A patient's consents, in the order they were opened: id, kind and version, opened,
    signed and by whom, photo scopes granted, withdrawals; the reading is audited."""
    patient_id = _patient_id(patient)

    def every(session: Session, context: Context) -> list[str]:
        from dermaplan.records.consents import patient_consents

        clinic = _clinic(session, context)
        found = patient_consents(session, context, clinic.id, patient_id)
        from dermaplan.app.patients import ConsentEntry

        return [consent_line(ConsentEntry.of(consent)) for consent in found]

    lines = _unit_of_work(every)
    for line in lines:
        typer.echo(line)
    if not lines:
        typer.echo(f"no consent recorded for patient {patient_id}", err=True)
