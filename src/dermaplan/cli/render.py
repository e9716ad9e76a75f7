"""How records read to a person: the columns of each kind of list, drawn as a Rich table on
a terminal and as one line per record (cells two spaces apart) for pipes and files, and
times to the second."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    import datetime as dt

    from rich.console import RenderableType

    from dermaplan.app.patients import ConsentEntry, ConsultEntry, PatientLine

T = TypeVar("T")
Row = tuple[str, ...]


class Drawn(str):
    """Text the command line drew itself (a Rich table, a styled plan) from data already
    shown safe (dermaplan.text.shown): its own styling is printed as it is."""


@dataclass(frozen=True, slots=True)
class Columns(Generic[T]):
    """A kind of list: its headers, and the cells of one record."""

    headers: Row
    cells: Callable[[T], Row]

    def line(self, item: T) -> str:
        """For pipes and files: the cells that say something, two spaces apart."""
        return "  ".join(cell for cell in self.cells(item) if cell)

    def table(self, items: Iterable[T], width: int | None = None) -> Drawn:
        """The records as a Rich table, as a terminal `width` wide shows it, every cell
        shown safe first."""
        from rich.table import Table

        from dermaplan.text import shown

        table = Table(*self.headers, box=None, header_style="bold", pad_edge=False)
        for item in items:
            table.add_row(*map(shown, self.cells(item)))
        return drawn([table], width)


def drawn(parts: Iterable[RenderableType], width: int | None = None) -> Drawn:
    """Rich renderables as a terminal `width` wide (by default, this one) shows them."""
    from rich.console import Console

    console = Console(width=width, highlight=False, emoji=False, markup=False)
    with console.capture() as captured:
        for part in parts:
            console.print(part)
    return Drawn(captured.get().rstrip("\n"))


def at(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _patient(patient: PatientLine) -> Row:
    name = ", ".join(part for part in (patient.family_name, patient.given_names) if part)
    born = patient.birth_date.isoformat() if patient.birth_date else "-"
    return str(patient.id), born, name, "(deleted)" if patient.deleted else ""


def _consent(entry: ConsentEntry) -> Row:
    signed = (
        f"signed {at(entry.signed_at)} by {entry.signer}"
        if entry.status == "signed"
        else "opened, not signed"
    )
    scopes = ""
    if entry.scopes is not None:
        granted = sorted(scope for scope, given in entry.scopes.items() if given)
        scopes = f"scopes: {', '.join(granted) or 'none granted'}"
    withdrawn = "  ".join(f"withdrawn {w.scope} {at(w.at)}: {w.reason}" for w in entry.withdrawn)
    return (
        str(entry.id),
        f"{entry.kind} v{entry.version}",
        f"opened {at(entry.opened_at)}",
        signed,
        scopes,
        withdrawn,
    )


def _consult(consult: ConsultEntry) -> Row:
    approved = f", approved {at(consult.approved_at)}" if consult.approved_at else ""
    corrects = (
        f", corrects {consult.supersedes}: {consult.correction_reason}"
        if consult.supersedes
        else ""
    )
    discarded = (
        f", discarded {at(consult.discarded_at)}: {consult.discard_reason}"
        if consult.discarded_at
        else ""
    )
    return str(consult.id), str(consult.date), f"{consult.status}{approved}{corrects}{discarded}"


PATIENTS: Columns[PatientLine] = Columns(("id", "born", "name", ""), _patient)
CONSENTS: Columns[ConsentEntry] = Columns(
    ("id", "text", "opened", "signed", "photo scopes", "withdrawn"), _consent
)
CONSULTS: Columns[ConsultEntry] = Columns(("id", "date", "status"), _consult)


def patient_line(patient: PatientLine) -> str:
    return PATIENTS.line(patient)


def consent_line(entry: ConsentEntry) -> str:
    return CONSENTS.line(entry)


def consult_line(consult: ConsultEntry) -> str:
    return CONSULTS.line(consult)


def listing(columns: Columns[T], items: Sequence[T], terminal: bool) -> Iterable[str]:
    """The lines that show `items`: a table on a terminal, else a line each."""
    if terminal and items:
        return [columns.table(items)]
    return map(columns.line, items)
