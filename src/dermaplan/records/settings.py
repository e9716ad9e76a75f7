"""Where the records live, read once from the environment.

`DERMAPLAN_DATABASE_URL` selects the database (``sqlite:///path`` or
``postgresql://user@host/db``); without it the records are the SQLite file
``dermaplan.db`` in `DERMAPLAN_DATA_DIR`, which defaults to ``./data`` relative to the
working directory. The audit log's head is anchored in ``audit-head.json`` there, or in
`DERMAPLAN_AUDIT_ANCHOR` (e.g. on another disk, out of reach of whoever can edit the
database; see records.anchor). `DERMAPLAN_ACTOR` names who the command line acts as until
logins exist.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DATABASE_FILE = "dermaplan.db"
ANCHOR_FILE = "audit-head.json"


@dataclass(frozen=True, slots=True)
class RecordsSettings:
    database_url: str
    data_dir: Path
    actor: str
    audit_anchor: Path


def records_settings(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> RecordsSettings:
    """Settings from `environ` (default: the process environment), paths made absolute."""
    env = os.environ if environ is None else environ
    base = cwd or Path.cwd()
    data_dir = base / (env.get("DERMAPLAN_DATA_DIR") or "data")
    url = env.get("DERMAPLAN_DATABASE_URL") or f"sqlite:///{data_dir / DATABASE_FILE}"
    actor = env.get("DERMAPLAN_ACTOR") or f"os:{_login()}"
    anchor = base / (env.get("DERMAPLAN_AUDIT_ANCHOR") or data_dir / ANCHOR_FILE)
    return RecordsSettings(database_url=url, data_dir=data_dir, actor=actor, audit_anchor=anchor)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. an arbitrary container uid
        return f"uid{os.getuid()}"
