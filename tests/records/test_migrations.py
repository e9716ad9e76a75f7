"""The migrations build the schema the models describe, on both backends, and back."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, Table, Uuid, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from dermaplan.records import service
from dermaplan.records.anchor import LocalAnchorFile, anchor_engine, database_id
from dermaplan.records.audit import GENESIS, digest
from dermaplan.records.db import (
    HEAD_REVISION,
    SchemaState,
    alembic_config,
    create_records_engine,
    prepare,
    schema_state,
    sqlite_file,
    transaction,
    upgrade,
)
from dermaplan.records.errors import DatabaseError
from dermaplan.records.integrity import LogReport, verify_log
from dermaplan.records.lanes import LEGACY, Chain
from dermaplan.records.models import Base
from tests.records.database import tampering
from tests.records.factories import context, events, patient_data


def test_the_head_revision_is_the_last_migration() -> None:
    """Commands compare the database with HEAD_REVISION without loading Alembic: it must be
    Alembic's one head."""
    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [HEAD_REVISION]


def test_upgrade_head_matches_the_models(engine: Engine) -> None:
    assert schema_state(engine).revision == HEAD_REVISION
    with engine.begin() as connection:
        command.check(alembic_config(connection))  # raises when autogenerate finds a difference
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_downgrade_to_base_and_up_again(engine: Engine) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert schema_state(engine) == SchemaState(revision=None, tables=0)
    upgrade(engine)
    assert schema_state(engine).revision == HEAD_REVISION


def test_an_empty_database_is_refused_never_created_by_the_way(empty_engine: Engine) -> None:
    with pytest.raises(DatabaseError, match=r"^no Dermaplan database at .*: run 'dermaplan init'"):
        prepare(empty_engine)
    if empty_engine.url.get_backend_name() == "sqlite":
        assert not sqlite_file(empty_engine).exists()
    assert schema_state(empty_engine).tables == 0
    upgrade(empty_engine)
    prepare(empty_engine)
    assert schema_state(empty_engine).revision == HEAD_REVISION


def test_a_foreign_database_is_refused(empty_engine: Engine) -> None:
    with empty_engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    with pytest.raises(DatabaseError, match="not a Dermaplan database"):
        prepare(empty_engine)


