"""Running `dermaplan` in-process, as the command-line tests do."""

from __future__ import annotations

from typer.testing import CliRunner

from dermaplan.cli import app

runner = CliRunner()
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def run(*args: str) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of one command."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr
