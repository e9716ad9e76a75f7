"""The migrations build the schema the models describe, on both backends, and back."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, Table, Uuid, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from dermaplan.records.db import (
    HEAD_REVISION,
    SchemaState,
    alembic_config,
    create_records_engine,
    prepare,
    schema_state,
    sqlite_file,
    upgrade,
)
from dermaplan.records.errors import DatabaseError
from dermaplan.records.models import Base


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
