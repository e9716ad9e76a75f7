"""What every command shares: its command group, who is acting, the one `Application` of
the process, running a use case in one unit of work with its errors turned into exit codes,
and reading the files people give (YAML or JSON, the knowledge) and writing new ones.

Errors a person can cause exit with code 2, one `error:` line per problem (and a `hint:`
line where something would let it through); a database that cannot be used exits with 1.
Everything a command prints goes through `say`, so no control character in the data (a
row written before fields refused them, a file name, an argument) reaches a terminal or a
pipe as one.
"""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    BinaryIO,
    Concatenate,
    NoReturn,
    ParamSpec,
    TypeVar,
)

import typer

from dermaplan.cli.render import Columns, Drawn, listing

if TYPE_CHECKING:
    from dermaplan.app.principal import Access
    from dermaplan.app.unit import Application, UnitOfWork
    from dermaplan.knowledge import KnowledgeBase
    from dermaplan.records.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

STAFF_VARIABLE = "DERMAPLAN_STAFF"
_acting: list[str | None] = [None]  # set from --as by the command line's callback
_kept: list[Application] = []  # the application a `permitted` block holds open


def group(help: str) -> typer.Typer:
    """A command group: plain help (no Rich to import for it), its help when called bare."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None, add_completion=False)


def single() -> typer.Typer:
    """The holder of one top-level command (`consult`, `init`, ...), loaded on its own."""
    return typer.Typer(rich_markup_mode=None, add_completion=False)


def act_as(staff: str | None) -> None:
    _acting[0] = staff


def acting() -> str | None:
    """The member of staff named by --as, or else by DERMAPLAN_STAFF."""
    return _acting[0] or os.environ.get(STAFF_VARIABLE) or None


def say(text: str, *, err: bool = False, nl: bool = True, one_line: bool = False) -> None:
    """Print `text` (on stderr if `err`) with every control character but line breaks and
    tabs (these too if it must stay `one_line`) shown as its escape (dermaplan.text.shown);
    what the command line drew itself from shown data (`Drawn`: a table, a styled plan) is
    printed as it is."""
    from dermaplan.text import shown

    shown_text = text if isinstance(text, Drawn) else shown(text, one_line=one_line)
    typer.echo(shown_text, err=err, nl=nl)


def fail(problems: list[str], hint: str | None = None) -> NoReturn:
    """Exit 2 with each problem on one line, whatever the text it quotes."""
    for problem in problems:
        say(f"error: {problem}", err=True, one_line=True)
    if hint is not None:
        say(f"hint: {hint}", err=True, one_line=True)
    raise typer.Exit(code=2)


def broken(message: str) -> NoReturn:
    say(f"error: {message}", err=True, one_line=True)
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

    # A command over the records may run as long as they are large (a server, a backup, a
    # check of the whole audit log): from here it collects cycles like any program, and
    # never walks again what its start-up made with the collector off (`dermaplan.__main__`).
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
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
    return outside_a_unit(lambda app: app.run(acting(), use_case, *args, **kwargs))


@contextmanager
def permitted(use_case: Callable[..., object]) -> Iterator[None]:
    """Go on only if the member acting may call `use_case`: a command asks before it reads
    the input given for it, so a member who may not call it is refused, never told what is
    wrong with that input. The block's calls use the same application: the records are
    opened (and their schema and anchor checked) once."""
    app = application()
    _kept.append(app)
    try:
        outside_a_unit(lambda app: app.permit(acting(), use_case))
        yield
    finally:
        _kept.pop()
        app.close()


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

    kept = bool(_kept)
    app = _kept[-1] if kept else application()
    try:
        return work(app)
    except RecordsError as error:
        fail(error.problems, error.hint)
    except DatabaseError as error:
        broken(str(error))
    except DBAPIError as error:
        broken(f"the database refused the command, nothing was written: {error.orig}")
    finally:
        if not kept:
            app.close()


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="text for people; json (stable) for programs."),
]


def show(
    result: Any,
    output: OutputFormat,
    text: Callable[[], Iterable[str]],
    empty: str | None = None,
) -> None:
    """A use case's result as JSON (its read model, or a list of them), or as the lines
    `text` renders for people, and `empty` on stderr for them when it is an empty list."""
    if output is OutputFormat.JSON:
        from pydantic import TypeAdapter

        say(TypeAdapter(type(result)).dump_json(result, indent=2).decode())
        return
    for line in text():
        say(line)
    if empty is not None and result == []:
        say(empty, err=True)


def show_list(found: Sequence[T], output: OutputFormat, columns: Columns[T], empty: str) -> None:
    """A list of read models: JSON, a table on a terminal, or a line each."""
    import sys

    show(found, output, lambda: listing(columns, found, sys.stdout.isatty()), empty)


@contextmanager
def progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar on stderr, one line per stage of a long command, gone when it
    ends (and never drawn where stderr is not a terminal): call it with (stage, done,
    total)."""
    import sys

    if not sys.stderr.isatty():
        yield lambda stage, done, total: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    stages: dict[str, TaskID] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    stderr = Console(stderr=True)
    with Progress(*columns, TimeElapsedColumn(), console=stderr, transient=True) as bar:

        def report(stage: str, done: int, total: int) -> None:
            if stage not in stages:
                stages[stage] = bar.add_task(stage, total=total)
            bar.update(stages[stage], completed=done, total=total)

        yield report


