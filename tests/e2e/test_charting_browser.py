"""In a real browser: a practitioner opens a patient's approved plan from the chart; the
patient reads the consent for the treatment and signs it by drawing on the pad with the
mouse; the practitioner charts the session pre-filled from the plan, with a product lot and
its expiry and injection points placed by clicking on the face map, sees them drawn again
with the completeness check, and signs it. Reception is refused the charting pages. Each
page is screenshot and checked with axe-core."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect
from tests.e2e.conftest import Demo
from tests.e2e.test_browser import RECEPTION, accessible, sign_in

PRACTITIONER = "Dr Hélène Caron"  # a demo practitioner (the first one's code is used once)
LOT, EXPIRY = "E2E-LOT-7", "2030-06-30"


def open_an_approved_plan(page: Page, demo: Demo) -> str:
    """The chart of the first demo patient with an approved plan; its patient's id."""
    for patient in demo.patients:
        page.goto(f"/patients/{patient['id']}/chart")
        if page.get_by_role("link", name="Chart a session").count():
            return patient["id"]
    raise AssertionError("no demo patient has an approved plan")


def sign_consent_by_drawing(page: Page, kind: str) -> None:
    page.get_by_role("link", name="Consents", exact=True).click()
    expect(page.get_by_role("heading", name="Consents", exact=True)).to_be_visible()
    page.get_by_label("Consent for").select_option(kind)
    page.get_by_role("button", name="Show the text").click()
    expect(page.get_by_role("heading", name="The text, as the patient reads it")).to_be_visible()
    page.get_by_label("The patient's name").fill("Patient Signing")
    page.wait_for_load_state("load")  # the pad's script (deferred) listens from then on
    pad = page.locator("canvas[data-signature-pad]")
    box = pad.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 40, box["y"] + box["height"] * 0.7)
    page.mouse.down()
    for step in range(1, 9):
        page.mouse.move(
            box["x"] + 40 + step * 50, box["y"] + box["height"] * (0.3 if step % 2 else 0.7)
        )
    page.mouse.up()
    accessible(page, "consent-sign")
    page.get_by_role("button", name="Sign the consent").click()
    expect(page.get_by_role("heading", name="Signed", exact=True)).to_be_visible()
    drawn = page.get_by_role("img", name="The signature as drawn by Patient Signing")
    expect(drawn).to_be_visible()
    accessible(page, "consent-signed")


def test_consent_is_signed_by_drawing_and_a_session_is_charted_and_signed(
    page: Page, demo: Demo
) -> None:
    sign_in(page, demo, PRACTITIONER)
    patient = open_an_approved_plan(page, demo)
    page.get_by_role("link", name="Chart a session").first.click()
    expect(page.get_by_role("heading", name="Session charting")).to_be_visible()
    modality = page.get_by_label("Treatment given").input_value()
    page.goto(f"/patients/{patient}/chart")
    sign_consent_by_drawing(page, f"treatment_{modality}")

    page.goto(f"/patients/{patient}/chart")
    page.get_by_role("link", name="Chart a session").first.click()
    expect(page.get_by_text("Pre-filled from the approved plan")).to_be_visible()
    first = page.locator("#product-0")
    if not first.input_value():
        first.fill("ha_skin_booster")
    page.get_by_label("Lot of product 1").fill(LOT)
    page.get_by_label("Expiry of product 1").fill(EXPIRY)
    page.wait_for_load_state("load")  # the map's script (deferred) listens from then on
    area = page.get_by_label("Area of the points placed next").input_value()
    region = page.locator(f'.facemap-area[data-area="{area}"]').first
    drawing = region.locator("xpath=ancestor::*[local-name()='svg']")
    before = drawing.locator("circle.facemap-point").count()
    region.scroll_into_view_if_needed()
    box = region.bounding_box()
    assert box is not None
    for across in (0.12, 0.88):  # both sides of a paired area, by mouse on the drawing
        page.mouse.click(box["x"] + box["width"] * across, box["y"] + box["height"] * 0.5)
    page.get_by_role("button", name="Place a point in this area").focus()
    page.keyboard.press("Enter")  # a point placed from the keyboard
    expect(page.get_by_text("3 injection points placed")).to_be_visible()
    assert drawing.locator("circle.facemap-point").count() == before + 3
    accessible(page, "session-form")
    page.get_by_role("button", name="Save the draft").click()

    expect(page).to_have_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
    expect(page.get_by_role("cell", name=LOT)).to_be_visible()
    expect(page.get_by_role("cell", name=EXPIRY)).to_be_visible()
    points = page.get_by_role("heading", name=re.compile(r"Injection points"))
    expect(points).to_contain_text("3")
    assert page.locator("#placed circle.facemap-point").count() == 3  # drawn again
    expect(page.get_by_role("heading", name="Before signing")).to_be_visible()
    accessible(page, "session-draft")
    reason = page.get_by_label("Why it is signed with what is missing")
    if reason.count():
        reason.fill("photos taken on the clinic's camera today")
    page.get_by_role("button", name=f"Sign as {PRACTITIONER}").click()
    expect(page.get_by_text(re.compile(rf"Signed .* by {PRACTITIONER}\."))).to_be_visible()
    expect(page.get_by_role("link", name="Change the draft")).to_have_count(0)
    accessible(page, "session-signed")

    signed = page.url
    page.get_by_role("link", name="Amend this session").click()
    expect(page.get_by_role("heading", name="Amend a signed session")).to_be_visible()
    expect(page.get_by_label("Lot of product 1")).to_have_value(LOT)  # what was signed
    accessible(page, "session-amend")
    page.get_by_role("textbox", name="Notes").fill("three points, not four")
    page.get_by_label("Why the signed session is corrected").fill("the notes were wrong")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_text("amends")).to_be_visible()
    expect(page.get_by_role("heading", name="Before signing")).to_be_visible()
    page.goto(signed)
    expect(page.get_by_text("An amendment is being written")).to_be_visible()
    expect(page.get_by_role("link", name="Amend this session")).to_have_count(0)


def test_reception_is_refused_the_charting_pages(page: Page, demo: Demo) -> None:
    sign_in(page, demo, RECEPTION)
    for path in (f"/sessions/new?consult={uuid.uuid4()}", f"/sessions/{uuid.uuid4()}"):
        answer = page.goto(path)
        assert answer is not None
        assert answer.status == 403, path
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
