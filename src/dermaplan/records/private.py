"""Files and folders readable by their owner only: the database, the audit anchor, photos and
backups hold patient data, so whatever Dermaplan creates is 0600 (files) or 0700 (folders)
from the moment it exists, whatever the process's umask.

Files are created with their mode (the umask can only remove bits, and 0600 has none for
others to remove), never created then narrowed, so no other user can open one in between.
SQLite gives a database's -wal and -shm files the database file's own mode. Folders that
already exist are left as they are: a clinic may share its data folder with a group on
purpose. On Windows the modes mean little; the user's profile folder keeps others out.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO

from filelock import FileLock

if sys.platform != "win32":
    import fcntl

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: Path) -> Path:
    """`path` as a folder, each folder made on the way to it (parents too) 0700."""
    missing: list[Path] = []
    step = path
    while not step.exists():
        missing.append(step)
        step = step.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # made meanwhile by another process
            continue
        folder.chmod(FOLDER_MODE)  # mkdir's mode passes through the umask
    return path


def open_private(path: Path) -> BinaryIO:
    """A new file (never one already there) for writing bytes, 0600 from the start."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.fdopen(os.open(path, flags, FILE_MODE), "wb")


def create_private_file(path: Path) -> Path:
    """A new, empty file, 0600, for a tool that fills it (SQLite, pg_dump, a copy) and keeps
    the mode of a file it finds."""
    open_private(path).close()
    return path


if sys.platform == "win32":

    def exclusive(path: Path) -> AbstractContextManager[object]:
        """An exclusive lock on the lock file `path` among every process, held until the
        block ends (filelock's, which polls: Windows has no blocking `flock`)."""
        return FileLock(path, mode=FILE_MODE)

else:

    @contextmanager
    def exclusive(path: Path) -> Iterator[None]:
        """An exclusive lock on the lock file `path` among every process, held until the
        block ends: the operating system's `flock`, which wakes a waiter as soon as it is
        free; closing the file releases it."""
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)
