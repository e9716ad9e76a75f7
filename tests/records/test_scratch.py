"""Work folders: removed as their run ends, or by the next sweep once their process is dead,
never while it lives; what a dead run half put in place goes with them, a journal stays."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dermaplan.records.private import FILE_MODE
from dermaplan.records.scratch import JOURNAL, PREFIX, publish, sweep, work_folder, work_folders


def _dead(where: Path, name: str = "dead") -> Path:
    """A work folder as a killed run leaves it: its lock file, held by nobody."""
    folder = where / f"{PREFIX}{name}"
    folder.mkdir(mode=0o700)
    os.close(os.open(folder / "lock", os.O_RDWR | os.O_CREAT, FILE_MODE))
    (folder / "backup").write_bytes(b"half a copy")
    return folder


def test_a_work_folder_is_removed_as_its_run_ends_even_on_an_error(tmp_path: Path) -> None:
    try:
        with work_folder(tmp_path) as folder:
            (folder / "copy").write_bytes(b"partial")
            assert folder.stat().st_mode & 0o777 == 0o700
            raise RuntimeError("refused")
    except RuntimeError:
        pass
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_removes_dead_work_folders_never_a_live_one(tmp_path: Path) -> None:
    dead = _dead(tmp_path)
    (tmp_path / f"{PREFIX}no-lock").mkdir()  # killed before it made its lock
    with work_folder(tmp_path) as live:  # sweeps as it begins
        assert work_folders(tmp_path) == [live]
        sweep(tmp_path)
        assert work_folders(tmp_path) == [live]  # held: in use
    assert not dead.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_folder_put_in_place_before_a_file_that_never_came_goes_with_its_run(
    tmp_path: Path,
) -> None:
    """A backup killed between putting its photos folder and its file in place."""
    target = tmp_path / "saved.backup"
    photos = tmp_path / "saved.backup.photos"
    dead = _dead(tmp_path)
    (dead / "publishing.json").write_text(json.dumps([str(photos), str(target)]))
    photos.mkdir()
    (photos / "ab").mkdir()
    finished = _dead(tmp_path, "finished")  # killed after its last part: whole, kept
    other = tmp_path / "other.backup"
    (finished / "publishing.json").write_text(json.dumps([f"{other}.photos", str(other)]))
    Path(f"{other}.photos").mkdir()
    other.write_bytes(b"whole")
    sweep(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "other.backup",
        "other.backup.photos",
    ]


def test_publishing_is_whole_or_nothing_and_never_over_anything(tmp_path: Path) -> None:
    target, photos = tmp_path / "saved.backup", tmp_path / "saved.backup.photos"
    with work_folder(tmp_path) as folder:
        (folder / "photos").mkdir()
        parts = [(folder / "photos", photos), (folder / "backup", target)]
        with pytest.raises(FileNotFoundError):  # the file fails: the folder is taken back
            publish(folder, parts)
        assert not photos.exists()
        (folder / "photos").mkdir()
        (folder / "backup").write_bytes(b"copy")
        target.write_bytes(b"someone else's")
        with pytest.raises(FileExistsError) as refused:
            publish(folder, parts)
        assert refused.value.filename == str(target)
        assert target.read_bytes() == b"someone else's"
        assert not photos.exists()
        target.unlink()
        publish(folder, parts)
    assert sorted(path.name for path in tmp_path.iterdir()) == [target.name, photos.name]


def test_a_dead_folder_with_a_journal_is_left_for_whoever_finishes_it(tmp_path: Path) -> None:
    dead = _dead(tmp_path)
    (dead / JOURNAL).write_text("{}")
    sweep(tmp_path)
    with work_folder(tmp_path):
        pass
    assert work_folders(tmp_path) == [dead]
