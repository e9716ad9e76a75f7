"""From a new patient to an approved plan, through the pages and the API: every endpoint
and page with each role, clinic A never reaching clinic B, a draft saved and resumed, an
unanswered safety question kept as not answered (and the plan saying what that means), a
contraindicated patient given no plan for that treatment, scripts shown as text, forged
CSRF tokens refused with nothing changed."""

from __future__ import annotations

import html
import json
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from dermaplan.app import assessments, consults
from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.models import AssessmentDraft, AuditEvent, Consult, Patient
from dermaplan.web.knowledge import knowledge
from tests.web.conftest import World, api_token, client_of, sign_in
from tests.web.test_request_units import audited, begun, verifies

A, P, R = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION
SCRIPT = "<script>alert(1)</script>"
SHOWN = "&lt;script&gt;alert(1)&lt;/script&gt;"
DAY = "2026-11-02"
CONCERN = {"concern": "dehydration", "areas": ["cheeks"], "severity": "moderate"}
ASSESSMENT: dict[str, Any] = {"consult_date": DAY, "concerns": [CONCERN]}
SOURCE = "spring2017"
KEPT_OR_STORED = (
    "assessment_draft.update",
    "assessment_draft.use",
    "consult.create",
    "consult.supersede",
)
# the form of a draft with CONCERN placed on it
PLACED = {
    "consult_date": DAY,
    "concerns-0-concern": "dehydration",
    "concerns-0-areas": "cheeks",
    "concerns-0-severity": "mild",
}
# every endpoint of the assessment API: method, path, body, the roles it lets through
ASSESSMENT_ENDPOINTS: list[tuple[str, str, dict[str, object] | None, set[StaffRole]]] = [
    ("POST", "/api/v1/patients", {"family_name": "Nouveau", "sex": "female"}, {P, R}),
    ("GET", "/api/v1/patients/{patient_id}/assessments", None, {P}),
    ("POST", "/api/v1/patients/{patient_id}/assessments", None, {P}),
    ("GET", "/api/v1/assessments/{draft_id}", None, {P}),
    ("PUT", "/api/v1/assessments/{draft_id}", ASSESSMENT, {P}),
    ("POST", "/api/v1/assessments/{draft_id}/consult", {}, {P}),
    ("GET", "/api/v1/consults/{consult_id}/review", None, {P}),
    ("POST", "/api/v1/consults/{consult_id}/approve", None, {P}),
    ("POST", "/api/v1/consults/{consult_id}/discard", {"reason": "wrong patient"}, {P}),
    ("POST", "/api/v1/consults/{approved_id}/corrections", None, {P}),
    ("GET", "/api/v1/knowledge/sources/{source_id}", None, {P, A}),
]


def draft(
    world: World, data: dict[str, Any] | None = None, patient: uuid.UUID | None = None
) -> str:
    """A draft of the clinic's patient, started and saved by its practitioner."""
    member = str(world.ours.staff[P])
    made = world.application.run(member, assessments.start, patient or world.ours.patient)
    if data is not None:
        world.application.run(member, assessments.save, made.id, data, knowledge())
    return str(made.id)


def consult(world: World) -> str:
    """A consult stored from a draft, not yet approved."""
    made = draft(world, ASSESSMENT)
    saved = world.application.run(
        str(world.ours.staff[P]), assessments.store, uuid.UUID(made), knowledge()
    )
    return str(saved.consult_id)


def approved(world: World) -> str:
    """A consult stored and approved: one a correction may be started of."""
    made = consult(world)
    world.application.run(str(world.ours.staff[P]), consults.approve, uuid.UUID(made))
    return made


