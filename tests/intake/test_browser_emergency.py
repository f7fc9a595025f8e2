"""An emergency red flag in Chromium on a phone: the questions page says "call 911" the moment
the emergency answer is given (and takes it back when it is changed); after submit the
patient reads what to do and what happens next; the clinician who claims the case offers
a live visit from the review page, and the patient is asked to book it."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from carepath.accounts.models import User
from carepath.intake.actions import do_start_case
from carepath.intake.models import Case, ServiceLine
from carepath.workqueue.actions import do_claim
from tests.browser.fixtures import NewContext
from tests.browser.helpers import layout_problems, sign_in
from tests.intake.test_review import derm_case
from tests.visits.test_browser_visit import in_thread

pytestmark = pytest.mark.browser

BREATHING = "Any trouble breathing, or swelling of your lips, tongue or face?"


def test_questions_page_says_call_911_as_soon_as_the_answer_is_given(
    live_server_url: str,
    new_context: NewContext,
    alice: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    screenshot_dir: Path,
) -> None:
    case: Case = in_thread(do_start_case, alice, lines["dermatology"], "TX")
    context = new_context()
    sign_in(context, live_server_url, alice)
    page = context.new_page()
    page.goto(f"{live_server_url}/patient/visits/{case.pk}/questions/")
    banner = page.locator("[data-emergency-banner]")
    expect(banner).to_be_hidden()

    question = page.get_by_role("group", name=BREATHING)
    question.get_by_label("Yes").check()
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Go to emergency care or call 911 now.")
    expect(banner).to_contain_text("Trouble breathing or swelling of the lips")
    # It appears right after the question, where the patient is looking.
    assert (
        page.evaluate(
            "() => document.getElementById('emergency-advice').previousElementSibling"
            ".dataset.linkId"
        )
        == "breathing"
    )
    expect(page.locator("#emergency-advice")).to_have_attribute("role", "alert")
    page.screenshot(path=screenshot_dir / "intake-emergency-questions.png", full_page=True)
    problems = layout_problems(page)

    question.get_by_label("No").check()
    expect(banner).to_be_hidden()
    question.get_by_label("Yes").check()
    expect(banner).to_be_visible()
    expect(page.locator("[data-autosave-status]")).to_contain_text("Draft saved")
    page.reload()  # the saved answer keeps the advice on screen, from the server
    expect(banner).to_be_visible()
    assert problems == []


def test_emergency_case_from_the_patients_advice_to_a_live_visit_offer(
    live_server_url: str,
    new_context: NewContext,
    alice: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    screenshot_dir: Path,
) -> None:
    base = live_server_url
    case: Case = in_thread(derm_case, alice, lines, breathing=True)
    patient_context = new_context()
    sign_in(patient_context, base, alice)
    patient = patient_context.new_page()
    patient.goto(f"{base}/patient/visits/{case.pk}/")
    expect(patient.locator("#emergency")).to_contain_text("call 911 now")
    expect(patient.locator("#emergency-next")).to_contain_text("A clinician has been alerted")
    problems = layout_problems(patient)
    patient.screenshot(path=screenshot_dir / "intake-emergency-status.png", full_page=True)

    in_thread(do_claim, dr_tex, case.work_item_id or 0)
    doctor_context = new_context()  # the clinician on a phone too
    sign_in(doctor_context, base, dr_tex)
    doctor = doctor_context.new_page()
    doctor.goto(f"{base}/staff/cases/{case.pk}/review/")
    expect(doctor.locator("#emergency")).to_contain_text("Follow up with the patient now")
    doctor.get_by_role("link", name="Escalate to a live visit").click()
    doctor.get_by_label("Reason for the live visit").fill("Check the airway on video.")
    problems += layout_problems(doctor)
    # The closing reason's label names its own box.
    doctor.get_by_label("Reason for closing").fill("typed here")
    expect(doctor.locator("#id_close-reason")).to_have_value("typed here")
    expect(doctor.locator("#id_escalate-reason")).to_have_value("Check the airway on video.")
    doctor.get_by_role("button", name="Offer scheduled times").click()
    expect(doctor.locator("#standing")).to_contain_text(
        "You offered scheduled times; the patient will book."
    )
    problems += layout_problems(doctor)
    doctor.screenshot(path=screenshot_dir / "intake-emergency-review.png", full_page=True)

    patient.reload()
    expect(patient.get_by_role("link", name="Book your visit")).to_be_visible()
    problems += layout_problems(patient)
    assert problems == []
