"""The consent commands: `consents template add`, `consents sign`, `consents withdraw`.
SQLAlchemy loads inside commands only.

Each command is one transaction, as in cli_records: errors a person can cause exit with
code 2, one `error:` line per problem, and nothing written.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.cli_records import _clinic, _fail, _unit_of_work, _uuid

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dermaplan.records.context import Context

consents_app = typer.Typer(
    help="Publish consent texts, record signed consents, withdraw them.", no_args_is_help=True
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
        from dermaplan.records.models import ConsentKind

        clinic = _clinic(session, context)
        record = publish_template(session, context, clinic.id, ConsentKind(kind.value), text)
        return f"published {record.kind.value} version {record.version}: {record.id}"

    typer.echo(_unit_of_work(publish))


@consents_app.command("sign")
def consents_sign(
    file: Annotated[Path, typer.Argument(help="The signed consent (YAML or JSON).")],
) -> None:
    """Record a consent the patient signed: the exact template version shown, when it was
    opened and signed, the signer and the signature, and for photo consent every scope."""
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
        from dermaplan.records.models import PhotoScope

        clinic = _clinic(session, context)
        chosen = PhotoScope(scope.value) if scope else None
        done = withdraw_consent(session, context, clinic.id, consent_id, reason, chosen)
        return f"withdrew {done.scope} of consent {consent_id}"

    typer.echo(_unit_of_work(withdraw))
