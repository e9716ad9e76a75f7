"""In a real browser, with Chromium's stand-in camera: a practitioner takes a before photo
with the camera, uploads an after photo of the same view with the ghost of the first laid
over the camera's picture, and compares the two side by side and with the slider; then
records an outcome score and sees the chart, records an adverse event with a product lot, and
finds the patient in that lot's recall. Screenshots of each page go to
test-artifacts/e2e; axe-core finds no serious or critical violation on them."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect
from tests.e2e.conftest import Demo, dermaplan
from tests.e2e.test_browser import PRACTITIONER, RECEPTION, accessible, sign_in

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
AREA, ANGLE = "forehead", "left_oblique"  # a view the demo's own photos never show
ADMIN = "Nadia Belkacem"
LOT = "E2E-RECALL-1"


def photo_consent(demo: Demo, patient: str, folder: Path) -> None:
    """The patient's signed photo consent, every scope granted (the consent pages are not
    this test's: the command line records it, under a photo consent text of its own)."""
    text = folder / "photo-consent.txt"
    text.write_text("I agree to photographs of my treated areas for my clinical record.")
    dermaplan(demo, "--as", ADMIN, "consents", "template", "add", "photo", str(text))
    opened = dermaplan(demo, "--as", PRACTITIONER, "consents", "open", patient, "--kind", "photo")
    found = UUID.search(opened)
    assert found, opened
    signed = folder / "photo-consent.json"
    signed.write_text(
        json.dumps(
            {
                "patient": patient,
                "consent": found.group(0),
                "signed_at": dt.datetime.now(dt.UTC).isoformat(),
                "signer": "The patient",
                "signature": "Signed on the tablet",
                "scopes": {"clinical_record": True, "teaching": False, "marketing": False},
            }
        )
    )
    dermaplan(demo, "--as", PRACTITIONER, "consents", "sign", str(signed))


def after_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (214, 160, 140)).save(out, format="PNG")
    return out.getvalue()


def new_photo(page: Page, patient: str, stage: str) -> None:
    page.goto(f"/patients/{patient}/photos")
    page.get_by_role("link", name="Take or upload a photo").click()
    expect(page.get_by_role("heading", name="New photo")).to_be_visible()
    page.get_by_label("Area").fill(AREA)
    page.get_by_label("Angle").fill(ANGLE)
    page.get_by_label("Stage").select_option(stage)


def test_a_before_photo_is_captured_an_after_photo_uploaded_and_both_compared(
    camera_page: Page, demo: Demo, tmp_path: Path
) -> None:
    page = camera_page
    patient = demo.patients[1]["id"]
    photo_consent(demo, patient, tmp_path)
    sign_in(page, demo, PRACTITIONER)

    new_photo(page, patient, "before")
    expect(page.get_by_text("No earlier photo of this view to line up with.")).to_be_visible()
    page.get_by_role("button", name="Start the camera").click()
    expect(page.get_by_text("The camera is on.")).to_be_visible()
    page.get_by_role("button", name="Take the photo").click()
    expect(page.get_by_text("Photo taken: it is in the form")).to_be_visible()
    accessible(page, "photo-camera")
    page.get_by_role("button", name="Store the photo").click()
    expect(page).to_have_url(re.compile(rf"/patients/{patient}/photos$"))
    accessible(page, "photos")

    new_photo(page, patient, "after")
    ghost = page.locator("img.ghost")
    expect(ghost).to_be_visible()
    expect(page.get_by_text("The last photo of this view is laid over")).to_be_visible()
    page.wait_for_function("() => document.querySelector('img.ghost').naturalWidth > 0")
    page.get_by_role("button", name="Start the camera").click()
    expect(page.get_by_text("The camera is on.")).to_be_visible()
    accessible(page, "photo-ghost")
    page.get_by_label("Photo (JPEG or PNG").set_input_files(
        files=[{"name": "after.png", "mimeType": "image/png", "buffer": after_photo()}]
    )
    page.get_by_role("button", name="Store the photo").click()
    expect(page).to_have_url(re.compile(rf"/patients/{patient}/photos$"))

    view = page.get_by_role("region", name=re.compile(r"^forehead, left oblique"))
    view.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", name="Side by side")).to_be_visible()
    assert page.title() == "Compare photos · Dermaplan"
    for image in page.locator(".side-by-side img").all():
        expect(image).to_be_visible()
    page.wait_for_function(
        "() => [...document.images].every(image => image.complete && image.naturalWidth > 0)"
    )
    later = page.locator(".slider img.later")
    expect(later).to_have_class(re.compile(r"\bclip-50\b"))
    slider = page.get_by_label("Later photo shown (from the left), in percent")
    slider.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(later).to_have_class(re.compile(r"\bclip-40\b"))
    accessible(page, "photo-compare")

    page.goto(f"/patients/{patient}/outcomes")
    page.get_by_label("Scale").select_option("gais")
    page.get_by_label("Score", exact=True).fill("2")
    page.get_by_label("Assessed on").fill(dt.datetime.now(dt.UTC).date().isoformat())
    page.get_by_role("button", name="Record the score").click()
    expect(page.get_by_role("img", name="GAIS over time")).to_be_visible()
    expect(page.get_by_role("table", name="GAIS scores")).to_be_visible()
    accessible(page, "outcomes")

    page.locator("#new-event-onset").fill(dt.datetime.now(dt.UTC).date().isoformat())
    page.locator("#new-event-description").fill("A bruise where the lot was injected")
    page.locator("#new-event-product-1").fill("hyaluronic acid")
    page.locator("#new-event-lot-1").fill(LOT)
    page.get_by_role("button", name="Record the event").click()
    expect(
        page.get_by_role("paragraph").filter(has_text="A bruise where the lot was injected")
    ).to_be_visible()

    page.get_by_role("link", name="Recall").click()
    page.get_by_label("Lot number").fill(LOT)
    page.get_by_role("button", name="Find who received it").click()
    involved = page.get_by_role("region", name=re.compile("Adverse events involving it"))
    expect(involved.locator(f'a[href="/patients/{patient}/outcomes"]')).to_be_visible()
    assert LOT not in page.title()
    accessible(page, "recall")


def test_reception_cannot_open_the_photo_or_outcome_pages(page: Page, demo: Demo) -> None:
    sign_in(page, demo, RECEPTION)
    patient = demo.patients[1]["id"]
    for path in (f"/patients/{patient}/photos", f"/patients/{patient}/outcomes", "/recall"):
        answer = page.goto(path)
        assert answer is not None
        assert answer.status == 403, path
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
