"""The thread page in Debian's Chromium on a phone-sized screen: a message sent from the
clinician's page appears live on the patient's page (no reload), the patient's read receipt
reaches the clinician's page, quick replies insert into the compose box, and nothing breaks
the CSP."""

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import expect

from carepath.accounts.models import User
from carepath.messaging.actions import do_create_quick_reply
from tests.browser.fixtures import NewContext
from tests.browser.helpers import layout_problems, sign_in
from tests.messaging.helpers import care_team, patient_thread

pytestmark = pytest.mark.browser


def in_a_thread[T](work: Callable[[], T]) -> T:
    """Playwright's sync API runs an event loop in the test's thread, where publishing on
    commit (async_to_sync) may not run: do such writes from a thread of their own."""
    result: list[T] = []

    def run() -> None:
        try:
            result.append(work())
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=30)
    assert result, "the write failed (see the thread's traceback above)"
    return result[0]


def test_live_message_read_receipt_and_quick_reply(
    live_server_url: str, new_context: NewContext, alice: User, dr_tex: User, tmp_path: Path
) -> None:
    care_team(dr_tex, alice)
    thread = in_a_thread(
        lambda: patient_thread(alice, "Is this normal after the biopsy?", subject="After biopsy")
    )
    do_create_quick_reply(dr_tex, title="Normal", body="That is normal and should settle.")
    url = f"{live_server_url}/messages/{thread.pk}/"

    patient_context = new_context()
    sign_in(patient_context, live_server_url, alice)
    patient = patient_context.new_page()
    patient.goto(url)
    expect(patient.locator("[data-live-status]")).to_contain_text("Live")

    doctor_context = new_context()
    sign_in(doctor_context, live_server_url, dr_tex)
    doctor = doctor_context.new_page()
    doctor.goto(url)
    expect(doctor.locator("[data-live-status]")).to_contain_text("Live")
    # The quick reply goes into the box (no reload), then it is edited and sent.
    doctor.get_by_label("Quick reply").select_option(label="Normal")
    doctor.get_by_role("button", name="Insert into message").click()
    box = doctor.get_by_label("Message")
    expect(box).to_have_value("That is normal and should settle.")
    box.fill("That is normal and should settle within a week.")
    doctor.get_by_role("button", name="Send").click()
    doctor.wait_for_url(f"{url}#m2")
    expect(doctor.locator("[data-live-status]")).to_contain_text("Live")

    # The patient's page shows it live, without a reload.
    live = patient.locator("#m2")
    expect(live).to_contain_text("That is normal and should settle within a week.")
    expect(live).to_contain_text(dr_tex.display_name)
    # The patient's page reported it read: the doctor's page shows the receipt live.
    expect(doctor.locator("#m2 [data-read-by]")).to_have_text(f"Read by {alice.display_name}")

    for name, page in (("patient", patient), ("doctor", doctor)):
        page.screenshot(path=str(tmp_path / f"thread-{name}.png"), full_page=True)
        assert layout_problems(page) == []
