"""The online-visit pages in Chromium on a phone-sized screen: conditional questions shown by
the ES module, the draft autosaved and back after a reload, a photo through the file input,
submission, and the clinician's zoomable photo. No CSP violation, no uncaught error."""

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from carepath.accounts.models import User
from carepath.intake.models import Case, CaseStatus, ServiceLine
from tests.browser.fixtures import NewContext
from tests.browser.helpers import layout_problems, sign_in
from tests.intake.conftest import jpeg_bytes

pytestmark = pytest.mark.browser


def test_patient_submits_a_dermatology_visit_on_a_phone(
    live_server_url: str,
    new_context: NewContext,
    alice: User,
    dr_tex: User,
    dr_ny: User,
    lines: dict[str, ServiceLine],
    tmp_path: Path,
    screenshot_dir: Path,
) -> None:
    context = new_context()
    sign_in(context, live_server_url, alice)
    page = context.new_page()
    problems: list[str] = []

    page.goto(f"{live_server_url}/patient/visits/")
    page.get_by_role("link", name="Start an online visit").click()
    page.get_by_label("Skin, hair and nails").check()
    problems += layout_problems(page)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_label("Which state are you in right now?")).to_have_value("TX")
    page.get_by_role("button", name="Confirm and continue").click()

    # Conditional question: hidden until "fever" is yes.
    temperature = page.get_by_label("Highest temperature you measured (°F)")
    expect(temperature).to_be_hidden()
    page.get_by_label("Describe the skin problem").fill("Itchy red patches on both elbows")
    page.get_by_role("group", name="Do you have a fever?").get_by_label("Yes").check()
    expect(temperature).to_be_visible()
    temperature.fill("100.4")
    expect(page.locator("[data-autosave-status]")).to_contain_text("Draft saved")
    problems += layout_problems(page)
    page.screenshot(path=screenshot_dir / "intake-questions.png", full_page=True)

    # A reload loses nothing: the draft is on the server.
    page.reload()
    expect(page.get_by_label("Describe the skin problem")).to_have_value(
        "Itchy red patches on both elbows"
    )
    expect(temperature).to_have_value("100.4")
    page.get_by_role("group", name="Where on your body is it?").get_by_label(
        "Arms or hands"
    ).check()
    page.get_by_role("group", name="How long has this been going on?").get_by_label(
        "1 to 4 weeks"
    ).check()
    page.get_by_role("group", name="Is it spreading quickly (over hours)?").get_by_label(
        "No"
    ).check()
    page.get_by_role(
        "group", name="Any trouble breathing, or swelling of your lips, tongue or face?"
    ).get_by_label("No").check()
    page.locator("#continue").click()
    expect(page.locator("#error-summary")).to_have_count(0)
    expect(page).to_have_url(f"{live_server_url}/patient/visits/{Case.objects.get().pk}/photos/")

    # Photos: the phone's camera comes through the file input.
    photo = tmp_path / "rash.jpg"
    photo.write_bytes(jpeg_bytes())
    page.get_by_label("Add a photo").set_input_files(str(photo))
    page.locator("#upload-photos").click()
    expect(page.get_by_role("img", name="Photo 1: rash.jpg")).to_be_visible()
    problems += layout_problems(page)
    page.screenshot(path=screenshot_dir / "intake-photos.png", full_page=True)
    page.get_by_role("link", name="Continue to review").click()
    expect(page.get_by_text("Itchy red patches on both elbows")).to_be_visible()
    problems += layout_problems(page)
    page.get_by_role("button", name="Submit my visit").click()
    expect(page.locator("#case-status")).to_have_text("Submitted")
    problems += layout_problems(page)
    page.screenshot(path=screenshot_dir / "intake-status.png", full_page=True)
    assert problems == []

    case = Case.objects.get(patient=alice)
    assert case.status == CaseStatus.SUBMITTED
    assert case.answers["temperature"] == 100.4

    # The clinician claims it from the queue, lands on the review, and can zoom the photo.
    staff = new_context(viewport={"width": 1280, "height": 900})
    sign_in(staff, live_server_url, dr_tex)
    review = staff.new_page()
    review.goto(f"{live_server_url}/staff/queue/")
    row = review.locator(f"tr[data-item-id='{case.work_item_id}']")
    row.get_by_role("button", name="Claim").click()
    expect(review).to_have_url(f"{live_server_url}/staff/cases/{case.pk}/review/")
    expect(review.locator("#case-status")).to_have_text("In review")
    review.screenshot(path=screenshot_dir / "intake-review.png", full_page=True)
    review.locator("section[aria-labelledby=answers-heading] a[data-zoom]").first.click()
    dialog = review.locator("dialog.zoom")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Zoom").click()
    expect(dialog.locator("img.zoomed")).to_be_visible()
    review.screenshot(path=screenshot_dir / "intake-zoom.png")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    # The photo the clinician downloads was re-encoded: no EXIF, so no GPS position.
    photo_href = review.locator("section[aria-labelledby=answers-heading] a[data-zoom]").first
    download = review.request.get(live_server_url + str(photo_href.get_attribute("href")))
    assert download.status == 200
    assert download.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(download.body())) as downloaded:
        assert downloaded.getexif().get_ifd(0x8825) == {}
        assert not downloaded.getexif()

    # The clinician answers: the SOAP note is signed and the patient reads the answer.
    review.get_by_label("Message to the patient").fill(
        "This looks like eczema. Use the cream twice a day for two weeks."
    )
    review.get_by_label("Assessment").fill("Atopic dermatitis, both elbows.")
    review.get_by_label("Plan").fill("Emollient twice daily; message us if not better.")
    review.locator("#send-answer").click()
    expect(review.locator("#case-status")).to_have_text("Answered")
    page.goto(f"{live_server_url}/patient/visits/{case.pk}/")
    expect(page.locator("#case-status")).to_have_text("Answered")
    expect(page.locator("[data-answer-message]")).to_contain_text("This looks like eczema")


def test_a_new_york_clinician_never_sees_the_texas_case(
    live_server_url: str,
    new_context: NewContext,
    alice: User,
    dr_tex: User,
    dr_ny: User,
    lines: dict[str, ServiceLine],
) -> None:
    from carepath.intake.actions import do_save_draft, do_start_case, do_submit_case
    from tests.intake.conftest import derm_answers, upload_photo

    def submit() -> Case:
        case = do_start_case(alice, lines["dermatology"], state="TX")
        case = do_save_draft(alice, case, derm_answers([upload_photo(alice)]))
        return do_submit_case(alice, case)

    # Off Playwright's thread: publishing on commit must not meet its running event loop.
    with ThreadPoolExecutor(max_workers=1) as worker:
        case = worker.submit(submit).result()
    staff = new_context(viewport={"width": 1280, "height": 900})
    sign_in(staff, live_server_url, dr_ny)
    queue = staff.new_page()
    queue.goto(f"{live_server_url}/staff/queue/")
    expect(queue.locator("h1")).to_be_visible()
    expect(queue.locator(f"tr[data-item-id='{case.work_item_id}']")).to_have_count(0)
    refused = queue.goto(f"{live_server_url}/staff/cases/{case.pk}/review/")
    assert refused is not None
    assert refused.status == 404
