"""The `dermaplan` command: a thin shell over the application layer (`dermaplan.app`).

One module per command group; each command parses its arguments, calls one use case and
renders what it returns. A command's module is imported only when that command runs (or
completes), so `dermaplan --help` and `dermaplan consult` load nothing of the records.

Errors a person can cause end with exit code 2 and one located line per problem; a
database that cannot be used ends with exit code 1.
"""

from __future__ import annotations

import gc
import importlib
from typing import TYPE_CHECKING, Annotated, NamedTuple

import typer
from typer.core import TyperGroup
from typer.main import get_command, get_group

from dermaplan.cli.shell import act_as, say

if TYPE_CHECKING:  # typer vendors click and names its types only there
    from typer._click import Command, Context, HelpFormatter


class Entry(NamedTuple):
    module: str  # in dermaplan.cli
    attribute: str  # the module's typer.Typer
    help: str  # the first sentence of its help, shown without importing it (tested equal)
    group: bool = True  # a group of commands, or the holder of one top-level command


COMMANDS: dict[str, Entry] = {
    "consult": Entry("consult", "consult_app", "Screen, decide and plan for one patient", False),
    "knowledge": Entry("knowledge", "knowledge_app", "Check and read the clinical knowledge"),
    "schema": Entry(
        "consult", "schema_app", "Print the JSON Schema of the assessment or the plan", False
    ),
    "init": Entry(
        "database", "init_app", "Create the records database and its audit anchor", False
    ),
    "db": Entry("database", "db_app", "Create and upgrade the records database"),
    "patients": Entry("patients", "patients_app", "Add, find and show patients"),
    "consults": Entry(
        "consults", "consults_app", "Show, list, approve, discard and correct stored consults"
    ),
    "courses": Entry("courses", "courses_app", "Start courses from approved plans and follow them"),
    "sessions": Entry("sessions", "sessions_app", "Record and sign treatment sessions"),
    "consents": Entry(
        "consents", "consents_app", "Publish consent texts; open, sign, list, withdraw consents"
    ),
    "photos": Entry(
        "photos", "photos_app", "Add clinical photos (EXIF stripped), list and export them"
    ),
    "outcomes": Entry(
        "outcomes", "outcomes_app", "Record and list outcome scores (GAIS, scar grade, ...)"
    ),
    "adverse-events": Entry(
        "adverse", "adverse_app", "Record, follow up and report adverse events"
    ),
    "recall": Entry(
        "sessions", "recall_app", "Every patient and session that received a product lot", False
    ),
    "staff": Entry("staff", "staff_app", "Add and list the staff who act, treat, sign and approve"),
    "clinic": Entry("clinic", "clinic_app", "The clinic's name and time zone"),
    "audit": Entry("database", "audit_app", "Check the audit log and rotate its key"),
    "backup": Entry(
        "database", "backup_app", "Back up the database and its photos, and check the copy", False
    ),
    "restore": Entry(
        "database", "restore_app", "Replace the database with a checked backup", False
    ),
    "demo": Entry("demo", "demo_app", "A demo clinic to try Dermaplan on"),
    "serve": Entry("serve", "serve_app", "Serve the web app and its API", False),
}


def first_sentence(text: str) -> str:
    return " ".join(text.split()).split(". ")[0].rstrip(".")


def load_command(name: str) -> Command:
    """The command `name`, its module imported now."""
    entry = COMMANDS[name]
    module = importlib.import_module(f"dermaplan.cli.{entry.module}")
    made = getattr(module, entry.attribute)
    command = get_group(made) if entry.group else get_command(made)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """The root group: lists the commands in `COMMANDS` order (the consult first), and
    imports a command's module only when it is the one asked for."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = [(name, entry.help) for name, entry in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    cls=LazyGroup,
    help="Dermaplan: plan, explain and record mesotherapy and microneedling.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        say(f"dermaplan {version('dermaplan')}")
        raise typer.Exit


@app.callback()
def acting_member(
    staff: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="STAFF",
            help="The member of staff acting (an id or a name; default: $DERMAPLAN_STAFF).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the version and stop.",
        ),
    ] = False,
) -> None:
    """Dermaplan: plan, explain and record mesotherapy and microneedling."""
    act_as(staff)


def run() -> None:
    """The command line, once the process is set up for it (`dermaplan.__main__`)."""
    try:
        app()
    finally:
        # The process ends with the command, and what the command loaded (modules, classes,
        # mappings, the knowledge) lives until then: keep it out of the collector's passes
        # at exit, which otherwise walk every object for nothing (about 0.1 s after a
        # records command).
        gc.freeze()
