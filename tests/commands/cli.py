"""Running `dermaplan` as the command-line tests do: in-process, or in a process of its own
to see what a command imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from dermaplan.cli import app

runner = CliRunner()
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def run(*args: str) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of one command."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def loaded(arguments: list[str], names: tuple[str, ...]) -> list[str]:
    """Which of the modules `names` one command has imported, run in a fresh process with
    this process's environment (its database, the member acting)."""
    probe = (
        "import json, sys\n"
        "from dermaplan.cli import app\n"
        "try:\n"
        f"    app({arguments!r})\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        f"print(json.dumps([name for name in {names!r} if name in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stdout.splitlines()[-1])
    return found


def acting() -> str:
    """The id of the member of staff the commands act as (tests/commands/conftest.py)."""
    import os

    return os.environ["DERMAPLAN_STAFF"]


def start_clinic(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a new clinic starts: its admin, who adds a practitioner, who then acts."""
    monkeypatch.delenv("DERMAPLAN_STAFF", raising=False)
    assert run("staff", "add", "Nadia Belkacem", "--role", "admin")[0] == 0
    code, _, err = run(
        "--as", "Nadia Belkacem", "staff", "add", "Dr Ana Lima", "--role", "practitioner"
    )
    assert code == 0, err
    monkeypatch.setenv("DERMAPLAN_STAFF", "Dr Ana Lima")


def as_admin(*args: str) -> tuple[int, str, str]:
    """One command run by the clinic's admin (tests/commands/conftest.py)."""
    return run("--as", "Claude Admin", *args)
