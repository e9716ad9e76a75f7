"""The audit keyring: owner-only, never made over one that exists, refused when damaged or
shared; rotation adds a key that signs from then on, the retired ones still verify, and a
chain never goes back to a retired key."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from dermaplan.app import records_admin
from dermaplan.app.unit import Application
from dermaplan.records import service
from dermaplan.records.audit import check_chain, event_hash
from dermaplan.records.db import create_records_engine, transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.errors import DatabaseError
from dermaplan.records.keyring import KeyringFile, key_id
from dermaplan.records.lanes import Chain
from dermaplan.records.models import AuditEvent
from dermaplan.records.settings import Settings
from tests.records.database import keys_of
from tests.records.factories import NOW, add_patient, context, counts, events, make_clinic


def test_a_keyring_is_made_once_owner_only_and_read_back(tmp_path: Path) -> None:
    keyring = KeyringFile(tmp_path / "keys" / "audit-keyring.json")
    made = keyring.create(NOW)
    assert keyring.require() == made
    (key,) = made.keys
    assert (key.id, len(key.secret)) == (key_id(key.secret), 32)
    if sys.platform != "win32":
        assert keyring.path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(DatabaseError, match="exists already"):
        keyring.create(NOW)
    assert keyring.require() == made


@pytest.mark.skipif(sys.platform == "win32", reason="no POSIX modes on Windows")
def test_a_keyring_others_may_read_is_refused(tmp_path: Path) -> None:
    keyring = KeyringFile(tmp_path / "audit-keyring.json")
    keyring.create(NOW)
    os.chmod(keyring.path, 0o644)  # the mistake under test
    with pytest.raises(DatabaseError) as refused:
        keyring.signing_key()
    assert str(refused.value) == (
        f"the audit keyring {keyring.path} cannot be used: others may read or write it "
        f"(mode 0644); make it its owner's only (chmod 600 {keyring.path})"
    )


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("not json", "not a keyring"),
        ('{"format": "other"}', "not a keyring"),
        ('{"format": "dermaplan.audit_keyring/1", "keys": [{"id": "x"}]}', "not a keyring"),
        ("swap", "is not the key of that id"),
    ],
)
def test_a_damaged_keyring_is_refused_in_one_line(tmp_path: Path, body: str, why: str) -> None:
    keyring = KeyringFile(tmp_path / "audit-keyring.json")
    keyring.create(NOW)
    if body == "swap":  # a key put under another's id
        document = json.loads(keyring.path.read_text(encoding="utf-8"))
        document["keys"][0]["id"] = "0" * 16
        body = json.dumps(document)
    keyring.path.write_text(body, encoding="utf-8")
    with pytest.raises(DatabaseError, match=why) as refused:
        keyring.read()
    assert str(refused.value).startswith(f"the audit keyring {keyring.path} cannot be used: ")


def test_without_a_keyring_nothing_is_written(database_url: str, engine: Engine) -> None:
    bare = create_records_engine(database_url)
    try:
        with pytest.raises(DatabaseError, match="no audit keyring is set"):
            make_clinic(bare)
    finally:
        bare.dispose()
    assert events(engine) == []
    assert counts(engine) == (0, 0, 0)


def test_a_rotation_signs_from_then_on_and_the_retired_key_still_verifies(
    engine: Engine, clinic_id: uuid.UUID, database_url: str, keyring_path: Path
) -> None:
    add_patient(engine, clinic_id)
    with transaction(engine) as session:
        admin = service.add_staff(session, context(), clinic_id, "Nadia", StaffRole.ADMIN).id
    first = keys_of(engine).keys[-1]
    settings = Settings(home=keyring_path.parent, database_url=database_url, actor="os:admin")
    application = Application(settings)
    try:
        with application.unit(str(admin)) as uow:
            rotated = records_admin.rotate_key(uow)
    finally:
        application.close()
    assert (rotated.retired, rotated.keys, rotated.keyring) == (first.id, 2, keyring_path)
    add_patient(engine, clinic_id)  # this engine follows the keyring file another rotated
    signed = [(event.action, event.key_id) for event in events(engine)]
    assert signed[-3:] == [
        ("staff.create", first.id),
        ("audit.key_rotate", rotated.key),
        ("patient.create", rotated.key),
    ]
    with transaction(engine, write=False) as session:
        assert check_chain(session, keys_of(engine)).broken is None


def test_a_chain_never_goes_back_to_a_retired_key(
    engine: Engine, clinic_id: uuid.UUID, keyring_path: Path
) -> None:
    """Whoever still holds a retired key cannot add to a chain the new key has signed."""
    retired = keys_of(engine).keys[-1]
    KeyringFile(keyring_path).rotate(NOW)
    add_patient(engine, clinic_id)
    head = events(engine)[-1]
    forged = AuditEvent(
        clinic_id=clinic_id,
        lane=0,
        seq=head.seq + 1,
        occurred_at=NOW,
        actor="os:former-admin",
        action="patient.read",
        record_type="patient",
        prev_hash=head.hash,
        key_id=retired.id,
    )
    forged.hash = event_hash(forged, retired)
    columns = (c.key for c in AuditEvent.__table__.columns if c.key != "id")
    with engine.begin() as connection:
        connection.execute(insert(AuditEvent).values({c: getattr(forged, c) for c in columns}))
    with transaction(engine, write=False) as session:
        broken = check_chain(session, keys_of(engine)).broken
    assert broken is not None
    assert (broken.chain, broken.seq) == (Chain(clinic_id, 0), head.seq + 1)
    assert broken.reason == (
        f"event {head.seq + 1} of clinic {clinic_id} lane 0 is signed by the audit key "
        f"{retired.id}, retired before the key of an earlier event of its chain"
    )
