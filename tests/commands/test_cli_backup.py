"""`dermaplan backup` and `restore` at their edges: a backup that cannot be written, a backup
file damaged byte by byte, a backup whose records were edited. Each is refused in one line
naming the file (exit code 2), and leaves nothing behind; never a traceback."""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dermaplan.records.backup import SCRATCH
from dermaplan.records.scratch import PREFIX
from tests.commands.cli import as_admin, run

TOO_LONG = "b" * 250  # a file name that fits, but not with `.photos` after it


def _names() -> list[str]:
    code, out, err = run("patients", "list", "--format", "json")
    assert code == 0, err
    return sorted(patient["family_name"] for patient in json.loads(out))


def _listing(folder: Path) -> set[str]:
    """Every file and folder under `folder`, hidden ones too, but the live database's own."""
    found = {path.relative_to(folder).as_posix() for path in folder.rglob("*")}
    return {name for name in found if not name.startswith("records.db")}


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("missing/saved.backup", "missing/saved.backup: not a new file in an existing folder"),
        ("/proc/saved.backup", "/proc/saved.backup: cannot be written ("),
        (TOO_LONG, f"{TOO_LONG}.photos: cannot be written (File name too long)"),
        ("", "'.': a backup is a new file; give its name, not a folder"),
        (".", "'.': a backup is a new file; give its name, not a folder"),
        ("/", "'/': a backup is a new file; give its name, not a folder"),
        ("data", "data: already exists; nothing was overwritten"),
    ],
)
def test_a_backup_that_cannot_be_written_is_one_line_and_leaves_nothing(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, says: str
) -> None:
    monkeypatch.chdir(tmp_path)  # where a relative target goes
    before = _listing(tmp_path)
    code, out, err = as_admin("backup", target)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {says}")
    assert err.count("\n") == 1
    assert _listing(tmp_path) == before


def test_a_long_name_that_fits_is_backed_up_whole(database: str, tmp_path: Path) -> None:
    target = tmp_path / ("b" * 220)
    code, _, err = as_admin("backup", str(target))
    assert code == 0, err
    assert target.is_file()
    assert Path(f"{target}.photos").is_dir()


@pytest.mark.parametrize("uninitialised", ["sqlite"], indirect=True)  # an archive: records tests
def test_a_backup_whose_records_were_edited_is_refused_naming_it(
    database: str, empty_database: Engine, tmp_path: Path
) -> None:
    """As the tester did: `sqlite3 saved.backup "update patient set family_name='X' …"`,
    then restore: refused before anything is replaced."""
    empty_database.dispose()
    assert run("patients", "add", "--family-name", "Kept")[0] == 0
    saved = tmp_path / "saved.backup"
    assert as_admin("backup", str(saved))[0] == 0
    with contextlib.closing(sqlite3.connect(saved)) as db:
        db.execute("UPDATE patient SET family_name = 'X' WHERE rowid = 1")
        db.commit()
    assert run("patients", "add", "--family-name", "Later")[0] == 0
    live = tmp_path / "records.db"
    kept = live.read_bytes()
    before = _listing(tmp_path)

    code, out, err = as_admin("restore", str(saved), "--yes")
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {saved}: fails the audit check: patient ")
    assert err.count("\n") == 1
    assert live.read_bytes() == kept  # untouched
    assert _listing(tmp_path) == before
    assert _names() == ["Kept", "Later"]
    assert as_admin("audit", "verify")[0] == 0


FLIPS = {"sqlite": 30, "postgresql": 8}


def test_byte_flips_in_a_backup_give_a_whole_restore_or_one_clear_refusal(
    database: str, empty_database: Engine, tmp_path: Path
) -> None:
    """Random bits flipped in a real backup's content (seeded): each restore either brings
    back the backup whole, or is refused in one line naming the damaged file."""
    empty_database.dispose()
    for name in ("Alpha", "Beta", "Gamma"):
        assert run("patients", "add", "--family-name", name)[0] == 0
    saved = tmp_path / "backups" / "saved.backup"
    saved.parent.mkdir()
    assert as_admin("backup", str(saved))[0] == 0
    data = saved.read_bytes()
    content = [at for at, byte in enumerate(data) if byte]  # not the pages' empty space
    damaged = saved.with_name("damaged.backup")
    generator = random.Random(9)
    outcomes: Counter[int] = Counter()
    for _ in range(FLIPS["sqlite" if database.startswith("sqlite") else "postgresql"]):
        flipped = bytearray(data)
        for _ in range(generator.randint(1, 4)):
            flipped[generator.choice(content)] ^= 1 << generator.randrange(8)
        damaged.write_bytes(bytes(flipped))
        code, _, err = as_admin("restore", str(damaged), "--yes")
        outcomes[code] += 1
        if code == 0:
            assert _names() == ["Alpha", "Beta", "Gamma"]
            verified = as_admin("audit", "verify")
            assert verified[0] == 0, verified[2]
            continue
        assert code == 2, err  # an exception would be exit code 1
        assert err.startswith(f"error: {damaged}: ")
        assert err.count("\n") == 1
        assert PREFIX not in err
        assert SCRATCH not in err
    assert outcomes[2] > 0
    assert [name for name in _listing(tmp_path) if PREFIX in name or "-wal" in name] == []
