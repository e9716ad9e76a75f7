"""The command line as a shell: its command list, help, version and completion, and that a
command loads only its own module."""

from __future__ import annotations

import ast
import gc
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dermaplan.cli
from dermaplan.cli import COMMANDS, app, first_sentence, load_command
from dermaplan.cli.render import Columns
from dermaplan.cli.shell import OutputFormat, outside_a_unit, show_list
from tests.commands.cli import loaded
from tests.conftest import EXAMPLES

runner = CliRunner()


def test_the_consult_comes_first_and_every_command_is_listed() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    listed = [
        line.split()[0]
        for line in result.output.split("Commands:")[1].splitlines()
        if line.startswith("  ")
    ]
    assert listed == list(COMMANDS)
    assert listed[0] == "consult"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_listed_help_is_the_commands_own(name: str) -> None:
    """The root lists each command's help without importing it: it must say what the
    command's own help says."""
    command = load_command(name)
    assert first_sentence(command.help or "") == COMMANDS[name].help
    assert command.name == name


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_short_and_long_help(name: str) -> None:
    for flag in ("-h", "--help"):
        result = runner.invoke(app, [name, flag])
        assert result.exit_code == 0, result.output
        assert f" {name} [OPTIONS]" in result.output
    assert "<class" not in result.output
    assert "typing." not in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"dermaplan {version('dermaplan')}\n"


def test_an_unknown_command_is_a_usage_error() -> None:
    result = runner.invoke(app, ["patient"])
    assert result.exit_code == 2
    assert "No such command 'patient'" in result.output


def completions(*words: str) -> list[str]:
    environment = os.environ | {
        "_DERMAPLAN_COMPLETE": "complete_bash",
        "COMP_WORDS": " ".join(("dermaplan", *words)),
        "COMP_CWORD": str(len(words)),
    }
    script = Path(sys.executable).parent / "dermaplan"  # completion keys on the program's name
    done = subprocess.run([script], env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_shell_completion_of_commands_and_subcommands() -> None:
    assert completions("pat") == ["patients"]
    assert completions("patients", "s") == ["search", "show"]
    assert "--install-completion" in runner.invoke(app, ["--help"]).output


@pytest.mark.parametrize(
    ("arguments", "absent"),
    [
        (["--help"], ("rich", "sqlalchemy", "pydantic", "dermaplan.cli.patients")),
        (["patients", "--help"], ("rich", "sqlalchemy", "dermaplan.cli.consults")),
        (["consult", "--help"], ("sqlalchemy", "dermaplan.records", "dermaplan.cli.sessions")),
        (
            ["consult", str(EXAMPLES / "01-acne-scars-dehydration.yaml"), "--format", "json"],
            ("rich", "sqlalchemy", "dermaplan.records", "dermaplan.report", "dermaplan.interview"),
        ),
    ],
)
def test_a_command_imports_only_what_it_uses(arguments: list[str], absent: tuple[str, ...]) -> None:
    assert loaded(arguments, absent) == []


WORDS: Columns[tuple[str, str]] = Columns(("word", "meaning"), lambda pair: pair)
PAIRS = [("bleb", "a raised papule of injected product"), ("wheal", "")]


def test_a_list_is_a_table_on_a_terminal_and_lines_in_a_pipe(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    show_list(PAIRS, OutputFormat.TEXT, WORDS, "nothing")
    piped = capsys.readouterr().out
    assert piped.splitlines() == ["bleb  a raised papule of injected product", "wheal"]

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    show_list(PAIRS, OutputFormat.TEXT, WORDS, "nothing")
    drawn = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)  # bold headers
    header, *rows = drawn.splitlines()
    assert header.split() == ["word", "meaning"]
    assert rows[0].split(maxsplit=1) == ["bleb", "a raised papule of injected product"]
    assert rows[1].strip() == "wheal"
    assert header.index("meaning") == rows[0].index("a raised")  # one column, aligned


def test_a_table_wraps_to_the_terminal_and_keeps_every_cell() -> None:
    table = WORDS.table(PAIRS, width=30)
    assert "papule" in table
    assert all(len(line) <= 30 for line in table.splitlines())


def test_a_table_shows_control_characters_in_its_cells_as_escapes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A terminal draws the table's own bold header, never a sequence a row holds."""
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    show_list([("bleb\x1b]0;owned\x07", "\u202eeulav")], OutputFormat.TEXT, WORDS, "nothing")
    drawn = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    assert "bleb\\u001b]0;owned\\u0007" in drawn
    assert "\\u202eeulav" in drawn
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", drawn)


PRINTERS = {("typer", "echo"), ("sys.stdout", "write"), ("sys.stderr", "write")}


def test_every_command_prints_through_say() -> None:
    """One helper prints, so no path reaches a terminal without its escaping."""
    cli = Path(dermaplan.cli.__file__).parent
    found = {
        (path.name, function.name)
        for path in cli.glob("*.py")
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(function, ast.FunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and _prints(node.func)
    }
    assert found == {("shell.py", "say")}


def _prints(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id == "print"
    return isinstance(func, ast.Attribute) and (ast.unparse(func.value), func.attr) in PRINTERS


def test_a_command_starts_with_the_collector_off_and_no_pydantic_plugins() -> None:
    probe = (
        "import gc, os, sys\n"
        "import dermaplan.__main__ as entry\n"
        "import dermaplan.cli as cli\n"
        "seen = []\n"
        "cli.act_as = lambda staff: seen.append("
        "(gc.isenabled(), os.environ.get('PYDANTIC_DISABLE_PLUGINS')))\n"
        "sys.argv = ['dermaplan', 'schema', 'plan']\n"
        "try:\n"
        "    entry.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(seen)\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=environment
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[(False, '__all__')]"
    chosen = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=environment | {"PYDANTIC_DISABLE_PLUGINS": ""},  # the environment's choice wins
    )
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.splitlines()[-1] == "[(False, '')]"


def test_a_command_over_the_records_collects_cycles() -> None:
    seen: list[bool] = []
    gc.disable()
    try:
        outside_a_unit(lambda app: seen.append(gc.isenabled()))
    finally:
        gc.unfreeze()
        gc.enable()
    assert seen == [True]
