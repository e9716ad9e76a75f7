"""The validated knowledge, kept between commands: reading and validating the YAML is most of
what a consult costs, and the same files always give the same knowledge base.

An entry is used only when it is the user's own file (mode 0600) in the user's own folder
(mode 0700), and its header records the key it was made for and the hash of its payload.
The key hashes this Dermaplan's version, the knowledge code, and the name and bytes of every
knowledge file, built-in and layered, in order: any edit makes a new key. An entry that does
not match, or fails to load, is rebuilt; a cache that cannot be read or written only costs
the time of a full load.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path

from pydantic.version import VERSION as PYDANTIC_VERSION

from dermaplan import __version__, vocabulary
from dermaplan.knowledge.loader import BUILTIN_DIR, KnowledgeBase, knowledge_files, load_knowledge

CACHE_DIR_ENV = "DERMAPLAN_CACHE_DIR"
FORMAT = b"dermaplan-knowledge-cache 1\n"
# The code a knowledge base is made of: this package's, and the words it shares.
_CODE = (*sorted(Path(__file__).parent.glob("*.py")), Path(vocabulary.__file__))


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`DERMAPLAN_CACHE_DIR`, else the user's cache folder for Dermaplan."""
    env = os.environ if environ is None else environ
    if chosen := env.get(CACHE_DIR_ENV):
        return Path(chosen)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("dermaplan", appauthor=False))


def load_cached_knowledge(extra_dirs: Sequence[Path] = ()) -> KnowledgeBase:
    """What `load_knowledge(extra_dirs)` returns, from the cache when its files are unchanged."""
    directories = [BUILTIN_DIR, *(Path(d) for d in extra_dirs)]
    key = knowledge_key(directories)
    folder = _private_folder() if key is not None else None
    if key is None or folder is None:
        return load_knowledge(extra_dirs)
    # One entry per list of directories: an edited layer replaces its own entry.
    where = _digest([os.fsencode(d.resolve()) for d in directories])
    entry = folder / f"knowledge-{where[:24]}"
    kept = _read(entry, key)
    if kept is not None:
        return kept
    kb = load_knowledge(extra_dirs)
    if knowledge_key(directories) == key:  # no file changed while it loaded
        _write(entry, key, kb)
    return kb


def knowledge_key(directories: Sequence[Path]) -> str | None:
    """The hash of everything a knowledge base is made from; None when a directory cannot
    be read (the loader then reports it)."""
    parts = [__version__.encode(), sys.version.encode(), PYDANTIC_VERSION.encode()]
    try:
        for path in _CODE:
            parts += [os.fsencode(path.name), path.read_bytes()]
        for directory in directories:
            if not directory.is_dir():
                return None
            parts += [b"layer", os.fsencode(directory.name)]
            for path in knowledge_files(directory):
                parts += [os.fsencode(path.name), path.read_bytes()]
    except OSError:
        return None
    return _digest(parts)


def _digest(parts: Sequence[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:  # length-prefixed: no two lists of parts hash alike
        digest.update(b"%d:" % len(part) + part)
    return digest.hexdigest()


def _private_folder() -> Path | None:
    """The cache folder, made owner-only if new; None if it is not the user's own alone."""
    if not hasattr(os, "getuid"):  # no owner-only modes to check here: no cache
        return None
    folder = cache_dir() / "knowledge"
    try:
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        status = os.lstat(folder)
    except OSError:
        return None
    return folder if stat.S_ISDIR(status.st_mode) and _owner_only(status) else None


def _owner_only(status: os.stat_result) -> bool:
    return status.st_uid == os.getuid() and not status.st_mode & 0o077


def _read(entry: Path, key: str) -> KnowledgeBase | None:
    try:
        handle = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(handle, "rb") as stream:
        status = os.fstat(stream.fileno())
        if not (stat.S_ISREG(status.st_mode) and _owner_only(status)):
            return None
        try:
            header = [stream.readline() for _ in range(3)]
            payload = stream.read()
        except OSError:
            return None
    if header != [FORMAT, f"{key}\n".encode(), f"{_sha256(payload)}\n".encode()]:
        return None
    try:
        # Safe to unpickle: the user's own file, in a folder only the user can write to,
        # made for this very key and intact.
        kb = pickle.loads(payload)  # noqa: S301
    except Exception:  # an entry from another build can fail in any way: rebuild it
        return None
    return kb if isinstance(kb, KnowledgeBase) else None


def _write(entry: Path, key: str, kb: KnowledgeBase) -> None:
    """Replace the entry atomically: a reader sees the old one or the new one, whole."""
    try:
        payload = pickle.dumps(kb, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # whatever keeps it from being kept, the command goes on
        return
    header = FORMAT + f"{key}\n{_sha256(payload)}\n".encode()
    try:
        handle, temporary = tempfile.mkstemp(dir=entry.parent, prefix=".", suffix=".tmp")
    except OSError:  # e.g. a read-only disk
        return
    try:
        with os.fdopen(handle, "wb") as stream:  # mkstemp made it 0600
            stream.write(header + payload)
        os.replace(temporary, entry)
    except OSError:
        with suppress(OSError):
            os.unlink(temporary)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
