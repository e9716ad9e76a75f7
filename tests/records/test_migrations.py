"""The migrations build the schema the models describe, on both backends, and back."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Column,
    Engine,
    Insert,
    MetaData,
    Table,
    Uuid,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from dermaplan.records import service
from dermaplan.records.anchor import LocalAnchorFile, anchor_engine, database_id
from dermaplan.records.audit import GENESIS, digest, event_hash
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
from dermaplan.records.keyring import Keyring
from dermaplan.records.lanes import LEGACY, Chain
from dermaplan.records.models import AuditEvent, Base, Patient
from dermaplan.records.photos import PhotoStorage
from dermaplan.records.service import patient_state
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


NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
STAMPS = {"created_at": NOW, "updated_at": NOW}


def _reflected(engine: Engine, name: str, *ids: str) -> Table:
    """A table as the database holds it now, its ids read as UUIDs on either backend."""
    columns = (Column(c, Uuid(), primary_key=c == "id") for c in ids)
    return Table(name, MetaData(), *columns, autoload_with=engine)


def _clinic_at(
    engine: Engine, revision: str, members: dict[str, str]
) -> tuple[Table, Table, dict[str, uuid.UUID]]:
    """A database at `revision` holding a clinic, its `members` (name → role) and a patient,
    written as that revision's tables take them: its staff and consult tables, and the ids
    (by member name, "clinic" and "patient")."""
    upgrade(engine, revision)
    clinic = _reflected(engine, "clinic", "id")
    staff = _reflected(engine, "staff", "id", "clinic_id")
    patient = _reflected(engine, "patient", "id", "clinic_id")
    consult = _reflected(engine, "consult", "id", "patient_id", "approved_by_id", "supersedes_id")
    ids = {name: uuid.uuid4() for name in ("clinic", "patient", *members)}
    with engine.begin() as connection:
        connection.execute(insert(clinic).values(id=ids["clinic"], name="C", **STAMPS))
        for who, role in members.items():
            connection.execute(
                insert(staff).values(
                    id=ids[who], clinic_id=ids["clinic"], name=who, role=role, active=True, **STAMPS
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
                **STAMPS,
            )
        )
    return staff, consult, ids


def _consult(ids: dict[str, uuid.UUID], **values: Any) -> dict[str, Any]:
    """A consult of the clinic's patient, as a row to insert, with `values`."""
    return {
        "patient_id": ids["patient"],
        "consult_date": NOW.date(),
        "assessment_json": "{}",
        "plan_json": "{}",
        "knowledge_version": "k",
        "created_by": "os:test",
        **STAMPS,
        **values,
    }


def test_roles_move_to_their_new_names_with_every_reference_kept(empty_engine: Engine) -> None:
    """0009 copies the staff table on SQLite: the members, their references from approved
    consults, and the frozen consults' guards all come through."""
    staff, consult, ids = _clinic_at(
        empty_engine, "0008", {"doctor": "practitioner", "desk": "staff"}
    )
    with empty_engine.begin() as connection:
        connection.execute(
            insert(consult).values(
                _consult(
                    ids,
                    id=uuid.uuid4(),
                    status="approved",
                    approved_by_id=ids["doctor"],
                    approved_at=NOW,
                )
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
                **STAMPS,
            )
        )


def _legacy_chain(
    clinics: list[uuid.UUID], patient: dict[str, Any], staff: uuid.UUID
) -> list[dict[str, Any]]:
    """Events as revision 0011 wrote them: one chain for the whole database, its clinics'
    events interleaved, each hash over the fields of then (no chain; the member of staff
    only where one acted), and the records' states as they were digested then."""
    written: list[dict[str, Any]] = []
    patient_id, state = patient["id"], patient_state(Patient(**patient))
    actions = [
        ("clinic.create", "clinic", clinics[0], None, None, {"name": "C0"}),
        ("clinic.create", "clinic", clinics[1], None, None, {"name": "C1"}),
        ("patient.create", "patient", patient_id, patient_id, None, state),
        ("patient.read", "patient", patient_id, patient_id, staff, {"n": 4}),
        ("patient.search", "patient", None, None, staff, {"n": 5}),
    ]  # fmt: skip
    prev_hash = GENESIS
    for seq, (action, record_type, record_id, patient, staff_id, after) in enumerate(actions, 1):
        event = {
            "seq": seq,
            "occurred_at": dt.datetime(2026, 1, 1, 9, seq, tzinfo=dt.UTC),
            "actor": "os:before",
            "action": action,
            "record_type": record_type,
            "record_id": str(record_id) if record_id else None,
            "patient_id": patient,
            "before_digest": None,
            "after_digest": digest(after),
            "prev_hash": prev_hash,
        }
        event["hash"] = digest(event | ({"staff_id": staff_id} if staff_id else {}))
        written.append(event | {"staff_id": staff_id})
        prev_hash = event["hash"]
    return written


