"""The outcome pages and API: scores over time as a chart with its table, a score recorded;
adverse events recorded, followed up and closed; a lot's recall with the patients to call.
A practitioner's work (a recall an admin's too): reception is refused every page, form and
endpoint. Bad input is refused at its field with nothing stored, a forged CSRF token changes
nothing, clinic A never reaches clinic B, each reading is audited with the member, and a
script typed into a text field is shown as text."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from dermaplan.records.adverse import record_adverse_event
from dermaplan.records.db import transaction
from dermaplan.records.enums import AdverseEventStatus, StaffRole
from dermaplan.records.models import AdverseEvent, AuditEvent, Outcome
from dermaplan.records.schemas import AdverseEventData
from tests.records.factories import context
from tests.web.conftest import World, api_token, client_of, sign_in

A, P, R = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION
SCRIPT = "<script>alert(1)</script>"
SHOWN = "&lt;script&gt;alert(1)&lt;/script&gt;"
LOT = "LOT-24A"
PATIENT, EVENT = "{patient_id}", "{event_id}"


def event_fields(patient: uuid.UUID | str = PATIENT, **fields: Any) -> dict[str, Any]:
    """An adverse event as the API takes it (and, less the patient, as the forms send it)."""
    return {
        "patient": str(patient),
        "type": "bruising",
        "severity": "mild",
        "onset": "2026-11-01",
        "causality": "possible",
        "outcome": "recovering",
        "description": "A bruise on the left cheek",
    } | fields


# every outcome endpoint: method, path, body, the roles it lets through
OUTCOME_ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, set[StaffRole]]] = [
    ("GET", f"/api/v1/patients/{PATIENT}/outcomes", None, {P}),
    (
        "POST",
        "/api/v1/outcomes",
        {"patient": PATIENT, "scale": "gais", "score": 2, "date": "2026-11-01"},
        {P},
    ),
    ("POST", "/api/v1/adverse-events", event_fields(), {P}),
    (
        "POST",
        f"/api/v1/adverse-events/{EVENT}/follow-up",
        {"event": event_fields(outcome="recovered"), "reason": "seen again"},
        {P},
    ),
    ("POST", f"/api/v1/adverse-events/{EVENT}/close", None, {P}),
    ("GET", f"/api/v1/recall?lot={LOT}", None, {A, P}),
]


def filled(body: Any, **ids: object) -> Any:
    """`body` with its {patient_id}-style placeholders filled in."""
    if isinstance(body, dict):
        return {key: filled(value, **ids) for key, value in body.items()}
    return body.format(**ids) if isinstance(body, str) else body


def an_event(world: World, patient: uuid.UUID | None = None, clinic: Any = None) -> uuid.UUID:
    """An open adverse event of the clinic's patient, with lot LOT involved."""
    where = clinic or world.ours
    data = AdverseEventData.parse(
        event_fields(
            patient or where.patient,
            reporter=str(where.staff[P]),
            lots=[{"product": "hyaluronic acid", "lot": LOT}],
        )
    )
    with transaction(world.engine) as session:
        return record_adverse_event(session, context(now=world.clock.now), where.id, data).id


def records(world: World) -> tuple[int, int, list[str]]:
    """The scores and events stored, and each event's status."""
    with transaction(world.engine, write=False) as session:
        return (
            session.scalar(select(func.count()).select_from(Outcome)) or 0,
            session.scalar(select(func.count()).select_from(AdverseEvent)) or 0,
            sorted(event.status.value for event in session.scalars(select(AdverseEvent))),
        )


def forms(world: World, event: uuid.UUID) -> list[tuple[str, dict[str, str]]]:
    """Every form of the outcome pages, with input that would be accepted."""
    patient = world.ours.patient
    fields = {key: value for key, value in event_fields().items() if key != "patient"}
    return [
        (f"/patients/{patient}/outcomes", {"scale": "gais", "score": "2", "date": "2026-11-01"}),
        (f"/patients/{patient}/adverse-events", fields),
        (f"/patients/{patient}/adverse-events/{event}/follow-up", fields | {"reason": "again"}),
        (f"/adverse-events/{event}/close", {}),
    ]


@pytest.mark.parametrize("role", [R, A])
def test_reception_and_admins_are_refused_the_outcome_pages_and_forms(
    world: World, role: StaffRole
) -> None:
    event = an_event(world)
    before = records(world)
    with client_of(world) as client:
        token = sign_in(client, world, role)
        answer = client.get(f"/patients/{world.ours.patient}/outcomes")
        assert answer.status_code == 403
        assert f"({role.value}) may not" in answer.text
        recall = client.get("/recall", params={"lot": LOT})
        assert recall.status_code == (403 if role is R else 200)
        assert client.get("/recall").status_code == (403 if role is R else 200)
        for path, data in forms(world, event):
            refused = client.post(path, data={"csrf_token": token, **data})
            assert refused.status_code == 403, path
            assert f"({role.value}) may not" in refused.text
    assert records(world) == before


