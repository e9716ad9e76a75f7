"""In a real browser: the admin signs in with a TOTP code, opens the staff page and a
member's controls by keyboard, saves the clinic's settings, and runs `audit verify` from
the audit log, and opens every member's API tokens. Each page is screenshot and checked
with axe-core."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from tests.e2e.conftest import Demo
from tests.e2e.test_browser import RECEPTION, accessible, sign_in

ADMIN = "Nadia Belkacem"  # the demo's admin, who has a second factor
PRACTITIONER = "Dr Ana Lima"


def test_the_admin_manages_staff_the_clinic_and_verifies_the_audit_log(
    page: Page, demo: Demo
) -> None:
    sign_in(page, demo, ADMIN)
    page.get_by_role("link", name="Admin").click()
    expect(page).to_have_url(re.compile(r"/admin/staff$"))
    expect(page.get_by_role("heading", name="Staff", exact=True)).to_be_visible()
    members = page.get_by_role("table")
    expect(members.get_by_role("rowheader", name=ADMIN)).to_be_visible()
    expect(members.get_by_text(demo.logins[PRACTITIONER], exact=True)).to_be_visible()
    manage = page.get_by_text(f"Manage {PRACTITIONER}", exact=True)
    manage.focus()
    page.keyboard.press("Enter")  # a member's controls open by keyboard
    expect(page.get_by_label(f"Role of {PRACTITIONER}")).to_be_visible()
    accessible(page, "admin-staff")

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Clinic").click()
    expect(page).to_have_url(re.compile(r"/admin/clinic$"))
    zone = page.get_by_label("Time zone (IANA, e.g. Europe/Paris)")
    kept = zone.input_value()
    accessible(page, "admin-clinic")
    zone.fill("Nowhere/Atlantis")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Not accepted")).to_be_visible()
    expect(page.get_by_text("'Nowhere/Atlantis' is not an IANA time zone")).to_be_visible()
    page.go_back()
    page.get_by_label("Time zone (IANA, e.g. Europe/Paris)").fill(kept)
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/admin/clinic$"))
    expect(page.get_by_label("Time zone (IANA, e.g. Europe/Paris)")).to_have_value(kept)

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page.get_by_role("cell", name="staff.login").first).to_be_visible()
    accessible(page, "admin-audit")
    page.get_by_role("button", name="Run audit verify").click()
    expect(page.get_by_role("heading", name="The audit log is intact")).to_be_visible()
    accessible(page, "admin-verify")

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", exact=True)).to_be_visible()
    accessible(page, "admin-tokens")


def test_reception_is_refused_the_admin_pages(page: Page, demo: Demo) -> None:
    sign_in(page, demo, RECEPTION)  # (the practitioner's code is used once per 30 s)
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    answer = page.goto("/admin/staff")
    assert answer is not None
    assert answer.status == 403
    expect(page.get_by_text("(reception) may not")).to_be_visible()