def test_an_outdated_schema_asks_for_an_upgrade(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(DatabaseError, match=r"revision 0000.*dermaplan db upgrade"):
        prepare(engine)


def test_sqlite_connections_are_durable_and_enforce_keys(tmp_path: object) -> None:
    engine = create_records_engine(f"sqlite:///{tmp_path}/settings.db")
    try:
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA synchronous").scalar() == 2  # FULL
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 10_000
    finally:
        engine.dispose()


def test_sqlite_savepoints_roll_back_inside_the_transaction(tmp_path: object) -> None:
    """The pysqlite BEGIN recipe: a released savepoint still belongs to its transaction."""
    engine = create_records_engine(f"sqlite:///{tmp_path}/savepoint.db")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        with engine.connect() as connection:
            outer = connection.begin()
            with connection.begin_nested():
                connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            nested = connection.begin_nested()
            connection.exec_driver_sql("INSERT INTO t VALUES (2)")
            nested.rollback()
            assert connection.exec_driver_sql("SELECT n FROM t").scalars().all() == [1]
            outer.rollback()
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_search_name_compares_bytes_on_postgresql(engine: Engine) -> None:
    """Prefix ranges need code-point order, whatever the database's locale."""
    with engine.connect() as connection:
        collation = connection.execute(
            text(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'patient' "
                "AND column_name = 'search_name'"
            )
        ).scalar()
    assert collation == "C"


def test_roles_move_to_their_new_names_with_every_reference_kept(empty_engine: Engine) -> None:
    """0009 copies the staff table on SQLite: the members, their references from approved
    consults, and the frozen consults' guards all come through."""
    upgrade(empty_engine, "0008")
    meta = MetaData()

    def reflected(name: str, *ids: str) -> Table:
        """The table as 0008 left it, its ids read as UUIDs on either backend."""
        columns = (Column(c, Uuid(), primary_key=c == "id") for c in ids)
        return Table(name, meta, *columns, autoload_with=empty_engine)

    clinic = reflected("clinic", "id")
    staff = reflected("staff", "id", "clinic_id")
    patient = reflected("patient", "id", "clinic_id")
    consult = reflected("consult", "id", "patient_id", "approved_by_id")
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    stamps = {"created_at": now, "updated_at": now}
    ids = {name: uuid.uuid4() for name in ("clinic", "doctor", "desk", "patient", "consult")}
    with empty_engine.begin() as connection:
        connection.execute(insert(clinic).values(id=ids["clinic"], name="C", **stamps))
        for who, role in (("doctor", "practitioner"), ("desk", "staff")):
            connection.execute(
                insert(staff).values(
                    id=ids[who], clinic_id=ids["clinic"], name=who, role=role, active=True, **stamps
                )
            )
        connection.execute(
            insert(patient).values(
                id=ids["patient"],
                clinic_id=ids["clinic"],
                family_name="A",
                given_names="B",
                search_name="a b",
                identifiers={},
                history={},
                **stamps,
            )
        )
        connection.execute(
            insert(consult).values(
                id=ids["consult"],
                patient_id=ids["patient"],
                status="approved",
                consult_date=now.date(),
                assessment_json="{}",
                plan_json="{}",
                knowledge_version="k",
                created_by="os:test",
                approved_by_id=ids["doctor"],
                approved_at=now,
                **stamps,
            )
        )
    upgrade(empty_engine)
    with empty_engine.connect() as connection:
        roles = dict(connection.execute(select(staff.c.name, staff.c.role)).all())
        approver = connection.execute(select(consult.c.approved_by_id)).scalar_one()
    assert roles == {"doctor": "practitioner", "desk": "reception"}
    assert approver == ids["doctor"]
    with pytest.raises(IntegrityError), empty_engine.begin() as connection:
        connection.execute(
            insert(staff).values(
                id=uuid.uuid4(),
                clinic_id=ids["clinic"],
                name="x",
                role="staff",
                active=True,
                **stamps,
            )
        )


def _legacy_chain(
    clinics: list[uuid.UUID], patient: uuid.UUID, staff: uuid.UUID
) -> list[dict[str, Any]]:
    """Events as revision 0011 wrote them: one chain for the whole database, its clinics'
    events interleaved, each hash over the fields of then (no chain; the member of staff
    only where one acted)."""
    written: list[dict[str, Any]] = []
    actions = [
        ("clinic.create", "clinic", clinics[0], None, None),
        ("clinic.create", "clinic", clinics[1], None, None),
        ("patient.create", "patient", patient, patient, None),
        ("patient.read", "patient", patient, patient, staff),
        ("patient.search", "patient", None, None, staff),
    ]
    prev_hash = GENESIS
    for seq, (action, record_type, record_id, patient_id, staff_id) in enumerate(actions, 1):
        event = {
            "seq": seq,
            "occurred_at": dt.datetime(2026, 1, 1, 9, seq, tzinfo=dt.UTC),
            "actor": "os:before",
            "action": action,
            "record_type": record_type,
            "record_id": str(record_id) if record_id else None,
            "patient_id": patient_id,
            "before_digest": None,
            "after_digest": digest({"n": seq}),
            "prev_hash": prev_hash,
        }
        event["hash"] = digest(event | ({"staff_id": staff_id} if staff_id else {}))
        written.append(event | {"staff_id": staff_id})
        prev_hash = event["hash"]
    return written


def test_0012_keeps_the_log_of_0011_whole_and_its_anchor_then_lanes_follow(
    empty_engine: Engine, tmp_path: Path
) -> None:
    """The events of revision 0011 (two clinics' interleaved in one chain) and the anchor
    file of then still verify after 0012; new events go on the clinics' lanes; the old
    chain still shows tampering; and 0012 cannot be undone once lanes hold events."""
    upgrade(empty_engine, "0011")
    meta = MetaData()
    clinic = Table(
        "clinic", meta, Column("id", Uuid(), primary_key=True), autoload_with=empty_engine
    )
    audit = Table(
        "audit_event",
        meta,
        Column("patient_id", Uuid()),
        Column("staff_id", Uuid()),
        autoload_with=empty_engine,
    )
    clinics, patient, staff = [uuid.uuid4(), uuid.uuid4()], uuid.uuid4(), uuid.uuid4()
    legacy = _legacy_chain(clinics, patient, staff)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with empty_engine.begin() as connection:
        for number, clinic_id in enumerate(clinics):
            connection.execute(
                insert(clinic).values(
                    id=clinic_id, name=f"C{number}", created_at=now, updated_at=now
                )
            )
        connection.execute(insert(audit), legacy)
        database = database_id(connection)
    store = LocalAnchorFile(tmp_path / "audit-head.json")
    store.path.write_text(  # the anchor file as 0011 wrote it
        json.dumps(
            {"database": str(database), "seq": 5, "hash": legacy[-1]["hash"],
             "written_at": now.isoformat()}
        ),
        encoding="utf-8",
    )  # fmt: skip

    def report() -> LogReport:
        with transaction(empty_engine, write=False) as session:
            return verify_log(session, store)

    upgrade(empty_engine)
    before = report()
    assert before.intact, before
    assert before.chain.heads == {LEGACY: (5, legacy[-1]["hash"])}
    with empty_engine.begin() as connection:  # 0012 can go back while no lane holds events
        command.downgrade(alembic_config(connection), "0011")
    upgrade(empty_engine)
    assert report().chain.heads == before.chain.heads

    anchor_engine(empty_engine, store)
    with transaction(empty_engine) as session:
        service.create_patient(session, context(), clinics[1], patient_data())
    after = report()
    assert after.intact, after
    assert after.chain.heads[LEGACY] == (5, legacy[-1]["hash"])
    new = events(empty_engine)[-1]
    assert (new.id, new.clinic_id, new.lane, new.seq, new.prev_hash) == (
        6,
        clinics[1],
        0,
        1,
        GENESIS,
    )
    written = store.read()
    assert written is not None
    assert set(written.heads) == {LEGACY, Chain(clinics[1], 0)}

    with tampering(empty_engine) as connection:
        connection.exec_driver_sql("UPDATE audit_event SET actor = 'x' WHERE id = 3")
    broken = report().chain.broken
    assert broken is not None
    assert (broken.chain, broken.seq) == (LEGACY, 3)
    with (
        pytest.raises(RuntimeError, match="cannot go back to one chain"),
        empty_engine.begin() as connection,
    ):
        command.downgrade(alembic_config(connection), "0011")
