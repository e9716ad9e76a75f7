"""`dermaplan sessions`: record, revise, amend, show and sign treatment sessions, and
`dermaplan recall LOT`, each one use case of `dermaplan.app.sessions`."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dermaplan.cli.shell import (
    FormatOption,
    KnowledgeDirs,
    OutputFormat,
    call,
    group,
    load,
    parse_id,
    permitted,
    read_input,
    say,
    show,
    single,
)

if TYPE_CHECKING:
    from dermaplan.app.sessions import LotRecall, RecordedSession
    from dermaplan.knowledge import KnowledgeBase
    from dermaplan.records.schemas import SessionData

sessions_app = group("Record and sign treatment sessions.")
recall_app = single()


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
    from dermaplan.records.schemas import SessionData

    return read_input(file, lambda data, where: SessionData.parse(data, kb, where))


def _echo_draft(recorded: RecordedSession) -> None:
    if recorded.amends is not None:
        say(f"recorded amendment {recorded.id} (draft) of session {recorded.amends}")
    elif recorded.revised:
        say(f"revised session {recorded.id} (draft)")
    else:
        say(f"recorded session {recorded.id} (draft)")
    if recorded.fulfils is not None:
        course, number = recorded.fulfils
        say(f"it fulfils planned session {number} of course {course}")
    for item in recorded.to_complete:
        say(f"to complete before signing: {item}", err=True)


@sessions_app.command("record")
def sessions_record(
    file: Annotated[Path, typer.Argument(help="The session (YAML or JSON).")],
    override: Override = None,
    knowledge: KnowledgeDirs = None,
) -> None:
    """Record a treatment session you gave (you are its `practitioner`) as a draft, checked
    against safety first."""
    from dermaplan.app import sessions

    with permitted(sessions.record):
        kb = load(knowledge)
        _echo_draft(call(sessions.record, _session_file(file, kb), kb, override))


@sessions_app.command("revise")
def sessions_revise(
    session_id: Annotated[str, typer.Argument(metavar="SESSION_ID")],
    file: Annotated[Path, typer.Argument(help="The session as it should read (YAML or JSON).")],
    override: Override = None,
    knowledge: KnowledgeDirs = None,
) -> None:
    """Replace a draft session's content, checked against safety again."""
    from dermaplan.app import sessions

    with permitted(sessions.revise):
        wanted = parse_id(session_id, SESSION_ID)
        kb = load(knowledge)
        _echo_draft(call(sessions.revise, wanted, _session_file(file, kb), kb, override))


@sessions_app.command("amend")
def sessions_amend(
    session_id: Annotated[str, typer.Argument(metavar="SESSION_ID")],
    file: Annotated[Path, typer.Argument(help="The session as it should read (YAML or JSON).")],
    reason: Annotated[str, typer.Option(help="What the amendment corrects (required).")],
    override: Override = None,
    knowledge: KnowledgeDirs = None,
) -> None:
    """Correct a signed session: a new draft version pointing at it, which replaces it
    once signed; the signed version stays on record."""
    from dermaplan.app import sessions

    with permitted(sessions.amend):
        wanted = parse_id(session_id, SESSION_ID)
        kb = load(knowledge)
        _echo_draft(call(sessions.amend, wanted, _session_file(file, kb), kb, reason, override))


@sessions_app.command("show")
def sessions_show(
    session_id: Annotated[str, typer.Argument(metavar="ID")],
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Every version of a session, oldest first; the reading is audited. As JSON, each
    version is its audited state in full."""
    from dermaplan.app import sessions

    versions = call(sessions.history, parse_id(session_id, "session"))
    if output is OutputFormat.JSON:
        say(json.dumps(versions, indent=2, ensure_ascii=False))
        return
    for version in versions:
        say("\n".join(_version_lines(version)))


def _at(text: str) -> str | None:
    """A time of the JSON form (the clinic's clock), shown as every command shows one."""
    import datetime as dt

    from dermaplan.cli.render import at

    return at(dt.datetime.fromisoformat(text))


def _version_lines(version: dict[str, Any]) -> list[str]:
    products = ", ".join(f"{p['product']} (lot {p['lot_id']})" for p in version["products"])
    lines = [
        f"session {version['id']}  {version['status']}  {_at(version['performed_at'])}",
        f"  {version['modality']} on {', '.join(version['areas'])}",
        f"  products: {products or 'none'}",
    ]
    if version["signed_at"]:
        lines.append(f"  signed {_at(version['signed_at'])} by {version['signed_by_id']}")
    if version["amends_id"]:
        lines.append(f"  amends {version['amends_id']}: {version['amendment_reason']}")
    if version["notes"]:
        lines.append(f"  notes: {version['notes']}")
    return lines


@sessions_app.command("sign")
def sessions_sign(
    session: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[
        str | None,
        typer.Option(help="Why it is signed although the completeness check finds gaps."),
    ] = None,
    knowledge: KnowledgeDirs = None,
) -> None:
    """Sign a draft session as the practitioner acting; it can then only be corrected by an
    amendment."""
    from dermaplan.app import sessions

    kb = load(knowledge)
    signed = call(sessions.sign, parse_id(session, SESSION_ID), kb, reason)
    note = f", with {signed.gaps_explained} gaps explained" if signed.gaps_explained else ""
    say(f"signed session {signed.id} by {signed.signed_by}{note}")


class RecallFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    CSV = "csv"


RECALL_CSV = (
    "patient_name", "phone", "email", "session_date", "performed_at", "product", "lot",
    "expiry", "session_status", "session_id", "patient_id",
)  # fmt: skip


def _recall_csv(found: LotRecall) -> str:
    """One row per session that used the lot, with what the clinic needs to call the
    patient (spreadsheet-ready: RFC 4180, a header row)."""
    import csv
    import io

    out = io.StringIO()
    rows = csv.writer(out, lineterminator="\r\n")
    rows.writerow(RECALL_CSV)
    for line in found.sessions:
        rows.writerow(
            (
                line.patient_name,
                line.phone or "",
                line.email or "",
                line.performed_on.isoformat(),
                line.performed_at.isoformat(timespec="minutes"),
                line.product,
                found.lot,
                line.expiry_date.isoformat() if line.expiry_date else "",
                line.status,
                line.session_id,
                line.patient_id,
            )
        )
    return out.getvalue()


@recall_app.command()
def recall(
    lot: Annotated[str, typer.Argument(metavar="LOT")],
    output: Annotated[
        RecallFormat,
        typer.Option(
            "--format",
            "-f",
            help="text for people; json (stable) for programs; csv: the patients to call, "
            "with their contact details.",
        ),
    ] = RecallFormat.TEXT,
) -> None:
    """Every patient and session that received a product lot. Sessions oldest first, then
    the adverse events that involved the lot."""
    from dermaplan.app import sessions

    found = call(sessions.recall, lot)
    if output is RecallFormat.JSON:
        show(found, OutputFormat.JSON, list)
        return
    if output is RecallFormat.CSV:
        say(_recall_csv(found), nl=False)
        return
    if not found.sessions:
        say(f"no session used lot '{lot}'", err=True)
    else:
        header = ("performed", "session", "status", "patient", "name", "product")
        say("  ".join((*header, "volume", "expiry")))
        for line in found.sessions:
            say(
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
        say(
            "\nadverse events involving the lot:\n"
            + "  ".join(("event", "patient", "name", "onset", "type", "severity", "status"))
        )
        for event in found.adverse_events:
            say(
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
