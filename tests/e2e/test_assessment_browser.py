"""In a real browser, from a new patient to an approved plan: a practitioner adds a patient,
starts an assessment, answers a safety question, places a concern on the face map (one area
clicked with the mouse, one chosen by keyboard), sees the plan appear, stores the consult,
reviews the plan and approves it. Screenshots of each page go to test-artifacts/e2e; axe-core
finds no serious or critical violation on them; a page that breaks its Content-Security-
Policy fails the test.

The member signs in with a password alone: the demo's practitioner with a second factor
signs in in tests/e2e/test_browser.py, and a TOTP code is refused a second time within its
30 seconds."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from tests.e2e.conftest import Demo
from tests.e2e.test_browser import accessible, sign_in

PRACTITIONER = "Dr Hélène Caron"


def test_a_practitioner_adds_a_patient_assesses_them_on_the_map_and_approves_the_plan(
    page: Page, demo: Demo
) -> None:
    sign_in(page, demo, PRACTITIONER)
    page.get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Add a patient").click()
    expect(page.get_by_role("heading", name="Add a patient")).to_be_visible()
    page.get_by_label("Family name").fill("Journey")
    page.get_by_label("Given names").fill("Alice")
    page.get_by_label("Birth date").fill("1988-05-06")
    page.get_by_label("Sex").select_option("female")
    accessible(page, "patient-new")
    page.get_by_role("button", name="Add the patient").click()
    expect(page.get_by_role("heading", name="JOURNEY, Alice")).to_be_visible()
    assert "journey" not in page.url.lower()

    page.get_by_role("link", name="Assessments").click()
    page.get_by_role("button", name="Start a new assessment").click()
    expect(page).to_have_url(re.compile(r"/assessments/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name="New assessment")).to_be_visible()
    assert page.title() == "Assessment · Dermaplan"
    page.get_by_label("Concern", exact=True).select_option("dehydration")
    face = page.get_by_role("group", name="Face, front")
    page.evaluate(
        "() => { window.chosen = []; document.addEventListener('facemap:select',"
        " e => window.chosen.push([e.detail.area, e.detail.selected])); }"
    )
    cheeks = face.get_by_role("checkbox", name="Cheeks (malar)")
    box = cheeks.bounding_box()  # both cheeks: the middle of the box is the nose
    assert box is not None
    cheeks.click(position={"x": box["width"] * 0.12, "y": box["height"] * 0.45})  # by mouse
    forehead = face.get_by_role("checkbox", name="Forehead and temples")
    forehead.focus()
    page.keyboard.press("Space")  # by keyboard
    expect(forehead).to_have_attribute("aria-checked", "true")
    expect(page.locator('input[name="new-areas"][value="cheeks"]')).to_be_checked()
    expect(page.locator('input[name="new-areas"][value="forehead"]')).to_be_checked()
    assert page.evaluate("() => window.chosen") == [["cheeks", True], ["forehead", True]]
    accessible(page, "assessment-map")

    page.get_by_role("button", name="Add this concern").click()
    expect(page.get_by_text("Remove dehydration")).to_be_visible()
    plan = page.locator("#plan")
    expect(plan.get_by_role("heading", name="Decisions")).to_be_visible()
    missing = plan.get_by_role("heading", name=re.compile("Safety questions not answered"))
    expect(missing).to_be_visible()
    pregnant = page.get_by_role("group", name=re.compile(r"^Pregnant"))
    expect(pregnant).to_contain_text("not answered")  # needed now, and asked first
    before = missing.inner_text()
    pregnant.get_by_label("No", exact=True).check()  # htmx saves it and plans again
    expect(missing).not_to_have_text(before)
    accessible(page, "assessment-plan")

    page.get_by_role("button", name="Store the consult and review the plan").click()
    expect(page.get_by_role("heading", name="Plan review")).to_be_visible()
    expect(page.get_by_role("heading", name="Status: draft")).to_be_visible()
    source = page.locator('a[href^="/knowledge/sources/"]').first
    expect(source).to_be_visible()
    accessible(page, "plan-review")

    page.get_by_role("button", name=f"Approve as {PRACTITIONER}").click()
    expect(page.get_by_role("heading", name="Status: approved")).to_be_visible()
    expect(page.get_by_text(f"Approved by {PRACTITIONER}")).to_be_visible()
    accessible(page, "plan-approved")

    page.locator('a[href^="/knowledge/sources/"]').first.click()
    expect(page.get_by_role("heading", name="What relies on it", exact=False)).to_be_visible()
    accessible(page, "knowledge-source")