def parse_id(text: str, what: str) -> uuid.UUID:
    """A record id given on the command line, or exit 2 saying what was expected."""
    try:
        return uuid.UUID(text)
    except ValueError:
        fail([f"'{text}' is not {what}"])


def patient_id(text: str) -> uuid.UUID:
    return parse_id(text, "a patient id (a UUID, as `dermaplan patients list` prints)")


KnowledgeDirs = Annotated[
    list[Path] | None,
    typer.Option(
        "--knowledge",
        "-k",
        help="A clinic knowledge directory layered over the built-in one (repeatable).",
    ),
]


def load(dirs: list[Path] | None, *, cached: bool = True) -> KnowledgeBase:
    """The knowledge with `dirs` layered over it, kept between commands unless `cached` is
    false (knowledge.cache); problems exit 2."""
    from dermaplan.knowledge import KnowledgeError, load_knowledge
    from dermaplan.knowledge.cache import load_cached_knowledge

    try:
        return (load_cached_knowledge if cached else load_knowledge)(dirs or [])
    except KnowledgeError as error:
        fail(error.problems)
    except OSError as error:  # a knowledge file that is a folder, a dangling link, unreadable
        fail([f"{error.filename}: cannot be read ({error.strerror})"])


def read_input(path: Path, parse: Callable[[Any, str], T]) -> T:
    """A file's content validated by `parse` (given the raw data and the prefix that names
    the file in each problem), or exit 2 with every problem."""
    from dermaplan.records.errors import InvalidInput

    try:
        return parse(read_document(path), f"{path}: ")
    except InvalidInput as error:
        fail(error.problems)


def read_document(path: Path) -> Any:
    """YAML or JSON (JSON is YAML) from a file as plain data (dermaplan.documents), or a
    located error."""
    from dermaplan.documents import DocumentError, read_yaml_file

    try:
        return read_yaml_file(path)
    except FileNotFoundError:
        fail([f"{path}: no such file"])
    except OSError as error:
        fail([f"{path}: cannot be read ({error.strerror})"])
    except DocumentError as error:
        fail([error.located(str(path))])


@contextmanager
def new_file(path: Path) -> Iterator[BinaryIO]:
    """A new file made whole from what the block writes, atomically: a crash or an error
    leaves no file. Its folder is checked as the block begins, so a long interview is not
    asked for a file that cannot be written; an existing file is never overwritten."""
    import tempfile

    directory = path.parent if str(path.parent) else Path()
    try:
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        fail([f"{path}: cannot be written ({error.strerror})"])
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.link(temporary, path)  # fails if the file appeared meanwhile: never overwrite
    except FileExistsError:
        fail([f"{path}: already exists; nothing was overwritten"])
    finally:
        os.unlink(temporary)


def write_new_file(path: Path, content: bytes) -> None:
    with new_file(path) as stream:
        stream.write(content)