@pytest.fixture
def log_of_0011(empty_engine: Engine, tmp_path: Path) -> tuple[list[dict[str, Any]], Path]:
    """A database at revision 0011 holding a log of then, two clinics and a patient, and the
    anchor file 0011 wrote for it; returns the events and the anchor's path."""
    upgrade(empty_engine, "0011")
    meta = MetaData()
    clinic = Table(
        "clinic", meta, Column("id", Uuid(), primary_key=True), autoload_with=empty_engine
    )
    person = Table(
        "patient",
        meta,
        Column("id", Uuid(), primary_key=True),
        Column("clinic_id", Uuid()),
        autoload_with=empty_engine,
    )
    audit = Table(
        "audit_event",
        meta,
        Column("patient_id", Uuid()),
        Column("staff_id", Uuid()),
        autoload_with=empty_engine,
    )
    clinics = [uuid.uuid4(), uuid.uuid4()]
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    patient = {
        "id": uuid.uuid4(),
        "clinic_id": clinics[0],
        "family_name": "Moreau",
        "given_names": "Claire",
        "search_name": "moreau claire",
        "identifiers": {},
        "history": {},
    }
    legacy = _legacy_chain(clinics, patient, uuid.uuid4())
    with empty_engine.begin() as connection:
        for number, clinic_id in enumerate(clinics):
            connection.execute(
                insert(clinic).values(
                    id=clinic_id, name=f"C{number}", created_at=now, updated_at=now
                )
            )
        connection.execute(insert(person).values(**patient, created_at=now, updated_at=now))
        connection.execute(insert(audit), legacy)
        database = database_id(connection)
    anchor = tmp_path / "audit-head.json"
    anchor.write_text(  # the anchor file as 0011 wrote it
        json.dumps(
            {"database": str(database), "seq": 5, "hash": legacy[-1]["hash"],
             "written_at": now.isoformat()}
        ),
        encoding="utf-8",
    )  # fmt: skip
    return legacy, anchor


def test_0012_and_0013_keep_the_log_of_0011_whole_and_its_anchor_then_lanes_follow(
    empty_engine: Engine,
    log_of_0011: tuple[list[dict[str, Any]], Path],
    keyring: Keyring,
    storage: PhotoStorage,
) -> None:
    """The events of revision 0011 (two clinics' interleaved in one chain) and the anchor
    file of then still verify after 0012 and 0013, which signs the end of their chain; new
    events go on the clinics' lanes, signed; the old chain still shows tampering; and the
    schema cannot go back once the key has signed events."""
    legacy, anchor = log_of_0011
    store = LocalAnchorFile(anchor)
    clinics = [uuid.UUID(legacy[0]["record_id"]), uuid.UUID(legacy[1]["record_id"])]

    def report() -> LogReport:
        with transaction(empty_engine, write=False) as session:
            return verify_log(session, store, keyring=keyring, photos=storage)

    upgrade(empty_engine, "0012")
    with empty_engine.begin() as connection:  # 0012 can go back while no lane holds events
        command.downgrade(alembic_config(connection), "0011")
    sealed = upgrade(empty_engine, keyring=keyring, actor="os:upgrader")
    seal = events(empty_engine)[-1]
    assert sealed == {LEGACY: (6, seal.hash)}
    assert (seal.action, seal.prev_hash, seal.key_id) == (
        "audit.seal",
        legacy[-1]["hash"],
        keyring.keys[-1].id,
    )
    before = report()
    assert before.intact, before
    assert before.chain.heads == sealed
    assert before.ahead == [
        f"{LEGACY}: events 6 to 6 are not in the anchor {store.where}, which records event 5 "
        "(written 2026-01-01T00:00:00+00:00)"
    ]

    anchor_engine(empty_engine, store)
    with transaction(empty_engine) as session:
        service.create_patient(session, context(), clinics[1], patient_data())
    after = report()
    assert after.intact, after
    assert after.chain.heads[LEGACY] == sealed[LEGACY]
    new = events(empty_engine)[-1]
    assert (new.id, new.clinic_id, new.lane, new.seq, new.prev_hash) == (
        7,
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
        pytest.raises(RuntimeError, match="signed with the audit key"),
        empty_engine.begin() as connection,
    ):
        command.downgrade(alembic_config(connection), "0012")


def test_the_unsigned_log_cannot_be_upgraded_without_a_keyring(
    empty_engine: Engine, log_of_0011: tuple[list[dict[str, Any]], Path]
) -> None:
    with pytest.raises(DatabaseError, match="written before revision 0013"):
        upgrade(empty_engine)
    assert schema_state(empty_engine).revision == "0011"  # all of the upgrade, or none


