"""The chart page reads a patient's record in a fixed number of statements, however long the
record: each kind of entry in one query (joined with what it shows), no query per entry and
no lazy load (bench/web.py times the page under load; docs/benchmarks.md)."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import event

from dermaplan.knowledge import KnowledgeBase
from dermaplan.records import sessions
from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from tests.records.factories import (
    NOW,
    add_consent,
    add_consult,
    add_patient,
    add_photos,
    context,
    session_data,
)
from tests.web.conftest import World, client_of, sign_in

SESSIONS = 4


def statements(world: World, client: TestClient, patient: uuid.UUID) -> list[str]:
    """The statements the chart page of `patient` sends to the database."""
    sent: list[str] = []

    def count(*arguments: object) -> None:
        sent.append(str(arguments[2]))

    engine = world.application.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        answer = client.get(f"/patients/{patient}/chart")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert answer.status_code == 200, answer.text
    return sent


def long_record(world: World, kb: KnowledgeBase) -> uuid.UUID:
    """A patient with consults, a consent and sessions, each with products and photos."""
    clinic, practitioner = world.ours.id, world.ours.staff[StaffRole.PRACTITIONER]
    patient = add_patient(world.engine, clinic, family_name="Aubert", given_names="Lise")
    add_consult(world.engine, clinic, patient)
    add_consult(world.engine, clinic, patient)
    add_consent(world.engine, clinic, patient, signed_at=NOW - dt.timedelta(days=60))
    for weeks in range(SESSIONS):
        performed = NOW - dt.timedelta(weeks=weeks)
        with transaction(world.engine) as session:
            data = session_data(kb, patient, practitioner, performed_at=performed.isoformat())
            record = sessions.record_session(session, context(), clinic, data, kb)
        add_photos(
            world.engine,
            clinic,
            world.application.photos,
            patient,
            "cheeks",
            "forehead",
            session_id=record.id,
            taken_at=performed - dt.timedelta(minutes=10),
        )
    return patient


def test_the_chart_reads_a_long_record_in_as_many_statements_as_an_empty_one(
    world: World, kb: KnowledgeBase
) -> None:
    patient = long_record(world, kb)
    with client_of(world) as client:
        sign_in(client, world, StaffRole.PRACTITIONER)
        client.get(f"/patients/{world.ours.patient}/chart")  # the session's use noted
        empty = statements(world, client, world.ours.patient)
        long = statements(world, client, patient)
        page = client.get(f"/patients/{patient}/chart").text
    assert page.count("lot HB2391") == SESSIONS  # each session on the page, with its lot
    assert len(long) == len(empty), "\n".join(long)
