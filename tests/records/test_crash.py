"""A writer killed with SIGKILL mid-load loses no acknowledged write, and the database
(and its audit chain) is whole afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, select, text

from dermaplan.records.audit import verify_chain
from dermaplan.records.db import transaction
from dermaplan.records.models import Patient
from tests.records.database import keys_of

WRITER = Path(__file__).with_name("crash_writer.py")
ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_mid_write_loses_no_acknowledged_write(
    engine: Engine, database_url: str, clinic_id: uuid.UUID, keyring_path: Path
) -> None:
    acknowledged: list[str] = []
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), database_url, str(clinic_id), str(keyring_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert writer.stdout is not None
    deadline = time.monotonic() + 60
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        line = writer.stdout.readline()
        if not line:
            break
        acknowledged.append(line.strip())
    writer.send_signal(signal.SIGKILL)  # in the middle of the next write
    rest, _ = writer.communicate(timeout=30)
    acknowledged += [line for line in rest.split() if line]
    assert writer.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 40, "the writer did not get going"

    with transaction(engine, write=False) as session:
        stored = {str(i) for i in session.scalars(select(Patient.id))}
        assert set(acknowledged) <= stored
        assert len(stored) - len(acknowledged) <= 1  # at most the write in flight, whole
        assert verify_chain(session, keys_of(engine)) is None
        if session.bind is not None and session.bind.dialect.name == "sqlite":
            assert session.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