def _unsigned(event: dict[str, Any], prev_hash: str) -> dict[str, Any]:
    """An event in the form of revision 0012 (plain SHA-256), after `prev_hash`."""
    forged = event | {"prev_hash": prev_hash}
    forged["hash"] = event_hash(AuditEvent(**forged))
    return forged


@pytest.mark.parametrize("where", ["after the seal", "a new chain"])
def test_an_unsigned_event_after_the_upgrade_is_refused(
    empty_engine: Engine,
    log_of_0011: tuple[list[dict[str, Any]], Path],
    keyring: Keyring,
    storage: PhotoStorage,
    where: str,
) -> None:
    """The old, keyless form cannot be used to add an event: not after the signed end of
    the old chain, nor as a chain of its own."""
    legacy, _ = log_of_0011
    sealed = upgrade(empty_engine, keyring=keyring, actor="os:upgrader")
    seq, head = sealed[LEGACY]
    clinic = uuid.UUID(legacy[0]["record_id"])
    event = {
        "clinic_id": None if where == "after the seal" else clinic,
        "lane": 0 if where == "after the seal" else 5,
        "seq": seq + 1 if where == "after the seal" else 1,
        "occurred_at": dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
        "actor": "os:intruder",
        "action": "patient.read",
        "record_type": "patient",
        "record_id": None,
        "patient_id": None,
        "staff_id": None,
        "before_digest": None,
        "after_digest": None,
    }
    forged = _unsigned(event, head if where == "after the seal" else GENESIS)
    with empty_engine.begin() as connection:
        connection.execute(insert(AuditEvent), [forged])
    with transaction(empty_engine, write=False) as session:
        broken = verify_log(session, None, keyring=keyring, photos=storage).chain.broken
    assert broken is not None
    if where == "after the seal":
        assert broken.reason == (
            f"event {seq + 1} of {LEGACY} is not signed by the audit key, yet follows signed "
            "events: it was added without the key, in the form of revision 0012 and before"
        )
    else:
        assert broken.reason.startswith(
            f"clinic {clinic} lane 5 ends with event 1, which no audit key signed"
        )


def test_records_of_earlier_revisions_verify_by_the_state_then_digested(
    empty_engine: Engine, keyring: Keyring, storage: PhotoStorage, tmp_path: Path
) -> None:
    """A clinic, a member whose role 0009 renamed (`staff`, now `reception`), a lot and a
    photo from before revision 0007 (no stage), each created by an event of revision 0011
    that digested less of it than events do now: they verify after 0013, and an edit of
    what their events did digest is still found."""
    upgrade(empty_engine, "0011")
    meta = MetaData()

    def table(name: str, *ids: str) -> Table:
        columns = (Column(c, Uuid(), primary_key=c == "id") for c in ids)
        return Table(name, meta, *columns, autoload_with=empty_engine)

    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    stamps = {"created_at": now, "updated_at": now}
    clinic, member, lot, patient, photo = (uuid.uuid4() for _ in range(5))
    content = b"a photo taken before photos had a stage"
    sha256 = hashlib.sha256(content).hexdigest()
    storage.put(f"{sha256[:2]}/{sha256}.png", content)
    rows = [
        ("clinic", ("id",), {"id": clinic, "name": "C", "time_zone": "UTC"}),
        ("staff", ("id", "clinic_id"), {"id": member, "clinic_id": clinic, "name": "Julie",
                                        "role": "reception", "active": True}),
        ("product_lot", ("id", "clinic_id"), {"id": lot, "clinic_id": clinic,
                                              "product": "ha_skin_booster", "lot_number": "H1"}),
        ("patient", ("id", "clinic_id"), {"id": patient, "clinic_id": clinic,
                                          "family_name": "Moreau", "given_names": "",
                                          "search_name": "moreau", "identifiers": {},
                                          "history": {}}),
        ("photo", ("id", "patient_id"), {"id": photo, "patient_id": patient, "area": "cheeks",
                                         "angle": "frontal", "taken_at": now,
                                         "media_type": "image/png", "sha256": sha256,
                                         "size_bytes": len(content),
                                         "storage_key": f"{sha256[:2]}/{sha256}.png",
                                         "created_by": "os:before"}),
    ]  # fmt: skip
    digested = [
        ("clinic.create", "clinic", clinic, {"name": "C"}),
        ("staff.create", "staff", member, {"name": "Julie", "role": "staff", "registration": None}),
        ("lot.create", "product_lot", lot,
         {"product": "ha_skin_booster", "lot_number": "H1", "expiry": None}),
        ("patient.create", "patient", patient, None),
        ("photo.create", "photo", photo,
         {"id": photo, "patient_id": patient, "session_id": None, "area": "cheeks",
          "angle": "frontal", "taken_at": now, "media_type": "image/png", "sha256": sha256,
          "size_bytes": len(content), "storage_key": f"{sha256[:2]}/{sha256}.png"}),
    ]  # fmt: skip
    audit = table("audit_event", "patient_id", "staff_id")
    tables = {name: table(name, *ids) for name, ids, _ in rows}
    prev_hash, written = GENESIS, []
    with empty_engine.begin() as connection:
        for name, _, values in rows:
            connection.execute(insert(tables[name]).values(**values, **stamps))
        person = connection.execute(select(tables["patient"])).one()
        for seq, (action, record_type, record_id, after) in enumerate(digested, 1):
            state = after if after is not None else patient_state(Patient(**person._asdict()))
            event = {"seq": seq, "occurred_at": now, "actor": "os:before", "action": action,
                     "record_type": record_type, "record_id": str(record_id),
                     "patient_id": None, "before_digest": None, "after_digest": digest(state),
                     "prev_hash": prev_hash}  # fmt: skip
            prev_hash = event["hash"] = digest(event)
            written.append(event | {"staff_id": None})
        connection.execute(insert(audit), written)
    upgrade(empty_engine, keyring=keyring)

    def changed() -> list[str]:
        with transaction(empty_engine, write=False) as session:
            report = verify_log(session, None, keyring=keyring, photos=storage)
        assert report.chain.broken is None, report.chain.broken
        return report.changed

    assert changed() == []
    with tampering(empty_engine) as connection:
        connection.exec_driver_sql(f"UPDATE staff SET role = 'admin' WHERE id = '{member.hex}'")
    assert [line.split(":")[0] for line in changed()] == [f"member of staff {member}"]


