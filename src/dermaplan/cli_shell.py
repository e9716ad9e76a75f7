"""What every records command shares: who is acting, the one `Application` of the process,
and running a use case in one unit of work with its errors turned into exit codes.

Errors a person can cause exit with code 2, one `error:` line per problem (and a `hint:`
line where something would let it through); a database that cannot be used exits with 1.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Concatenate, NoReturn, ParamSpec, TypeVar

import typer

if TYPE_CHECKING:
    from dermaplan.app.principal import Access
    from dermaplan.app.unit import Application, UnitOfWork
    from dermaplan.records.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

STAFF_VARIABLE = "DERMAPLAN_STAFF"
_acting: list[str | None] = [None]  # set from --as by the command line's callback


def act_as(staff: str | None) -> None:
    _acting[0] = staff


def acting() -> str | None:
    """The member of staff named by --as, or else by DERMAPLAN_STAFF."""
    return _acting[0] or os.environ.get(STAFF_VARIABLE) or None


def fail(problems: list[str], hint: str | None = None) -> NoReturn:
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if hint is not None:
        typer.echo(f"hint: {hint}", err=True)
    raise typer.Exit(code=2)


def broken(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def settings() -> Settings:
    """The settings in force, or the command's end with the one line saying what is wrong."""
    from dermaplan.records.errors import DatabaseError
    from dermaplan.records.settings import records_settings

    try:
        return records_settings()
    except DatabaseError as error:
        broken(str(error))


def application() -> Application:
    from dermaplan.app.unit import Application

    return Application(settings())


def call(
    use_case: Callable[Concatenate[UnitOfWork, P], R],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> R:
    """Run one use case in one transaction as the member acting, with the access it
    declares: its result once committed, or the command's end with every problem on its
    own line."""
    from dermaplan.app.principal import ACCESS, Access, use_case_name

    access = ACCESS.get(use_case_name(use_case), Access.CHANGE)
    return within(lambda uow: use_case(uow, *args, **kwargs), access=access)


def within(work: Callable[[UnitOfWork], R], *, access: Access | None = None) -> R:
    """`work` in one unit of work (by default one that changes records), committed only if
    it returns."""

    from dermaplan.app.principal import Access

    def in_a_unit(app: Application) -> R:
        with app.unit(acting(), access=access or Access.CHANGE) as uow:
            return work(uow)

    return outside_a_unit(in_a_unit)


def outside_a_unit(work: Callable[[Application], R]) -> R:
    """`work` with the process's application (a use case that enters its units itself),
    its errors turned into exit codes."""
    from sqlalchemy.exc import DBAPIError

    from dermaplan.records.errors import DatabaseError, RecordsError

    app = application()
    try:
        return work(app)
    except RecordsError as error:
        fail(error.problems, error.hint)
    except DatabaseError as error:
        broken(str(error))
    except DBAPIError as error:
        broken(f"the database refused the command, nothing was written: {error.orig}")
    finally:
        app.close()


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="text for people; json (stable) for programs."),
]


def show(result: Any, output: OutputFormat, text: Callable[[], Iterable[str]]) -> None:
    """A use case's result as JSON (its read model, or a list of them), or as the lines
    `text` renders for people."""
    if output is OutputFormat.JSON:
        from pydantic import TypeAdapter

        typer.echo(TypeAdapter(type(result)).dump_json(result, indent=2).decode())
        return
    for line in text():
        typer.echo(line)


def parse_id(text: str, what: str) -> uuid.UUID:
    """A record id given on the command line, or exit 2 saying what was expected."""
    try:
        return uuid.UUID(text)
    except ValueError:
        fail([f"'{text}' is not {what}"])


def patient_id(text: str) -> uuid.UUID:
    return parse_id(text, "a patient id (a UUID, as `dermaplan patients list` prints)")
