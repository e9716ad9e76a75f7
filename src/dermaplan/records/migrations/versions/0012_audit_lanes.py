"""Audit lanes: the audit log becomes one hash chain per clinic and lane, so that clinics
never wait for each other and reads of one clinic commit side by side (records.lanes).
Each event names its chain (`clinic_id`, `lane`) and its place there (`seq`); `id` keeps the
order events were written in, across chains. The events already written stay as they
were, hashes and all, in the one chain the whole database had (no clinic, lane 0), and
`id` takes their sequence number. On PostgreSQL, `audit_lane_lock` takes a free lane and
reads its head in one round trip.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

APPEND_ONLY = "audit events are append-only"
EVENT_COLUMNS = (
    "occurred_at, actor, action, record_type, record_id, patient_id, staff_id, "
    "before_digest, after_digest, prev_hash, hash"
)
# Lock the first of `keys` (the advisory locks of a clinic's `lanes`) that is free, or else
# wait for one of them at random; then read that lane's head. The head is read by a second
# statement, after the lock is held: a volatile function's statements each take a new
# snapshot, so it sees every commit made before the lock was granted.
LANE_LOCK = """CREATE FUNCTION audit_lane_lock(keys bigint[], clinic uuid, lanes integer[])
RETURNS TABLE (held_lane integer, head_seq bigint, head_hash varchar)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    chosen integer;
BEGIN
    FOR i IN 1 .. cardinality(keys) LOOP
        IF pg_try_advisory_xact_lock(keys[i]) THEN
            chosen := i;
            EXIT;
        END IF;
    END LOOP;
    IF chosen IS NULL THEN
        chosen := 1 + floor(random() * cardinality(keys))::integer;
        PERFORM pg_advisory_xact_lock(keys[chosen]);
    END IF;
    held_lane := lanes[chosen];
    SELECT e.seq, e.hash INTO head_seq, head_hash FROM audit_event AS e
    WHERE e.clinic_id = clinic AND e.lane = held_lane
    ORDER BY e.seq DESC LIMIT 1;
    RETURN NEXT;
END $$"""


def _sqlite_table(lanes: bool) -> None:
    """SQLite changes a primary key by copying the table; the append-only triggers and
    the indexes go with the old one and are made again."""
    chain = (
        "id INTEGER NOT NULL, clinic_id CHAR(32), lane SMALLINT NOT NULL, seq BIGINT NOT NULL,"
        if lanes
        else "seq BIGINT NOT NULL,"
    )
    keys = (
        "CONSTRAINT pk_audit_event PRIMARY KEY (id), "
        "CONSTRAINT uq_audit_event_clinic_id_lane_seq UNIQUE (clinic_id, lane, seq)"
        if lanes
        else "CONSTRAINT pk_audit_event PRIMARY KEY (seq)"
    )
    op.execute(
        f"""CREATE TABLE audit_event_new ({chain}
            occurred_at DATETIME NOT NULL,
            actor VARCHAR(200) NOT NULL,
            action VARCHAR(50) NOT NULL,
            record_type VARCHAR(50) NOT NULL,
            record_id VARCHAR(36),
            patient_id CHAR(32),
            staff_id CHAR(32),
            before_digest VARCHAR(64),
            after_digest VARCHAR(64),
            prev_hash VARCHAR(64) NOT NULL,
            hash VARCHAR(64) NOT NULL,
            {keys}
        )"""
    )
    into, selected = ("id, clinic_id, lane, seq", "seq, NULL, 0, seq") if lanes else ("seq",) * 2
    op.execute(
        f"INSERT INTO audit_event_new ({into}, {EVENT_COLUMNS}) "  # noqa: S608 (constants)
        f"SELECT {selected}, {EVENT_COLUMNS} FROM audit_event ORDER BY seq"
    )
    op.execute("DROP TABLE audit_event")
    op.execute("ALTER TABLE audit_event_new RENAME TO audit_event")
    for column in ("occurred_at", "patient_id", "record_id", "staff_id"):
        op.execute(f"CREATE INDEX ix_audit_event_{column} ON audit_event ({column})")
    for operation in ("update", "delete"):
        op.execute(
            f"""CREATE TRIGGER audit_event_no_{operation} BEFORE {operation.upper()} ON
            audit_event BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"""
        )


def _postgresql_upgrade() -> None:
    statements = [
        "ALTER TABLE audit_event DROP CONSTRAINT pk_audit_event",
        "ALTER TABLE audit_event ADD COLUMN id BIGINT",
        # the one UPDATE the log ever takes: numbering the events already written
        "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
        "UPDATE audit_event SET id = seq",
        "ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only",
        "CREATE SEQUENCE audit_event_id_seq OWNED BY audit_event.id",
        "SELECT setval('audit_event_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM audit_event), "
        "false)",
        "ALTER TABLE audit_event ALTER COLUMN id SET DEFAULT nextval('audit_event_id_seq'), "
        "ALTER COLUMN id SET NOT NULL",
        "ALTER TABLE audit_event ADD CONSTRAINT pk_audit_event PRIMARY KEY (id)",
        "ALTER TABLE audit_event ADD COLUMN clinic_id UUID",
        "ALTER TABLE audit_event ADD COLUMN lane SMALLINT NOT NULL DEFAULT 0",
        "ALTER TABLE audit_event ALTER COLUMN lane DROP DEFAULT",
        "ALTER TABLE audit_event ADD CONSTRAINT uq_audit_event_clinic_id_lane_seq "
        "UNIQUE (clinic_id, lane, seq)",
        LANE_LOCK,
    ]
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_table(lanes=True)


def downgrade() -> None:
    """Only a log that is still the one chain of revision 0011 can go back to it: events
    on lanes would need rehashing, which would forge the log."""
    laned = op.get_bind().exec_driver_sql(
        "SELECT count(*) FROM audit_event WHERE clinic_id IS NOT NULL"
    )
    if laned.scalar_one():
        raise RuntimeError(
            "the audit log has events on clinics' lanes: it cannot go back to one chain "
            "without being rewritten; restore a backup made before revision 0012 instead"
        )
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_table(lanes=False)
        return
    statements = [
        "DROP FUNCTION audit_lane_lock(bigint[], uuid, integer[])",
        "ALTER TABLE audit_event DROP CONSTRAINT uq_audit_event_clinic_id_lane_seq",
        "ALTER TABLE audit_event DROP CONSTRAINT pk_audit_event",
        "ALTER TABLE audit_event DROP COLUMN clinic_id, DROP COLUMN lane, DROP COLUMN id",
        "ALTER TABLE audit_event ADD CONSTRAINT pk_audit_event PRIMARY KEY (seq)",
    ]
    for statement in statements:
        op.execute(statement)
