"""The package as a user installs it: a wheel (not the source tree), run from another
folder, carries its knowledge, its migrations and its licence, and needs no PostgreSQL
driver for SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the project and installed into a folder of its own."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(ROOT)],
        check=True,
    )
    [wheel] = work.glob("dermaplan-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert any(n.endswith("knowledge/data/rules.yaml") for n in names)
    assert any(n.endswith("migrations/versions/0001_initial.py") for n in names)
    assert any(n.endswith("licenses/LICENSE") for n in names)
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True,
    )  # fmt: skip
    return target


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(site), "DERMAPLAN_HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "dermaplan", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_installed_package_plans_from_any_folder(installed: Path, tmp_path: Path) -> None:
    example = ROOT / "examples" / "01-acne-scars-dehydration.yaml"
    probe = run_installed(installed, tmp_path, "knowledge", "check")
    assert probe.returncode == 0, probe.stderr
    done = run_installed(installed, tmp_path, "consult", str(example), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert '"schema_version"' in done.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import dermaplan; print(dermaplan.__file__)"],
        env={**os.environ, "PYTHONPATH": str(installed)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(installed))


def test_without_the_postgresql_extra_a_server_url_says_what_to_install() -> None:
    probe = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from dermaplan.records.db import create_records_engine\n"
        "from dermaplan.records.errors import DatabaseError\n"
        "try:\n"
        "    create_records_engine('postgresql://clinic@127.0.0.1/records')\n"
        "except DatabaseError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == (
        "PostgreSQL support is not installed: pip install 'dermaplan[postgresql]'"
    )
