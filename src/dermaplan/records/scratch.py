"""Work folders: the temporary files of a backup or a restore, in a folder of their own beside
what they become (so that putting them in place is a rename on one file system), held by an
operating-system lock for as long as the process that made them runs.

A run that is refused removes its folder as it ends. A run that is killed leaves one folder,
named `.dermaplan-work-…`, which the next backup or restore in that folder recognises by its
name and removes once it can take the lock: a lock dies with its process, whatever killed
it, so a folder still in use is never touched.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from dermaplan.records.private import FILE_MODE, open_private, private_folder

PREFIX = ".dermaplan-work-"
# A run's journal: what it has begun to change outside its folder and how to finish it
# (records.swap). A folder holding one outlives an error and is left for whoever finishes
# it, never swept.
JOURNAL = "journal.json"
_LOCK = "lock"
_PUBLISHING = "publishing.json"  # what a run was putting in place, should it die meanwhile

if sys.platform == "win32":
    import msvcrt

    def _lock(descriptor: int, *, wait: bool) -> bool:
        try:
            msvcrt.locking(descriptor, msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
        except OSError:
            if wait:
                raise
            return False
        return True

else:
    import fcntl

    def _lock(descriptor: int, *, wait: bool) -> bool:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True


def _held(folder: Path, *, wait: bool) -> int | None:
    """The descriptor of another run's lock on `folder`, locked; None if that run holds it
    still (and `wait` is false) or if the folder or its lock is gone (removed meanwhile)."""
    try:
        descriptor = os.open(folder / _LOCK, os.O_RDWR)
    except FileNotFoundError:
        return None
    if _lock(descriptor, wait=wait):
        return descriptor
    os.close(descriptor)
    return None


def work_folders(where: Path) -> list[Path]:
    """The work folders in `where`, live or dead."""
    try:
        return sorted(path for path in where.iterdir() if path.name.startswith(PREFIX))
    except (FileNotFoundError, NotADirectoryError):
        return []


@contextmanager
def work_folder(where: Path) -> Iterator[Path]:
    """A new folder in `where`, readable by its owner only and held until the block ends,
    then removed with everything in it unless it holds a journal; dead work folders beside
    it are removed first."""
    sweep(where)
    folder = private_folder(where / f"{PREFIX}{uuid.uuid4().hex}")
    try:
        descriptor = os.open(folder / _LOCK, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            _lock(descriptor, wait=True)
            yield folder
        finally:
            os.close(descriptor)  # before the removal: Windows removes no open file
    finally:
        if not (folder / JOURNAL).exists():
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def holding(folder: Path) -> Iterator[bool]:
    """Hold another run's work folder, waiting while that run goes on: False if it has gone
    meanwhile."""
    descriptor = _held(folder, wait=True)
    try:
        yield descriptor is not None
    finally:
        if descriptor is not None:
            os.close(descriptor)


def sweep(where: Path) -> None:
    """Remove the work folders in `where` that no live process holds, and whatever their run
    had put in place of a whole it never finished (`publish`); those with a journal are
    left for whoever finishes them."""
    for folder in work_folders(where):
        if (folder / JOURNAL).exists():
            continue
        descriptor = _held(folder, wait=False)
        if descriptor is None and (folder / _LOCK).exists():
            continue  # in use
        if descriptor is not None:
            os.close(descriptor)
        _unpublish(folder)
        shutil.rmtree(folder, ignore_errors=True)


def publish(folder: Path, parts: Sequence[tuple[Path, Path]]) -> None:
    """Move each part made in `folder` to its name, in order, never over anything there: the
    last part makes the whole visible (a backup's file, after its photos folder), so the
    others are taken away again if it never comes, at once on an error or by the next sweep
    if the process dies meanwhile."""
    names = [name for _, name in parts]
    for name in names:
        if os.path.lexists(name):
            raise _exists(name)
    write_durably(folder / _PUBLISHING, json.dumps([str(name) for name in names]))
    moved: list[Path] = []
    try:
        for made, name in parts:
            if made.is_dir():
                made.rename(name)
            else:
                try:
                    os.link(made, name)  # never over a file that appeared meanwhile
                except FileExistsError:
                    raise FileExistsError(
                        errno.EEXIST, os.strerror(errno.EEXIST), str(name)
                    ) from None
                made.unlink()
            moved.append(name)
            sync_folder(name.parent)
    except BaseException:
        for name in moved:
            _remove(name)
        raise
    (folder / _PUBLISHING).unlink()


def _exists(name: Path) -> FileExistsError:
    return FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(name))


def _unpublish(folder: Path) -> None:
    try:
        names = [Path(name) for name in json.loads((folder / _PUBLISHING).read_text("utf-8"))]
    except (OSError, ValueError, TypeError):
        return
    if names and not os.path.lexists(names[-1]):
        for name in names[:-1]:
            _remove(name)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_durably(path: Path, text: str) -> None:
    """`path` holds `text` whole, on disk, or is as it was: written beside it, flushed to
    disk and renamed over it, the folder flushed too."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        with open_private(partial) as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk, so a rename in it survives a power cut (POSIX; on
    Windows there is no such call, and renames are journalled by the file system)."""
    if sys.platform == "win32":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
