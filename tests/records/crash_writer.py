"""A writer for the crash test: adds patients one transaction at a time and prints each id
only after its commit returned, so every printed id is an acknowledged write."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from dermaplan.records import service
from dermaplan.records.context import Context, utc_now
from dermaplan.records.db import create_records_engine, prepare, transaction
from dermaplan.records.keyring import KeyringFile, key_engine
from dermaplan.records.schemas import PatientData


def main(url: str, clinic_id: str, keyring: str) -> None:
    engine = create_records_engine(url)
    key_engine(engine, KeyringFile(Path(keyring)))
    prepare(engine)  # as the commands open it
    clinic = uuid.UUID(clinic_id)
    number = 0
    while True:
        number += 1
        data = PatientData.parse({"family_name": f"Crash{number:06d}", "given_names": "Test"})
        with transaction(engine) as session:
            patient = service.create_patient(
                session, Context(actor="staff:crash-test", now=utc_now()), clinic, data
            )
            patient_id = patient.id
        sys.stdout.write(f"{patient_id}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
