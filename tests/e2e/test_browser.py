"""In a real browser: a practitioner signs in with a TOTP code, finds a patient by typing
the start of a name (search as you type), opens the details and the chart, by keyboard;
reception cannot open a clinical page; signing out ends the session. Screenshots of each
page go to test-artifacts/e2e; axe-core finds no serious or critical violation on them."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from tests.e2e.conftest import Demo, screenshot, serious_violations, unused_code

PRACTITIONER = "Dr Ana Lima"  # the demo's first practitioner, who has a second factor
RECEPTION = "Julie Perrin"


def sign_in(page: Page, demo: Demo, name: str) -> None:
    login = demo.logins[name]
    page.goto("/login")
    page.get_by_label("Login name").fill(login)
    page.get_by_label("Password").fill(demo.password)
    page.get_by_role("button", name="Sign in").click()
    if login in demo.totp:
        expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
        page.get_by_label("Code").fill(unused_code(demo.totp[login]))
        page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/today$"))


def accessible(page: Page, name: str) -> None:
    screenshot(page, name)
    assert serious_violations(page) == [], name


def test_a_practitioner_signs_in_with_a_code_finds_a_patient_and_opens_the_chart(
    page: Page, demo: Demo
) -> None:
    page.goto("/login")
    accessible(page, "login")
    sign_in(page, demo, PRACTITIONER)
    expect(page.get_by_role("heading", name="Plans awaiting approval")).to_be_visible()
    accessible(page, "today")

    page.get_by_role("link", name="Patients").click()
    patient = demo.patients[0]
    search = page.get_by_label("Find a patient by family name, then given names")
    search.focus()
    page.keyboard.type(patient["family_name"][:3], delay=40)  # no Enter: results come as typed
    found = page.get_by_role("list", name="Patients found")
    expect(found).to_be_visible()
    shown = f"{patient['family_name'].upper()}, {patient['given_names']}"
    link = found.get_by_role("link", name=shown)
    expect(link).to_be_visible()
    assert patient["family_name"].lower() not in page.url.lower()
    accessible(page, "patients")

    link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/patients/{patient['id']}$"))
    expect(page.get_by_role("heading", name=shown)).to_be_visible()
    accessible(page, "details")

    page.get_by_role("link", name="Open the chart").click()
    expect(page).to_have_url(re.compile(rf"/patients/{patient['id']}/chart$"))
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    assert page.title() == "Patient chart · Dermaplan"
    assert page.locator("ol.timeline > li").count() > 0
    accessible(page, "chart")
    page.set_viewport_size({"width": 800, "height": 1280})  # the tablet held upright
    accessible(page, "chart-portrait")


def test_reception_cannot_open_a_clinical_page(page: Page, demo: Demo) -> None:
    sign_in(page, demo, RECEPTION)
    expect(page.get_by_role("heading", name="Planned sessions")).to_be_visible()
    expect(page.get_by_role("heading", name="Plans awaiting approval")).to_have_count(0)
    patient = demo.patients[0]
    answer = page.goto(f"/patients/{patient['id']}/chart")
    assert answer is not None
    assert answer.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_text("(reception) may not")).to_be_visible()
    accessible(page, "reception-refused")
    details = page.goto(f"/patients/{patient['id']}")
    assert details is not None
    assert details.status == 200
    expect(page.get_by_role("link", name="Open the chart")).to_have_count(0)


def test_signing_out_ends_the_session(page: Page, demo: Demo) -> None:
    sign_in(page, demo, RECEPTION)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/today")
    expect(page).to_have_url(re.compile(r"/login$"))