def assessment_form(page: str) -> dict[str, Any]:
    """What a browser would send of the assessment form as the page shows it: the checked
    choices, the filled fields and the selected options."""
    form = page[
        page.index('id="assessment"') : page.index("</form>", page.index('id="assessment"'))
    ]
    sent: dict[str, Any] = {}
    for match in re.finditer(r"<input ([^>]*)>", form):
        attributes = dict(re.findall(r'([a-z_-]+)="([^"]*)"', match.group(1)))
        checked = " checked" in match.group(1)
        if "name" not in attributes or attributes.get("type") == "submit":
            continue
        if attributes.get("type") in ("radio", "checkbox") and not checked:
            continue
        sent.setdefault(attributes["name"], []).append(html.unescape(attributes.get("value", "")))
    for match in re.finditer(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', match.group(2))
        sent[match.group(1)] = [chosen.group(1) if chosen else ""]
    return sent


def state(world: World) -> tuple[int, int, int, list[Any]]:
    """The patients, consults and drafts, and every draft's data."""
    with transaction(world.engine, write=False) as session:
        return (
            session.scalar(select(func.count()).select_from(Patient)) or 0,
            session.scalar(select(func.count()).select_from(Consult)) or 0,
            session.scalar(select(func.count()).select_from(AssessmentDraft)) or 0,
            [d.data for d in session.scalars(select(AssessmentDraft).order_by(AssessmentDraft.id))],
        )


@pytest.mark.parametrize(("method", "path", "body", "roles"), ASSESSMENT_ENDPOINTS)
def test_each_role_is_let_through_or_refused(
    world: World, method: str, path: str, body: dict[str, object] | None, roles: set[StaffRole]
) -> None:
    with client_of(world) as client:
        for role in StaffRole:
            ids = {
                "patient_id": world.ours.patient,
                "draft_id": draft(world, ASSESSMENT),
                "consult_id": consult(world),
                "approved_id": approved(world),
                "source_id": SOURCE,
            }
            answer = client.request(
                method, path.format(**ids), json=body, headers=api_token(world, role)
            )
            if role in roles:
                assert answer.status_code in (200, 201), (role, answer.text)
            else:
                assert answer.status_code == 403, (role, answer.text)
                assert f"({role.value}) may not" in answer.json()["detail"][0]["msg"]


PAGES = (
    "/patients/{patient_id}/assessments",
    "/assessments/{draft_id}",
    "/consults/{consult_id}",
    "/knowledge/sources/" + SOURCE,
)
FORMS = (
    "/patients/{patient_id}/assessments",
    "/assessments/{draft_id}",
    "/assessments/{draft_id}/consult",
    "/consults/{consult_id}/approve",
    "/consults/{consult_id}/discard",
    "/consults/{consult_id}/correct",
)


def test_reception_is_refused_every_clinical_page_and_form(world: World) -> None:
    ids = {"patient_id": world.ours.patient, "draft_id": draft(world), "consult_id": consult(world)}
    with client_of(world) as client:
        token = sign_in(client, world, R)
        for page in PAGES:
            answer = client.get(page.format(**ids))
            assert answer.status_code == 403, page
            assert "(reception) may not" in answer.text
        before = state(world)
        for form in FORMS:
            answer = client.post(form.format(**ids), data={"csrf_token": token, **ASSESSMENT})
            assert answer.status_code == 403, form
        assert state(world) == before
        assert client.get("/patients/new").status_code == 200  # the register is theirs too


def test_clinic_a_never_reaches_clinic_b(any_world: World) -> None:
    """Clinic B's practitioner finds none of clinic A's patients, drafts and consults, by
    the API or the pages, and changes nothing of them."""
    world = any_world
    ours = {
        "patient_id": world.ours.patient,
        "draft_id": draft(world),
        "consult_id": consult(world),
        "approved_id": approved(world),
    }
    with client_of(world) as client:
        headers = api_token(world, P, world.theirs)
        for method, path, body, _ in ASSESSMENT_ENDPOINTS:
            if "{" in path and "source_id" not in path:
                answer = client.request(method, path.format(**ours), json=body, headers=headers)
                assert answer.status_code == 404, (path, answer.text)
        token = sign_in(client, world, P, world.theirs)
        for page in PAGES[:3]:
            assert client.get(page.format(**ours)).status_code == 404, page
        before = state(world)
        for form in FORMS:
            answer = client.post(form.format(**ours), data={"csrf_token": token})
            assert answer.status_code == 404, form
        assert state(world) == before


def test_a_draft_is_saved_and_resumed_through_the_pages(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, P)
        started = client.post(
            f"/patients/{world.ours.patient}/assessments",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        assert started.status_code == 303
        where = started.headers["location"]
        assert re.fullmatch(r"/assessments/[0-9a-f-]{36}", where)
        page = client.get(where).text
        assert "The plan appears here once a concern is placed" in page
        form = {
            "csrf_token": token,
            "consult_date": DAY,
            "patient.pregnant": "no",
            "conditions.keloid_history": "yes",
            "allergies": "none",
            "new-concern": "dehydration",
            "new-areas": ["cheeks", "forehead"],
            "new-severity": "mild",
            "action": "add",
        }
        saved = client.post(where, data=form, follow_redirects=False)
        assert saved.status_code == 303, saved.text
        resumed = client.get(where).text
        assert 'name="concerns-0-concern" value="dehydration"' in resumed
        assert re.search(r'name="patient.pregnant" value="no" checked', resumed)
        assert re.search(r'name="conditions.keloid_history" value="yes" checked', resumed)
        assert re.search(r'name="allergies" value="none" checked', resumed)
        assert "Decisions" in resumed  # the plan, now that a concern is placed
        listed = client.get(f"/patients/{world.ours.patient}/assessments").text
        assert where in listed
        assert "dehydration" in listed
        again = client.post(
            where,
            data={
                **form,
                **PLACED,
                "action": "remove-0",
            },
            follow_redirects=False,
        )
        assert again.status_code == 303
        assert "concerns-0-concern" not in client.get(where).text


def test_the_plan_comes_back_for_htmx_as_the_form_changes(world: World) -> None:
    made = draft(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        answer = client.post(
            f"/assessments/{made}",
            data={
                "csrf_token": token,
                **PLACED,
            },
            headers={"HX-Request": "true"},
        )
        assert answer.status_code == 200
        assert answer.text.lstrip().startswith('<div id="plan"')
        assert "Decisions" in answer.text
        assert "<html" not in answer.text


def test_an_unanswered_question_stays_not_answered_and_the_plan_says_so(world: World) -> None:
    made = draft(world, ASSESSMENT)
    with client_of(world) as client:
        page = client.get(f"/api/v1/assessments/{made}", headers=api_token(world, P)).json()
        pregnant = next(q for q in page["questions"] if q["field"] == "patient.pregnant")
        assert pregnant["answer"] is None
        assert "pregnant" not in page["data"].get("patient", {})
        assert page["plan"]["missing"]
        assert all(d["decision"] != "recommended" for d in page["plan"]["decisions"])
        sign_in(client, world, P)
        html = client.get(f"/assessments/{made}").text
        assert re.search(r'name="patient.pregnant" value="unknown" checked', html)
        assert "not answered" in html
        assert "Not answered is unknown, never no" in html


def test_a_contraindicated_patient_gets_no_plan_for_that_treatment(world: World) -> None:
    made = draft(world)
    pregnant = {**ASSESSMENT, "patient": {"pregnant": True}}
    with client_of(world) as client:
        answer = client.put(
            f"/api/v1/assessments/{made}", json=pregnant, headers=api_token(world, P)
        )
        assert answer.status_code == 200, answer.text
        plan = answer.json()["plan"]
        decisions = {d["modality"]: d["decision"] for d in plan["decisions"]}
        assert decisions["mesotherapy"] == "contraindicated"
        assert not [c for c in plan["courses"] if c["modality"] == "mesotherapy"]
        assert any(f["severity"] == "absolute" for f in plan["findings"])


def test_bad_input_is_refused_at_its_field_and_nothing_kept(world: World) -> None:
    made = draft(world, ASSESSMENT)
    before = state(world)
    wrong = {**ASSESSMENT, "concerns": [{**CONCERN, "areas": ["elbow"]}]}
    with client_of(world) as client:
        answer = client.put(f"/api/v1/assessments/{made}", json=wrong, headers=api_token(world, P))
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["concerns", 0, "areas", 0]
        shape = client.put(
            f"/api/v1/assessments/{made}",
            json={**ASSESSMENT, "patient": {"fitzpatrick": 9}},
            headers=api_token(world, P),
        )
        assert shape.status_code == 422
        assert shape.json()["detail"][0]["loc"][:3] == ["body", "patient", "fitzpatrick"]
        token = sign_in(client, world, P)
        page = client.post(
            f"/assessments/{made}",
            data={
                **PLACED,
                "csrf_token": token,
                "patient.fitzpatrick": "9",
            },
        )
        assert page.status_code == 422
        assert "patient.fitzpatrick" in page.text
        assert 'aria-describedby="patient-fitzpatrick-problem"' in page.text
        assert '<p class="problem" id="patient-fitzpatrick-problem">' in page.text
        assert 'id="assessment"' in page.text  # the form again
        empty = draft(world)
        stored = client.post(
            f"/assessments/{empty}/consult", data={"csrf_token": token, "consult_date": DAY}
        )
        assert stored.status_code == 422
        assert "place at least one concern" in stored.text
    after = state(world)
    assert after[:2] == before[:2]
    assert after[3][: len(before[3])] == before[3]


def test_a_patient_is_added_or_the_form_comes_back_with_the_problem(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, P)
        before = state(world)
        wrong = client.post(
            "/patients", data={"csrf_token": token, "family_name": "Roux", "email": "not-mail"}
        )
        assert wrong.status_code == 422
        assert 'aria-invalid="true" aria-describedby="email-problem"' in wrong.text
        assert '<p class="problem" id="email-problem">' in wrong.text
        assert 'value="Roux"' in wrong.text
        assert state(world) == before
        added = client.post(
            "/patients",
            data={
                "csrf_token": token,
                "family_name": "Roux",
                "birth_date": "1990-04-02",
                "sex": "female",
            },
            follow_redirects=False,
        )
        assert added.status_code == 303
        assert re.fullmatch(r"/patients/[0-9a-f-]{36}", added.headers["location"])
        assert "Roux" not in added.headers["location"]
        bad = client.post(
            "/api/v1/patients", json={"given_names": "x"}, headers=api_token(world, P)
        )
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["body", "family_name"]


def answered(questions: list[dict[str, Any]]) -> dict[str, Any]:
    """An assessment of ASSESSMENT's concern with every question answered, nothing wrong."""
    data: dict[str, Any] = {**ASSESSMENT, "patient": {}, "conditions": {}, "medications": {}}
    data |= {"allergies": [], "procedures": [], "goals": {"start_date": "2026-11-09"}}
    for question in questions:
        head, _, name = question["field"].partition(".")
        if question["kind"] == "scale":
            data[head][name] = 2
        elif question["kind"] == "yes_no":
            data[head][name] = False
        elif question["kind"] == "medication":
            data[head][name] = {"status": "never"}
    return data


def test_a_stored_consult_is_reviewed_and_approved_as_the_member(world: World) -> None:
    with client_of(world) as client:
        headers = api_token(world, P)
        patient = client.post(
            "/api/v1/patients",
            json={"family_name": "Garnier", "birth_date": "1990-03-04", "sex": "female"},
            headers=headers,
        ).json()
        made = draft(world, ASSESSMENT, uuid.UUID(patient["id"]))
        questions = client.get(f"/api/v1/assessments/{made}", headers=headers).json()["questions"]
        data = answered(questions)
        saved = client.put(f"/api/v1/assessments/{made}", json=data, headers=headers).json()
        assert not saved["plan"]["missing"]
        token = sign_in(client, world, P)
        form = assessment_form(client.get(f"/assessments/{made}").text)
        stored = client.post(
            f"/assessments/{made}/consult",
            data={**form, "csrf_token": token},
            follow_redirects=False,
        )
        assert stored.status_code == 303, stored.text
        review = stored.headers["location"]
        consult_id = review.rsplit("/", 1)[1]
        page = client.get(review).text
        assert "Status: draft" in page
        assert "Decisions" in page
        assert "2026-11-09" in page  # the course's dates
        source = re.search(r'href="/knowledge/sources/([a-z0-9_]+)"', page)
        assert source
        entry = client.get(f"/knowledge/sources/{source.group(1)}")
        assert entry.status_code == 200
        assert "What relies on it" in entry.text
        assert client.get("/knowledge/sources/no_such_source").status_code == 404
        approved = client.post(
            f"/consults/{consult_id}/approve", data={"csrf_token": token}, follow_redirects=False
        )
        assert approved.status_code == 303
        page = client.get(review).text
        assert "Status: approved" in page
        assert "Approved by" in page
        again = client.post(f"/consults/{consult_id}/approve", data={"csrf_token": token})
        assert again.status_code == 409
        used = client.post(f"/assessments/{made}", data={"csrf_token": token, "consult_date": DAY})
        assert used.status_code == 409
    with transaction(world.engine, write=False) as session:
        stored_consult = session.get(Consult, uuid.UUID(consult_id))
        assert stored_consult is not None
        assert stored_consult.approved_by_id == world.ours.staff[P]
        kept = session.get(AssessmentDraft, uuid.UUID(made))
        assert kept is not None
        assert kept.consult_id == stored_consult.id


def test_a_correction_needs_a_reason_and_supersedes_the_consult(world: World) -> None:
    original = consult(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        client.post(f"/consults/{original}/approve", data={"csrf_token": token})
        started = client.post(
            f"/consults/{original}/correct", data={"csrf_token": token}, follow_redirects=False
        )
        where = started.headers["location"]
        again = client.post(f"/consults/{original}/correct", data={"csrf_token": token})
        assert again.status_code == 422
        assert f"assessment draft {where.rsplit('/', 1)[1]}; resume it" in again.text
        page = client.get(where).text
        assert "Correction of a consult" in page
        assert 'name="concerns-0-concern" value="dehydration"' in page
        form = {
            **PLACED,
            "csrf_token": token,
            "concerns-0-severity": "severe",
        }
        refused = client.post(f"{where}/consult", data=form)
        assert refused.status_code == 422
        assert "say what the correction changes" in refused.text
        stored = client.post(
            f"{where}/consult", data={**form, "reason": SCRIPT}, follow_redirects=False
        )
        assert stored.status_code == 303, stored.text
        page = client.get(stored.headers["location"]).text
        assert SHOWN in page
        assert SCRIPT not in page
        assert f'href="/consults/{original}"' in page


def test_a_refused_store_keeps_the_draft_as_sent_in_one_unit_of_work(world: World) -> None:
    """A correction without its reason is refused after the draft was written: the attempt
    is undone whole, its audit events too, the draft kept as sent once, in one transaction,
    and the log still verifies."""
    original = consult(world)
    world.application.run(str(world.ours.staff[P]), consults.approve, uuid.UUID(original))
    corrected = world.application.run(
        str(world.ours.staff[P]), assessments.start_correction, uuid.UUID(original)
    )
    before = {action: len(audited(world, action)) for action in KEPT_OR_STORED}
    with client_of(world) as client:
        token = sign_in(client, world, P)
        form = {**PLACED, "csrf_token": token, "concerns-0-severity": "severe"}
        with begun(world) as sent:
            refused = client.post(f"/assessments/{corrected.id}/consult", data=form)
    assert refused.status_code == 422
    assert "say what the correction changes" in refused.text
    assert sent.count("BEGIN IMMEDIATE") == 1  # the session's check reads before, on its own
    after = {action: len(audited(world, action)) for action in KEPT_OR_STORED}
    assert after == before | {"assessment_draft.update": before["assessment_draft.update"] + 1}
    kept = state(world)[3]
    assert [d["concerns"][0]["severity"] for d in kept if d["concerns"]][-1] == "severe"
    assert verifies(world)


def test_script_in_every_text_field_is_shown_as_text(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, P)
        added = client.post(
            "/patients",
            data={"csrf_token": token, "family_name": SCRIPT, "given_names": SCRIPT},
            follow_redirects=False,
        )
        patient = uuid.UUID(added.headers["location"].rsplit("/", 1)[1])
        made = draft(world, patient=patient)
        form = {
            **PLACED,
            "csrf_token": token,
            "notes": SCRIPT,
            "concerns-0-notes": SCRIPT,
        }
        assert client.post(f"/assessments/{made}", data=form).status_code == 200
        page = client.get(f"/assessments/{made}").text
        assert SCRIPT not in page
        assert page.count(SHOWN) >= 3  # the name, the notes, the concern's notes
        typed = client.post(
            f"/assessments/{made}", data={**form, "new-concern": SCRIPT, "action": "add"}
        )
        assert typed.status_code == 422
        assert SCRIPT not in typed.text
        assert "<title>Assessment · Dermaplan</title>" in page


def test_a_forged_csrf_token_changes_nothing(world: World) -> None:
    ids = {
        "patient_id": world.ours.patient,
        "draft_id": draft(world, ASSESSMENT),
        "consult_id": consult(world),
    }
    with client_of(world) as client:
        sign_in(client, world, P)
        before = state(world)
        for form in (*FORMS, "/patients"):
            for token in ("forged", None):
                data = {"family_name": "Forged", **ASSESSMENT}
                if token:
                    data["csrf_token"] = token
                answer = client.post(form.format(**ids), data=data)
                assert answer.status_code == 403, form
        assert state(world) == before


def test_reading_a_draft_is_audited_with_the_member(world: World) -> None:
    made = draft(world, ASSESSMENT)
    with client_of(world) as client:
        sign_in(client, world, P)
        client.get(f"/assessments/{made}")
    with transaction(world.engine, write=False) as session:
        reads = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "assessment_draft.read", AuditEvent.record_id == made
            )
        ).all()
    assert reads
    assert {e.staff_id for e in reads} == {world.ours.staff[P]}
    assert {e.patient_id for e in reads} == {world.ours.patient}


def test_today_and_the_chart_lead_to_the_plan_review(world: World) -> None:
    stored = consult(world)
    with client_of(world) as client:
        sign_in(client, world, P)
        assert f'href="/consults/{stored}"' in client.get("/today").text
        assert (
            f'href="/consults/{stored}"' in client.get(f"/patients/{world.ours.patient}/chart").text
        )


def test_recent_procedures_are_recorded_one_by_one(world: World) -> None:
    made = draft(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        form = {**PLACED, "csrf_token": token, "procedures": "listed"}
        filler = {"procedure.type": "ha_filler", "procedure.date": "2026-10-20"}
        client.post(f"/assessments/{made}", data={**form, **filler, "procedure.areas": "cheeks"})
        page = client.get(f"/assessments/{made}").text
        assert "ha filler on 2026-10-20 (cheeks)" in page
        kept = re.search(r'name="procedures_listed" value="([^"]+)"', page)
        assert kept
        waxing = {"procedure.type": "waxing", "procedure.date": "2026-10-30"}
        sent = {**form, **waxing, "procedures_listed": html.unescape(kept.group(1))}
        client.post(f"/assessments/{made}", data=sent)
        data = client.get(f"/api/v1/assessments/{made}", headers=api_token(world, P)).json()
    assert data["data"]["procedures"] == [
        {"type": "ha_filler", "date": "2026-10-20", "areas": ["cheeks"]},
        {"type": "waxing", "date": "2026-10-30", "areas": []},
    ]


def test_an_invalid_htmx_save_shows_the_problem_at_its_field_and_keeps_nothing(
    world: World,
) -> None:
    made = draft(world, ASSESSMENT)
    before = state(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        answer = client.post(
            f"/assessments/{made}",
            data={**PLACED, "csrf_token": token, "patient.fitzpatrick": "9"},
            headers={"HX-Request": "true"},
        )
    assert answer.status_code == 200  # what htmx puts in place
    assert "<html" not in answer.text
    assert answer.text.lstrip().startswith('<div id="plan"')
    assert "Not kept" in answer.text
    assert "patient.fitzpatrick: " in answer.text
    assert "Decisions" not in answer.text  # no plan of what was not kept
    assert state(world) == before


@pytest.mark.parametrize(
    "listed",
    [
        "not json",
        '{"type": "waxing"}',
        '["waxing"]',
        '[{"type": "waxing", "date": "someday", "areas": []}]',
        "[" * 100_000,
        "null",
    ],
)
def test_a_malformed_list_of_procedures_is_refused_at_its_field(world: World, listed: str) -> None:
    made = draft(world, ASSESSMENT)
    before = state(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        sent = {**PLACED, "csrf_token": token, "procedures": "listed"}
        answer = client.post(f"/assessments/{made}", data={**sent, "procedures_listed": listed})
    assert answer.status_code == 422, answer.text[-2000:]
    assert 'aria-describedby="procedures-problem"' in answer.text
    assert '<p class="problem" id="procedures-problem">' in answer.text
    assert state(world) == before


def test_a_refused_form_comes_back_with_every_answer_as_sent(world: World) -> None:
    """Correcting the one problem of a refused form loses none of the other answers."""
    made = draft(world, ASSESSMENT)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        filler = {"type": "ha_filler", "date": "2026-10-20", "areas": ["cheeks"]}
        sent = {
            **PLACED,
            "csrf_token": token,
            "patient.pregnant": "no",
            "conditions.keloid_history": "yes",
            "medications.isotretinoin": "never",
            "allergies": "none",
            "procedures": "listed",
            "procedures_listed": json.dumps([filler]),
            "patient.fitzpatrick": "9",
        }
        page = client.post(f"/assessments/{made}", data=sent)
        assert page.status_code == 422
        again = assessment_form(page.text)
        assert again["patient.pregnant"] == ["no"]
        assert again["conditions.keloid_history"] == ["yes"]
        assert again["medications.isotretinoin"] == ["never"]
        assert again["allergies"] == ["none"]
        assert again["procedures"] == ["listed"]
        assert json.loads(again["procedures_listed"][0]) == [filler]
        assert "ha filler on 2026-10-20 (cheeks)" in page.text
        corrected = {key: value for key, value in again.items() if key != "patient.fitzpatrick"}
        assert client.post(f"/assessments/{made}", data=corrected).status_code == 200
        kept = client.get(f"/api/v1/assessments/{made}", headers=api_token(world, P)).json()
    assert kept["data"]["patient"] == {"pregnant": False}
    assert kept["data"]["conditions"]["keloid_history"] is True
    assert kept["data"]["allergies"] == []
    assert kept["data"]["procedures"] == [filler]


def test_a_draft_is_discarded_with_a_reason_and_stays_on_the_chart(world: World) -> None:
    """Saved for the wrong patient: discarded from the review page, kept as discarded, with
    no approval or correction offered; the API refuses to discard it again (409) and a
    discard with no reason (422)."""
    made = consult(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        page = client.get(f"/consults/{made}").text
        assert f'action="/consults/{made}/discard"' in page
        before = state(world)
        blank = client.post(f"/consults/{made}/discard", data={"csrf_token": token, "reason": " "})
        assert blank.status_code == 422
        assert "a discard needs a reason" in blank.text
        assert state(world) == before
        done = client.post(
            f"/consults/{made}/discard",
            data={"csrf_token": token, "reason": "saved for the wrong patient"},
            follow_redirects=False,
        )
        assert (done.status_code, done.headers["location"]) == (303, f"/consults/{made}")
        page = client.get(f"/consults/{made}").text
        assert "Status: discarded" in page
        assert "saved for the wrong patient" in page
        for action in ("approve", "discard", "correct"):
            assert f'action="/consults/{made}/{action}"' not in page
        approve = client.post(f"/consults/{made}/approve", data={"csrf_token": token})
        assert approve.status_code == 409
        headers = api_token(world, P)
        again = client.post(
            f"/api/v1/consults/{made}/discard", json={"reason": "again"}, headers=headers
        )
        assert again.status_code == 409
        assert (
            client.post(
                f"/api/v1/consults/{consult(world)}/discard", json={"reason": ""}, headers=headers
            ).status_code
            == 422
        )
        chart = client.get(f"/patients/{world.ours.patient}/chart").text
        assert "Plan discarded: saved for the wrong patient" in chart
    with transaction(world.engine, write=False) as session:
        kept = session.get_one(Consult, uuid.UUID(made))
        assert (kept.status.value, kept.discarded_by_id) == ("discarded", world.ours.staff[P])
