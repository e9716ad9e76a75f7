"""Backups and restores killed with SIGKILL at each step they report: the next command works
on the old database or the restored one, whole, and `audit verify` passes; whatever the
killed run left is removed by the next command (beside the database) or the next backup
(beside its target)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from dermaplan.records.backup import REPLACING
from dermaplan.records.scratch import PREFIX, work_folders
from dermaplan.records.swap import restorer
from tests.commands.cli import as_admin, run
from tests.commands.conftest import ADMIN
from tests.records.factories import image_bytes

HELPER = Path(__file__).with_name("interrupted.py")
ROOT = Path(__file__).resolve().parents[2]
OLD, RESTORED = {"Before", "After"}, {"Before"}
# what a home folder holds between commands: the anchor, its lock and posted heads, the
# audit keyring and its lock, photos
HOME = {"audit-head.json", ".audit-head.json.lock", ".audit-head.json.posted", "photos"}
HOME |= {"audit-keyring.json", ".audit-keyring.json.lock"}


def _killed(command: str, path: Path, stage: str, done: int) -> None:
    """Run `command` in a process of its own, killed as it reports (stage, done)."""
    environment = {**os.environ, "DERMAPLAN_STAFF": ADMIN, "PYTHONPATH": str(ROOT)}
    ended = subprocess.run(
        [sys.executable, str(HELPER), command, str(path), stage, str(done)],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ended.returncode == -signal.SIGKILL, ended.stderr


def _names() -> set[str]:
    code, out, err = run("patients", "list", "--format", "json")
    assert code == 0, err
    return {patient["family_name"] for patient in json.loads(out)}


def _add(family_name: str) -> str:
    code, out, err = run("patients", "add", "--family-name", family_name)
    assert code == 0, err
    return out.split()[1]


def _verified() -> None:
    code, out, err = as_admin("audit", "verify")
    assert code == 0, err
    assert out.startswith("ok: ")


def _leftovers(folder: Path, live: str | None = None) -> list[str]:
    """What a backup or restore may have left in `folder`: work folders, partial files,
    SQLite's -wal and -shm of any file but the live database's."""
    found = []
    for path in folder.iterdir():
        name = path.name
        side = name.endswith(("-wal", "-shm")) and name[:-4] != live
        if name.startswith(PREFIX) or side or ".partial" in name or ".restore" in name:
            found.append(name)
    return found


def _database_folder(database: str, tmp_path: Path) -> tuple[Path, str | None]:
    """Where a restore of the database works: its folder and the live file's name on
    SQLite, the home folder on PostgreSQL."""
    if database.startswith("sqlite"):
        live = Path(make_url(database).database or "")
        return live.parent, live.name
    return tmp_path / "data", None


RESTORE_POINTS = [
    ("checking the backup", 0),
    ("checking the backup", 1),
    *((REPLACING, step) for step in range(5)),
]


@pytest.mark.parametrize(("stage", "done"), RESTORE_POINTS)
def test_a_restore_killed_at_each_step_leaves_the_old_or_the_restored_database(
    database: str, empty_database: Engine, tmp_path: Path, stage: str, done: int
) -> None:
    empty_database.dispose()  # nobody else has the database open, as during a restore
    _add("Before")
    saved = tmp_path / "backups" / "saved.backup"
    saved.parent.mkdir()
    assert as_admin("backup", str(saved))[0] == 0
    _add("After")

    _killed("restore", saved, stage, done)

    sqlite = database.startswith("sqlite")
    # SQLite rolls forward once the journal is written; PostgreSQL rolls back until its
    # one transaction has committed
    committed = stage == REPLACING and done >= (1 if sqlite else 3)
    assert _names() == (RESTORED if committed else OLD)  # the next command finishes it
    _verified()
    folder, live = _database_folder(database, tmp_path)
    assert _leftovers(folder, live) == []
    assert {path.name for path in (tmp_path / "data").iterdir()} <= HOME
    beside = {path.name for path in saved.parent.iterdir()} - {saved.name, f"{saved.name}.photos"}
    assert [name for name in beside if not name.startswith("replaced-")] == []
    assert len(beside) == (0 if sqlite or not committed else 1)  # the database replaced

    code, _, err = as_admin("restore", str(saved), "--yes")  # and a restore runs again
    assert code == 0, err
    assert _names() == RESTORED
    _verified()


BACKUP_POINTS = [
    ("copying the database", 0),
    ("copying the database", 1),
    ("checking the copy", 1),
    ("copying the photo files", 1),  # the last step before both are put in place
]


@pytest.mark.parametrize(("stage", "done"), BACKUP_POINTS)
def test_a_backup_killed_at_each_step_leaves_nothing_the_next_one_does_not_remove(
    database: str, tmp_path: Path, stage: str, done: int
) -> None:
    photo = tmp_path / "face.png"
    photo.write_bytes(image_bytes())
    options = ("--area", "cheeks", "--angle", "frontal", "--stage", "before")
    code, _, err = run("photos", "add", _add("Photographed"), str(photo), *options)
    assert code == 0, err
    backups = tmp_path / "backups"
    backups.mkdir()
    target = backups / "saved.backup"

    _killed("backup", target, stage, done)

    assert [path.name.startswith(PREFIX) for path in backups.iterdir()] == [True]
    code, out, err = as_admin("backup", str(target))
    assert code == 0, err
    assert out.endswith(f"1 photo files in {target}.photos\n")
    assert sorted(path.name for path in backups.iterdir()) == [
        "saved.backup",
        "saved.backup.photos",
    ]
    _verified()


@pytest.mark.parametrize("uninitialised", ["sqlite"], indirect=True)  # PostgreSQL's is undone
def test_a_restore_that_cannot_be_finished_says_how_to_finish_it(
    database: str, empty_database: Engine, tmp_path: Path
) -> None:
    empty_database.dispose()
    _add("Before")
    saved = tmp_path / "saved.backup"
    assert as_admin("backup", str(saved))[0] == 0
    _add("After")
    _killed("restore", saved, REPLACING, 2)  # the live file set aside, the copy not in place
    live = Path(make_url(database).database or "")
    [work] = work_folders(live.parent)
    (work / "restored").unlink()  # the checked copy lost

    code, out, err = run("patients", "list")
    [aside] = live.parent.glob(f"{live.name}.replaced-*")
    assert (code, out) == (1, "")
    assert err == (
        f"error: a restore of {saved} into {live} was interrupted and cannot be finished: the "
        f"checked copy {work / 'restored'} is gone; to go back to the database it replaced, "
        f"move {aside} to {live}, then remove {work}\n"
    )
    assert not live.exists()  # no command made an empty one meanwhile
    assert run("init")[0] == 1

    aside.rename(live)  # as the message says
    for path in work.iterdir():
        path.unlink()
    work.rmdir()
    assert _names() == OLD
    _verified()


@pytest.mark.parametrize("uninitialised", ["postgresql"], indirect=True)
def test_a_postgresql_restore_whose_pg_restore_still_runs_is_waited_for(
    database: str, tmp_path: Path
) -> None:
    """A pg_restore outlives the process that started it when that one is killed: the next
    command does not take the database for restored, or not, before it has ended."""
    _add("Before")
    saved = tmp_path / "saved.backup"
    assert as_admin("backup", str(saved))[0] == 0
    _add("After")
    _killed("restore", saved, REPLACING, 1)  # the journal written
    [work] = work_folders(tmp_path / "data")
    url = make_url(database).set(drivername="postgresql", query={})
    with psycopg.connect(url.render_as_string(hide_password=False)) as connection:
        connection.execute(f"SET application_name = '{restorer(work)}'")
        code, _, err = run("patients", "list")
        assert code == 1
        assert err.startswith(f"error: a restore of {saved} into ")
        assert "is still running (its pg_restore outlived the process" in err
    assert _names() == OLD  # it ended without committing: undone
    _verified()
    assert work_folders(tmp_path / "data") == []
