"""How records read to a person: one line per patient, consult or consent, and times."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt

    from dermaplan.app.patients import ConsentEntry, ConsultEntry, PatientLine


def patient_line(patient: PatientLine) -> str:
    name = ", ".join(part for part in (patient.family_name, patient.given_names) if part)
    born = patient.birth_date.isoformat() if patient.birth_date else "-"
    deleted = "  (deleted)" if patient.deleted else ""
    return f"{patient.id}  {born}  {name}{deleted}"


def at(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def consent_line(entry: ConsentEntry) -> str:
    signed = (
        f"signed {at(entry.signed_at)} by {entry.signer}"
        if entry.status == "signed"
        else "opened, not signed"
    )
    parts = [
        f"{entry.id}  {entry.kind} v{entry.version}  opened {at(entry.opened_at)}",
        signed,
    ]
    if entry.scopes is not None:
        granted = sorted(scope for scope, given in entry.scopes.items() if given)
        parts.append(f"scopes: {', '.join(granted) or 'none granted'}")
    parts += [f"withdrawn {w.scope} {at(w.at)}: {w.reason}" for w in entry.withdrawn]
    return "  ".join(parts)


def consult_line(consult: ConsultEntry) -> str:
    approved = f", approved {at(consult.approved_at)}" if consult.approved_at else ""
    corrects = (
        f", corrects {consult.supersedes}: {consult.correction_reason}"
        if consult.supersedes
        else ""
    )
    return f"{consult.id}  {consult.date}  {consult.status}{approved}{corrects}"