def test_consults_come_through_0018_with_their_guards_and_may_be_discarded(
    empty_engine: Engine,
) -> None:
    """0018 copies the consult table on SQLite: the consults come through, an approved one
    stays frozen but for being superseded, and a discarded draft is frozen as well; one live
    correction of a consult at most, however many are discarded."""
    _, old, ids = _clinic_at(empty_engine, "0017", {"doctor": "practitioner"})
    ids |= {"approved": uuid.uuid4(), "draft": uuid.uuid4()}
    with empty_engine.begin() as connection:
        connection.execute(
            insert(old).values(
                _consult(
                    ids,
                    id=ids["approved"],
                    status="approved",
                    approved_by_id=ids["doctor"],
                    approved_at=NOW,
                )
            )
        )
        connection.execute(
            insert(old).values(
                _consult(
                    ids,
                    id=ids["draft"],
                    status="draft",
                    supersedes_id=ids["approved"],
                    correction_reason="typo",
                )
            )
        )
    upgrade(empty_engine)
    consult = _reflected(
        empty_engine,
        "consult",
        "id",
        "patient_id",
        "approved_by_id",
        "supersedes_id",
        "discarded_by_id",
    )
    with empty_engine.connect() as connection:
        kept = dict(connection.execute(select(consult.c.id, consult.c.status)).all())
    assert kept == {ids["approved"]: "approved", ids["draft"]: "draft"}

    def another_correction() -> Insert:
        return insert(consult).values(
            _consult(
                ids,
                id=uuid.uuid4(),
                status="draft",
                supersedes_id=ids["approved"],
                correction_reason="again",
            )
        )

    def changed(consult_id: uuid.UUID, **values: Any) -> None:
        with empty_engine.begin() as connection:
            connection.execute(consult.update().where(consult.c.id == consult_id).values(**values))

    with pytest.raises(IntegrityError):
        changed(ids["approved"], plan_json='{"edited": true}')
    # a second live correction of the same consult
    with pytest.raises(IntegrityError), empty_engine.begin() as connection:
        connection.execute(another_correction())
    with pytest.raises(IntegrityError):  # discarded, but not said by whom and why
        changed(ids["draft"], status="discarded")
    discard = {"discarded_by_id": ids["doctor"], "discarded_at": NOW, "discard_reason": "no"}
    changed(ids["draft"], status="discarded", **discard)
    for values in ({"status": "draft"}, {"discard_reason": "other"}, {"plan_json": "[]"}):
        with pytest.raises(IntegrityError):
            changed(ids["draft"], **values)
    with pytest.raises(IntegrityError), empty_engine.begin() as connection:
        connection.execute(consult.delete().where(consult.c.id == ids["draft"]))
    with empty_engine.begin() as connection:  # the discarded one no longer holds it
        connection.execute(another_correction())
    changed(ids["approved"], status="superseded")  # superseded, nothing else changed
