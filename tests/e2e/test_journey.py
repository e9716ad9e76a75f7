"""The whole visit in a real browser, as the issue that asked for the web app tells it: a
practitioner signs in with a TOTP code, adds a patient, fills an assessment on the face
map, reviews and approves the plan; the patient signs the treatment consent with a drawn
signature and the photo consent scope by scope; the practitioner uploads a before photo,
records the session with a product lot and signs it, uploads an after photo and compares
the two. Reception cannot open any of the clinical pages met on the way. Each page is
screenshot into test-artifacts/e2e and checked with axe-core.

The practitioner is a member of staff made for this test (by the admin, from the command
line), so that their TOTP code is used once in its 30 seconds whatever else runs."""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import Locator, Page, expect
from tests.e2e.conftest import Demo, dermaplan, unused_code
from tests.e2e.test_browser import RECEPTION, accessible, sign_in
from tests.e2e.test_charting_browser import sign_consent_by_drawing

ADMIN = "Nadia Belkacem"
NEW = "Dr Journey Mercier"
LOT, EXPIRY = "JOURNEY-LOT-1", "2030-01-31"
# what a safety question is answered with, by its kind: no, never, none
NEGATIVE = ("No", "Never", "None known", "None recent")


def new_practitioner(demo: Demo) -> tuple[str, str]:
    """A practitioner with a password and a second factor: their login and TOTP secret."""
    dermaplan(demo, "--as", ADMIN, "staff", "add", NEW, "--role", "practitioner")
    set_password = ("--as", ADMIN, "staff", "password", NEW, "--login", "dr.journey")
    dermaplan(demo, *set_password, DERMAPLAN_PASSWORD=demo.password)
    given = dermaplan(demo, "--as", ADMIN, "staff", "totp", NEW)
    secret = re.search(r"secret: (\S+)", given)
    assert secret, given
    return "dr.journey", secret.group(1)


