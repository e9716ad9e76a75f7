"""The consent commands: `consents template add|list|show`, `consents open`, `consents sign`,
`consents withdraw`, `consents list`, each one use case of `dermaplan.app.consents`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.bounds import DOCUMENT_BYTES, LARGEST
from dermaplan.cli.render import CONSENTS, Columns, at
from dermaplan.cli.shell import (
    FormatOption,
    OutputFormat,
    call,
    fail,
    group,
    parse_id,
    patient_id,
    permitted,
    read_input,
    say,
    show_list,
)
from dermaplan.records.enums import ConsentKind, PhotoScope

if TYPE_CHECKING:
    from dermaplan.app.consents import TemplateVersion

consents_app = group("Publish consent texts; open, sign, list, withdraw consents.")
template_app = group("Versioned consent texts.")
consents_app.add_typer(template_app, name="template")

TEMPLATES: Columns[TemplateVersion] = Columns(
    ("text", "published", "id"),
    lambda t: (
        f"{t.kind.value} v{t.version}",
        f"published {at(t.published_at)} by {t.published_by}",
        str(t.id),
    ),
)
CONSENT_ID = "a consent id (a UUID, as `consents sign` prints)"
Kind = Annotated[ConsentKind, typer.Argument(help="What the consent is for.")]


@template_app.command("add")
def template_add(
    kind: Kind, file: Annotated[Path, typer.Argument(help="The consent text (UTF-8).")]
) -> None:
    """Publish a new version of a consent text (as an admin); published versions never
    change."""
    from dermaplan.app import consents

    try:  # enough characters to tell a text too long, never all of a larger file
        with file.open(encoding="utf-8") as stream:
            text = stream.read(DOCUMENT_BYTES + 1)
    except (OSError, UnicodeDecodeError) as error:
        fail([f"{file}: cannot read it as UTF-8 text ({error.__class__.__name__})"])
    published = call(consents.publish, kind, text)
    say(f"published {published.kind.value} version {published.version}: {published.id}")


@template_app.command("list")
def template_list(output: FormatOption = OutputFormat.TEXT) -> None:
    """Every published version of every consent text: kind, version, when, by whom, id."""
    from dermaplan.app import consents

    found = call(consents.templates)
    empty = "no consent text published yet: `dermaplan consents template add`"
    show_list(found, output, TEMPLATES, empty)


@template_app.command("show")
def template_show(
    kind: Kind,
    version: Annotated[
        int | None,
        typer.Option(min=1, max=LARGEST, help="A version (default: the current one)."),
    ] = None,
) -> None:
    """Print the exact text of a version, as it is shown to patients."""
    from dermaplan.app import consents

    say(call(consents.template, kind, version).text)


@consents_app.command("open")
def consents_open(
    patient: Annotated[str, typer.Argument(metavar="PATIENT_ID")],
    kind: Annotated[ConsentKind, typer.Option(help="What the consent is for.")],
) -> None:
    """Record that the current version of a consent text is shown to the patient now; it
    counts for nothing until `consents sign` completes it (`consent: ID` in the file)."""
    from dermaplan.app import consents

    opened = call(consents.open_consent, patient_id(patient), kind)
    say(f"opened consent {opened.id} ({opened.kind}, not signed)")


@consents_app.command("sign")
def consents_sign(
    file: Annotated[Path, typer.Argument(help="The signed consent (YAML or JSON).")],
) -> None:
    """Record a consent the patient signed: the exact template version shown (or the opened
    consent that recorded it), when it was opened and signed, the signer and the signature,
    and for photo consent every scope."""
    from dermaplan.app import consents
    from dermaplan.records.schemas import ConsentData

    with permitted(consents.sign):
        signed = call(consents.sign, read_input(file, ConsentData.parse))
        say(f"recorded consent {signed.id} ({signed.kind}, signed)")


@consents_app.command("withdraw")
def consents_withdraw(
    consent: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option(help="Why the patient withdraws it.")],
    scope: Annotated[
        PhotoScope | None, typer.Option(help="Photo consent: withdraw only this scope.")
    ] = None,
) -> None:
    """Withdraw a consent (or one scope of a photo consent); it stays on record."""
    from dermaplan.app import consents

    consent_id = parse_id(consent, CONSENT_ID)
    done = call(consents.withdraw, consent_id, reason, scope)
    say(f"withdrew {done.scope} of consent {consent_id}")


@consents_app.command("list")
def consents_list(
    patient: Annotated[str, typer.Argument(metavar="PATIENT_ID")],
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """A patient's consents, in the order they were opened: id, kind and version, opened,
    signed and by whom, photo scopes granted, withdrawals; the reading is audited."""
    from dermaplan.app import consents

    chosen = patient_id(patient)
    found = call(consents.of_patient, chosen)
    show_list(found, output, CONSENTS, f"no consent recorded for patient {chosen}")
