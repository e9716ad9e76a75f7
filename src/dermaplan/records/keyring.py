"""The audit key: a secret outside the database, so that the audit chains cannot be extended
or rewritten by whoever can only write the database.

Each event's hash is an HMAC-SHA256 under the key (records.audit). The keys live in a
keyring file (`audit-keyring.json` in the home folder, or `DERMAPLAN_AUDIT_KEYRING`), made
by `dermaplan init`, readable by its owner only; Dermaplan refuses one that others may read.
The keyring holds every key in the order they were made: the last signs, the earlier ones
(retired by `dermaplan audit rotate-key`) stay to verify what they signed. A key's id is a
fingerprint of its secret, so a key put in the keyring under another's id is found.

A keyring is never made over one that exists, and never made for a database whose log
holds signed events: a lost keyring is restored from its backup, not replaced.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import stat
import sys
import tempfile
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dermaplan.records.errors import DatabaseError
from dermaplan.records.private import exclusive, private_folder

if TYPE_CHECKING:
    from dermaplan.records.settings import Settings

FORMAT = "dermaplan.audit_keyring/1"
SECRET_BYTES = 32
KEYRING_OPTION = "dermaplan_audit_keyring"  # the engine's KeyringFile


def key_id(secret: bytes) -> str:
    """The id events name their key by: the first 16 hex digits of a SHA-256 of the secret."""
    return hashlib.sha256(b"dermaplan.audit_key:" + secret).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class AuditKey:
    id: str
    secret: bytes = field(repr=False)
    created_at: dt.datetime

    @classmethod
    def new(cls, now: dt.datetime) -> AuditKey:
        secret = secrets.token_bytes(SECRET_BYTES)
        return cls(key_id(secret), secret, now)

    def sign(self, message: bytes) -> str:
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Keyring:
    where: str  # the file, for a person
    keys: tuple[AuditKey, ...]  # oldest first: the last one signs

    @property
    def current(self) -> AuditKey | None:
        return self.keys[-1] if self.keys else None

    def find(self, wanted: str) -> tuple[int, AuditKey] | None:
        """The key of that id, with its rank: how many keys were made before it."""
        for rank, key in enumerate(self.keys):
            if key.id == wanted:
                return rank, key
        return None


class KeyringFile:
    """The keyring's file: JSON, written atomically (temporary file, fsync, rename), 0600.
    `signing_key` reads it again whenever the file changed, so a rotation made by another
    process is followed by the next event written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._signing: AuditKey | None = None

    @property
    def where(self) -> str:
        return str(self.path)

    def read(self) -> Keyring | None:
        """The keyring, or None if there is no file; one that cannot be used is an error."""
        try:
            raw = self.path.read_bytes()
            self._refuse_shared()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise self._unusable(error.strerror or str(error)) from None
        return self._parse(raw)

    def require(self) -> Keyring:
        """The keyring, which must be there with a key."""
        keyring = self.read()
        if keyring is None or keyring.current is None:
            raise self._missing()
        return keyring

    def signing_key(self) -> AuditKey:
        """The key that signs now, read again only if the file changed since."""
        try:
            found = self.path.stat()
        except FileNotFoundError:
            raise self._missing() from None
        seen = (found.st_ino, found.st_mtime_ns, found.st_size)
        if seen != self._seen or self._signing is None:
            self._signing = self.require().keys[-1]
            self._seen = seen
        return self._signing

    def key(self, wanted: str) -> AuditKey | None:
        """The key of that id: the signing one without reading the file again, an earlier
        one from the file; None if the keyring has no such key."""
        signing = self.signing_key()
        if signing.id == wanted:
            return signing
        found = self.require().find(wanted)
        return None if found is None else found[1]

    def create(self, now: dt.datetime) -> Keyring:
        """A new keyring of one key; never over a file that exists."""
        with self._lock():
            if self.path.exists():
                raise DatabaseError(f"the audit keyring {self.path} exists already")
            keyring = Keyring(self.where, (AuditKey.new(now),))
            self._write(keyring, replace=False)
        return keyring

    def rotate(self, now: dt.datetime) -> Keyring:
        """The keyring with a new key that signs from now on; the others kept."""
        with self._lock():
            keyring = self.require()
            rotated = Keyring(self.where, (*keyring.keys, AuditKey.new(now)))
            self._write(rotated, replace=True)
        return rotated

    def _lock(self) -> AbstractContextManager[object]:
        private_folder(self.path.parent)
        return exclusive(self.path.with_name(f".{self.path.name}.lock"))

    def _write(self, keyring: Keyring, *, replace: bool) -> None:
        body = json.dumps(
            {
                "format": FORMAT,
                "keys": [
                    {
                        "id": key.id,
                        "secret": base64.b64encode(key.secret).decode("ascii"),
                        "created_at": key.created_at.isoformat(),
                    }
                    for key in keyring.keys
                ],
            },
            indent=2,
        )
        descriptor, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                stream.write(body + "\n")
                stream.flush()
                os.fsync(stream.fileno())
            if replace:
                os.replace(temporary, self.path)
            else:
                os.link(temporary, self.path)  # fails if a file is there: never over one
        except OSError as error:
            raise DatabaseError(
                f"the audit keyring {self.path} cannot be written: {error.strerror or error}"
            ) from None
        finally:
            Path(temporary).unlink(missing_ok=True)

    def _refuse_shared(self) -> None:
        """A key others may read protects nothing: refuse it, as ssh refuses such a key."""
        if sys.platform == "win32":
            return
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise self._unusable(
                f"others may read or write it (mode {mode:04o}); make it its owner's only "
                f"(chmod 600 {self.path})"
            )

    def _parse(self, raw: bytes) -> Keyring:
        try:
            document = json.loads(raw.decode("utf-8"))
            if document.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} document")
            keys = tuple(
                AuditKey(
                    str(entry["id"]),
                    base64.b64decode(entry["secret"], validate=True),
                    dt.datetime.fromisoformat(entry["created_at"]),
                )
                for entry in document["keys"]
            )
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as error:
            raise self._unusable(f"not a keyring ({error})") from None
        for key in keys:
            if len(key.secret) != SECRET_BYTES or key_id(key.secret) != key.id:
                raise self._unusable(f"key {key.id} is not the key of that id")
        return Keyring(self.where, keys)

    def _missing(self) -> DatabaseError:
        return DatabaseError(
            f"no audit keyring at {self.path}: put back its copy (the audit log is signed "
            "with it), or give its place in DERMAPLAN_AUDIT_KEYRING"
        )

    def _unusable(self, why: str) -> DatabaseError:
        return DatabaseError(f"the audit keyring {self.path} cannot be used: {why}")


def keyring_file(settings: Settings) -> KeyringFile:
    return KeyringFile(settings.audit_keyring)


def key_engine(engine: Engine, keyring: KeyringFile) -> None:
    """Make every event written through `engine` signed with `keyring`'s current key."""
    engine.update_execution_options(**{KEYRING_OPTION: keyring})


def engine_keyring(engine: Engine) -> KeyringFile | None:
    found: KeyringFile | None = engine.get_execution_options().get(KEYRING_OPTION)
    return found


def session_keyring(session: Session) -> KeyringFile:
    """The keyring of this session's engine."""
    keyring: KeyringFile | None = session.get_bind().get_execution_options().get(KEYRING_OPTION)
    if keyring is None:
        raise DatabaseError(
            "no audit keyring is set for this database: its events cannot be signed"
        )
    return keyring


def signing_key(session: Session) -> AuditKey:
    """The key that signs this session's events: its engine's keyring's current key."""
    return session_keyring(session).signing_key()