def sign_in_with_code(page: Page, demo: Demo, login: str, secret: str) -> None:
    page.goto("/login")
    page.get_by_label("Login name").fill(login)
    page.get_by_label("Password").fill(demo.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
    page.get_by_label("Code").fill(unused_code(secret))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/today$"))


def answer_every_needed_question(page: Page) -> None:
    """Each safety question the concerns need, answered in the negative; the draft is
    saved as the form changes (the whole form each time), and the page opened again shows
    what is still unanswered."""
    unanswered = page.locator(
        "xpath=//fieldset[contains(@class, 'unanswered') and not(ancestor::details)]"
    )
    for _ in range(8):
        questions = unanswered.count()
        if questions == 0:
            return
        for index in range(questions):
            negative(unanswered.nth(index)).check()
        page.wait_for_timeout(1500)  # the form is sent 400 ms after its last change
        page.reload()
    raise AssertionError(f"{unanswered.count()} questions are still not answered")


def negative(question: Locator) -> Locator:
    for label in NEGATIVE:
        choice = question.get_by_label(label, exact=True)
        if choice.count():
            return choice
    return question.locator("input[type=radio]:not([value=unknown])").first


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(out, format="PNG")
    return out.getvalue()


def upload_photo(page: Page, patient: str, stage: str, colour: tuple[int, int, int]) -> None:
    page.goto(f"/patients/{patient}/photos")
    page.get_by_role("link", name="Take or upload a photo").click()
    page.get_by_label("Area").fill("cheeks")
    page.get_by_label("Angle").fill("frontal")
    page.get_by_label("Stage").select_option(stage)
    page.get_by_label("Photo (JPEG or PNG").set_input_files(
        files=[{"name": f"{stage}.png", "mimeType": "image/png", "buffer": png(colour)}]
    )
    page.get_by_role("button", name="Store the photo").click()
    expect(page).to_have_url(re.compile(rf"/patients/{patient}/photos$"))


def test_a_whole_visit_from_a_new_patient_to_compared_photos(page: Page, demo: Demo) -> None:
    login, secret = new_practitioner(demo)
    sign_in_with_code(page, demo, login, secret)

    # a new patient, assessed on the face map
    page.get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Add a patient").click()
    page.get_by_label("Family name").fill("Voyage")
    page.get_by_label("Given names").fill("Léa")
    page.get_by_label("Birth date").fill("1985-03-14")
    page.get_by_label("Sex").select_option("female")
    page.get_by_role("button", name="Add the patient").click()
    expect(page.get_by_role("heading", name="VOYAGE, Léa")).to_be_visible()
    patient = re.search(r"/patients/([0-9a-f-]{36})", page.url)
    assert patient, page.url
    patient_id = patient.group(1)

    page.get_by_role("link", name="Assessments").click()
    page.get_by_role("button", name="Start a new assessment").click()
    page.get_by_label("Concern", exact=True).select_option("dehydration")
    face = page.get_by_role("group", name="Face, front")
    cheeks = face.get_by_role("checkbox", name="Cheeks (malar)")
    box = cheeks.bounding_box()
    assert box is not None
    cheeks.click(position={"x": box["width"] * 0.12, "y": box["height"] * 0.45})
    expect(cheeks).to_have_attribute("aria-checked", "true")
    page.get_by_role("button", name="Add this concern").click()
    expect(page.get_by_text("Remove dehydration")).to_be_visible()
    answer_every_needed_question(page)
    expect(page.locator("#plan").get_by_role("heading", name="Decisions")).to_be_visible()
    accessible(page, "journey-assessment")
    page.get_by_role("button", name="Store the consult and review the plan").click()

    # the plan reviewed and approved as the member signed in
    expect(page.get_by_role("heading", name="Plan review")).to_be_visible()
    review = page.url
    expect(page.locator('a[href^="/knowledge/sources/"]').first).to_be_visible()
    page.get_by_role("button", name=f"Approve as {NEW}").click()
    expect(page.get_by_text(f"Approved by {NEW}")).to_be_visible()
    accessible(page, "journey-plan-approved")

    # the consents: the treatment's drawn, the photos' scope by scope
    page.goto(f"/patients/{patient_id}/chart")
    page.get_by_role("link", name="Chart a session").first.click()
    modality = page.get_by_label("Treatment given").input_value()
    page.goto(f"/patients/{patient_id}/chart")
    sign_consent_by_drawing(page, f"treatment_{modality}")
    page.goto(f"/patients/{patient_id}/chart")
    page.get_by_role("link", name="Consents", exact=True).click()
    page.get_by_label("Consent for").select_option("photo")
    page.get_by_role("button", name="Show the text").click()
    page.get_by_label("The patient's name").fill("Léa Voyage")
    for scope, answer in (("clinical record", "Yes"), ("teaching", "No"), ("marketing", "No")):
        page.get_by_role("group", name=f"Photos may be used for {scope}").get_by_label(
            answer, exact=True
        ).check()
    page.get_by_label("Or type the name instead of drawing").fill("Léa Voyage")
    page.get_by_role("button", name="Sign the consent").click()
    expect(page.get_by_role("heading", name="Signed", exact=True)).to_be_visible()
    accessible(page, "journey-photo-consent")

    # the before photo, then the session charted from the plan and signed
    upload_photo(page, patient_id, "before", (205, 160, 140))
    page.goto(f"/patients/{patient_id}/chart")
    page.get_by_role("link", name="Chart a session").first.click()
    expect(page.get_by_text("Pre-filled from the approved plan")).to_be_visible()
    page.get_by_label("Lot of product 1").fill(LOT)
    page.get_by_label("Expiry of product 1").fill(EXPIRY)
    page.wait_for_load_state("load")  # the map's script (deferred) listens from then on
    area = page.get_by_label("Area of the points placed next").input_value()
    region = page.locator(f'.facemap-area[data-area="{area}"]').first
    region.scroll_into_view_if_needed()
    spot = region.bounding_box()
    assert spot is not None
    page.mouse.click(spot["x"] + spot["width"] * 0.12, spot["y"] + spot["height"] * 0.5)
    expect(page.get_by_text("1 injection point placed")).to_be_visible()
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_role("cell", name=LOT)).to_be_visible()
    session = page.url
    # the consent signed and the before photo taken, nothing is missing
    expect(page.get_by_label("Why it is signed with what is missing")).to_have_count(0)
    page.get_by_role("button", name=f"Sign as {NEW}").click()
    expect(page.get_by_text(re.compile(rf"Signed .* by {NEW}\."))).to_be_visible()
    accessible(page, "journey-session-signed")

    # the after photo, compared with the before
    upload_photo(page, patient_id, "after", (190, 150, 132))
    view = page.get_by_role("region", name=re.compile(r"^cheeks, frontal"))
    view.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", name="Side by side")).to_be_visible()
    page.wait_for_function(
        "() => [...document.images].every(image => image.complete && image.naturalWidth > 0)"
    )
    slider = page.get_by_label("Later photo shown (from the left), in percent")
    slider.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator(".slider img.later")).to_have_class(re.compile(r"\bclip-55\b"))
    accessible(page, "journey-photos-compared")
    compared = page.url

    # reception is refused every clinical page of the visit
    page.context.clear_cookies()
    sign_in(page, demo, RECEPTION)
    clinical = (
        f"/patients/{patient_id}/chart",
        f"/patients/{patient_id}/assessments",
        review,
        session,
        f"/patients/{patient_id}/photos",
        compared,
        f"/patients/{patient_id}/outcomes",
    )
    for address in clinical:
        answer = page.goto(address)
        assert answer is not None
        assert answer.status == 403, address