@pytest.mark.parametrize(("method", "path", "body", "roles"), OUTCOME_ENDPOINTS)
def test_each_role_is_let_through_or_refused_by_the_api(
    world: World, method: str, path: str, body: dict[str, Any] | None, roles: set[StaffRole]
) -> None:
    ids = {"patient_id": world.ours.patient, "event_id": an_event(world)}
    with client_of(world) as client:
        for role in StaffRole:
            answer = client.request(
                method, path.format(**ids), json=filled(body, **ids), headers=api_token(world, role)
            )
            if role in roles:
                assert answer.status_code in (200, 201), (role, answer.text)
            else:
                assert answer.status_code == 403, (role, answer.text)
                assert f"({role.value}) may not" in answer.json()["detail"][0]["msg"]
        anonymous = client.request(method, path.format(**ids), json=filled(body, **ids))
        assert anonymous.status_code == 401


def test_scores_are_recorded_and_drawn_over_time_with_their_table(world: World) -> None:
    patient = world.ours.patient
    with client_of(world) as client:
        token = sign_in(client, world, P)
        for score, day in (("4", "2026-08-01"), ("2", "2026-10-01")):
            recorded = client.post(
                f"/patients/{patient}/outcomes",
                data={"csrf_token": token, "scale": "gais", "score": score, "date": day},
            )
            assert recorded.status_code == 200  # the page again, after its redirect
        reported = client.post(
            f"/patients/{patient}/outcomes",
            data={
                "csrf_token": token,
                "scale": "patient_satisfaction",
                "score": "8",
                "date": "2026-10-02",
                "patient_reported": "true",
                "notes": SCRIPT,
            },
        )
        page = reported.text
    assert page.count('<svg class="chart"') == 2
    assert '<title id="chart-gais-title">GAIS over time</title>' in page
    assert "2 scores: 4 on 2026-08-01, 2 on 2026-10-01." in page
    assert "<polyline" in page
    assert "the patient" in page  # the patient-reported score
    assert SCRIPT not in page
    assert SHOWN in page
    assert "style=" not in page
    with transaction(world.engine, write=False) as session:
        scores = session.scalars(select(Outcome).order_by(Outcome.assessed_on)).all()
        reads = session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(("outcome.read", "adverse_event.read")))
        ).all()
    assert [(s.score, s.assessor_id) for s in scores] == [
        (4, world.ours.staff[P]),
        (2, world.ours.staff[P]),
        (8, None),
    ]
    assert {event.action for event in reads} == {"outcome.read", "adverse_event.read"}
    assert {event.staff_id for event in reads} == {world.ours.staff[P]}


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"scale": "gais", "score": "9", "date": "2026-11-01"}, "score: "),
        ({"scale": "gais", "score": "two", "date": "2026-11-01"}, "score: "),
        ({"scale": "beauty", "score": "2", "date": "2026-11-01"}, "scale: "),
        (
            {"scale": "gais", "score": "2", "date": "2030-01-01"},
            "date: 2030-01-01 is in the future",
        ),
        ({"scale": "gais", "score": "2", "date": "yesterday"}, "date: "),
    ],
)
def test_a_bad_score_is_refused_at_its_field_and_nothing_is_stored(
    world: World, data: dict[str, str], where: str
) -> None:
    before = records(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        answer = client.post(
            f"/patients/{world.ours.patient}/outcomes", data={"csrf_token": token, **data}
        )
        assert answer.status_code == 422
        assert where in answer.text
        assert "<h1>Record the score</h1>" in answer.text  # the form again, as it was sent
        assert f'value="{data["score"]}"' in answer.text
        assert 'class="problem" id="score-' in answer.text  # the problem at its field
        assert answer.text.count('aria-invalid="true"') == 1  # on that field alone
        api = client.post(
            "/api/v1/outcomes",
            json={"patient": str(world.ours.patient), **data},
            headers=api_token(world, P),
        )
        assert api.status_code == 422
    assert records(world) == before


def test_an_adverse_event_is_recorded_followed_up_and_closed(world: World) -> None:
    patient = world.ours.patient
    fields = {key: value for key, value in event_fields().items() if key != "patient"}
    with client_of(world) as client:
        token = sign_in(client, world, P)
        recorded = client.post(
            f"/patients/{patient}/adverse-events",
            data={
                "csrf_token": token,
                **fields,
                "description": f"Bruise {SCRIPT}",
                "product": "hyaluronic acid",
                "lot": LOT,
            },
        )
        assert recorded.status_code == 200
        assert SCRIPT not in recorded.text
        assert f"Bruise {SHOWN}" in recorded.text
        with transaction(world.engine, write=False) as session:
            first = session.scalars(select(AdverseEvent)).one()
        assert first.reporter_id == world.ours.staff[P]
        followed = client.post(
            f"/patients/{patient}/adverse-events/{first.id}/follow-up",
            data={
                "csrf_token": token,
                **fields,
                "outcome": "recovered",
                "reason": f"seen again {SCRIPT}",
                "product": "hyaluronic acid",
                "lot": LOT,
            },
        )
        assert followed.status_code == 200
        assert f"last follow-up: seen again {SHOWN}" in followed.text
        assert followed.text.count('<article class="event"') == 1  # the superseded one left out
        assert records(world)[2] == ["open", "superseded"]
        again = client.post(
            f"/patients/{patient}/adverse-events/{first.id}/follow-up",
            data={"csrf_token": token, **fields, "reason": "twice"},
        )
        assert again.status_code == 422  # the superseded version is not followed up twice
        assert 'value="twice"' in again.text  # the follow-up's form again, its reason kept
        with transaction(world.engine, write=False) as session:
            latest = session.scalars(
                select(AdverseEvent).where(AdverseEvent.status == AdverseEventStatus.OPEN)
            ).one()
        closed = client.post(f"/adverse-events/{latest.id}/close", data={"csrf_token": token})
        assert closed.status_code == 200
        assert "Close this event" not in closed.text
        assert records(world)[2] == ["closed", "superseded"]
        twice = client.post(f"/adverse-events/{latest.id}/close", data={"csrf_token": token})
        assert twice.status_code == 409
        recall = client.get("/recall", params={"lot": LOT})
        assert recall.status_code == 200
        assert "Adverse events involving it" in recall.text
        assert recall.text.count(f'href="/patients/{patient}/outcomes"') == 1


def test_a_bad_adverse_event_is_refused_at_its_field(world: World) -> None:
    fields = {key: value for key, value in event_fields().items() if key != "patient"}
    before = records(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        for bad, where in (
            ({"type": "sunburn"}, "type: "),
            ({"onset": "2030-01-01"}, "onset: 2030-01-01 is in the future"),
            ({"description": "   "}, "description: "),
            ({"product": "hyaluronic acid", "lot": ""}, "lots[0]"),
        ):
            answer = client.post(
                f"/patients/{world.ours.patient}/adverse-events",
                data={"csrf_token": token, **fields, **bad},
            )
            assert answer.status_code == 422, bad
            assert where in answer.text, (bad, answer.text)
            assert "<h1>Record the event</h1>" in answer.text
            assert 'value="2026-11-01"' in answer.text or "onset" in bad
        api = client.post(
            "/api/v1/adverse-events",
            json=event_fields(world.ours.patient, type="sunburn"),
            headers=api_token(world, P),
        )
        assert api.status_code == 422
        assert api.json()["detail"][0]["loc"] == ["body", "type"]
    assert records(world) == before


def test_a_recall_lists_the_patients_to_call_and_is_audited(world: World) -> None:
    an_event(world)
    with client_of(world) as client:
        sign_in(client, world, P)
        empty = client.get("/recall")
        assert empty.status_code == 200
        assert "Patients to call" not in empty.text
        found = client.get("/recall", params={"lot": LOT})
        assert "Patients to call for lot LOT-24A" in found.text
        assert "MOREAU" in found.text.upper()
        api = client.get("/api/v1/recall", params={"lot": LOT}, headers=api_token(world, P))
        assert [e["patient_id"] for e in api.json()["adverse_events"]] == [str(world.ours.patient)]
        assert client.get("/api/v1/recall", headers=api_token(world, P)).status_code == 422
        script = client.get("/recall", params={"lot": SCRIPT})
        assert SCRIPT not in script.text
    with transaction(world.engine, write=False) as session:
        recalls = session.scalars(select(AuditEvent).where(AuditEvent.action == "lot.recall")).all()
    assert len(recalls) >= 2
    assert {event.staff_id for event in recalls} == {world.ours.staff[P]}


def test_without_the_csrf_token_no_outcome_form_changes_anything(world: World) -> None:
    event = an_event(world)
    before = records(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        for path, data in forms(world, event):
            for forged in ({}, {"csrf_token": "forged"}):
                answer = client.post(path, data={**forged, **data})
                assert answer.status_code == 403, path
                assert "the form has expired" in answer.text
            other = client.post(
                path, data={"csrf_token": token, **data}, headers={"Origin": "https://evil.test"}
            )
            assert other.status_code == 403, path
    assert records(world) == before


def test_clinic_a_never_reaches_clinic_b_outcomes(any_world: World) -> None:
    world = any_world
    theirs = world.theirs.patient
    their_event = an_event(world, theirs, world.theirs)
    before = records(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        headers = api_token(world, P)
        assert client.get(f"/patients/{theirs}/outcomes").status_code == 404
        assert client.get(f"/api/v1/patients/{theirs}/outcomes", headers=headers).status_code == 404
        fields = {key: value for key, value in event_fields().items() if key != "patient"}
        for path, data in (
            (f"/patients/{theirs}/outcomes", {"scale": "gais", "score": "2", "date": "2026-11-01"}),
            (f"/patients/{theirs}/adverse-events", fields),
            (
                f"/patients/{theirs}/adverse-events/{their_event}/follow-up",
                fields | {"reason": "x"},
            ),
            (f"/adverse-events/{their_event}/close", {}),
        ):
            answer = client.post(path, data={"csrf_token": token, **data})
            assert answer.status_code == 404, path
        closing = client.post(f"/api/v1/adverse-events/{their_event}/close", headers=headers)
        assert closing.status_code == 404
        recall = client.get("/api/v1/recall", params={"lot": LOT}, headers=headers)
        assert recall.json()["adverse_events"] == []
    assert records(world) == before
