"""Running `dermaplan` in-process, as the command-line tests do."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dermaplan.cli import app

runner = CliRunner()
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def run(*args: str) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of one command."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


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
