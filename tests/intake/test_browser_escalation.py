"""Escalation to a video visit now, in Chromium: the clinician starts it from the case review
page and lands in the room with the intake panel (the photo decoded as an image); the patient
follows "Join your visit" to the waiting room, is admitted, and both are connected."""

import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from carepath.accounts.models import User
from carepath.care.models import ClinicalNote
from carepath.intake.models import ServiceLine
from carepath.visits.models import Visit
from carepath.workqueue.actions import do_claim
from tests.browser.fixtures import NewContext
from tests.browser.helpers import layout_problems, sign_in
from tests.intake.test_review import derm_case
from tests.visits.test_browser_visit import WAIT_MS, in_thread, wait_for_media

pytestmark = pytest.mark.browser


def test_clinician_escalates_to_a_video_visit_now_and_sees_the_intake(
    live_server_url: str,
    new_context: NewContext,
    alice: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
) -> None:
    base = live_server_url
    case = in_thread(derm_case, alice, lines)
    in_thread(do_claim, dr_tex, case.work_item_id or 0)

    dr_tex.time_zone = "America/Chicago"
    in_thread(dr_tex.save, update_fields=["time_zone"])
    doctor_context = new_context(viewport={"width": 1280, "height": 900}, timezone_id="Asia/Tokyo")
    sign_in(doctor_context, base, dr_tex)
    doctor = doctor_context.new_page()
    doctor.goto(f"{base}/staff/cases/{case.pk}/review/")
    doctor.get_by_role("link", name="Escalate to a live visit").click()
    doctor.get_by_label("Reason for the live visit").fill("I need to see the rash move.")
    doctor.get_by_role("button", name="Start video visit now").click()
    visit = in_thread(lambda: Visit.objects.get(patient=alice))
    expect(doctor).to_have_url(f"{base}/visits/{visit.pk}/")
    panel = doctor.locator("#intake-panel")
    expect(panel.get_by_role("heading", name="Intake")).to_be_visible()
    expect(panel).to_contain_text("Itchy red patches")
    photo = panel.locator("img").first
    expect(photo).to_be_visible()
    assert doctor.evaluate("(img) => img.naturalWidth > 0", photo.element_handle())
    doctor.get_by_role("button", name="Join visit").click()

    patient_context = new_context()
    sign_in(patient_context, base, alice)
    patient = patient_context.new_page()
    patient.goto(f"{base}/patient/visits/{case.pk}/")
    patient.get_by_role("link", name="Join your visit").click()
    expect(patient).to_have_url(f"{base}/visits/{visit.pk}/wait/")
    patient.get_by_role("button", name="Check in").click()
    admit = doctor.get_by_role("button", name=f"Admit {alice.display_name}")
    expect(admit).to_be_visible(timeout=WAIT_MS)
    admit.click()
    expect(patient).to_have_url(f"{base}/visits/{visit.pk}/", timeout=WAIT_MS)
    expect(patient.locator("#intake-panel")).to_have_count(0)
    wait_for_media(patient)
    wait_for_media(doctor)

    # The note is written (autosaved) and signed from the room.
    doctor.get_by_label("Assessment").fill("Nummular eczema.")
    doctor.get_by_label("Plan").fill("Triamcinolone 0.1% twice daily.")
    expect(doctor.locator("#note-status")).to_contain_text("Draft saved", timeout=WAIT_MS)
    doctor.get_by_role("button", name="Sign note").click()
    expect(doctor.locator("#note-status")).to_contain_text("Signed", timeout=WAIT_MS)

    # Signed: read-only, no draft or sign buttons, the time in the clinician's own zone
    # (America/Chicago), not the browser's (Asia/Tokyo); amendments only.
    expect(doctor.locator("#note-save")).to_be_hidden()
    expect(doctor.locator("#note-sign")).to_be_hidden()
    expect(doctor.get_by_label("Plan")).to_have_attribute("readonly", "")
    signed_at = in_thread(
        lambda: ClinicalNote.objects.get(encounter__visit=visit, status="signed").signed_at
    )
    assert signed_at is not None
    local = signed_at.astimezone(ZoneInfo("America/Chicago"))
    expect(doctor.locator("#note-status")).to_contain_text(
        f"Signed at {local.hour % 12 or 12}:{local:%M %p} {local.tzname()}"
    )
    doctor.get_by_label("Add an amendment").fill("Recheck in two weeks.")
    doctor.get_by_role("button", name="Add amendment").click()
    expect(doctor.locator("#note-amendments")).to_contain_text("Recheck in two weeks.")
    doctor.set_viewport_size({"width": 390, "height": 844})
    problems = layout_problems(doctor)
    doctor.reload()  # the server shows the signed note the same way
    expect(doctor.locator("#note-status")).to_contain_text(
        f"Signed at {local.hour % 12 or 12}:{local:%M %p} {local.tzname()}"
    )
    expect(doctor.locator("#note-sign")).to_be_hidden()
    expect(doctor.locator("#note-amendments")).to_contain_text("Recheck in two weeks.")

    # The visit ends: the patient's way on is the episode and the after-visit summary.
    doctor.get_by_role("button", name="End visit").click()
    expect(patient.locator("#call-status")).to_have_text("The visit has ended.", timeout=WAIT_MS)
    patient.reload()
    expect(patient.locator("#visit-ended")).to_have_text(
        re.compile(r"The visit lasted (under a minute|1 minute|\d+ minutes)\.")
    )
    expect(patient.get_by_role("link", name="Your after-visit summary")).to_be_visible()
    expect(patient.get_by_role("link", name="Your care for this concern")).to_have_attribute(
        "href", f"/episodes/{case.episode_id}/"
    )
    problems += layout_problems(patient)
    assert problems == []
