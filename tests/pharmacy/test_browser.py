"""The pharmacy pages in Debian's Chromium on a phone-sized screen: a patient searches and
chooses a pharmacy; an admin's form shows the webhook fields only for the webhook adapter
(static/js/pharmacy/admin_form.js); nothing the CSP refuses, no layout problems."""

from pathlib import Path

import pytest

from carepath.accounts.models import User
from carepath.pharmacy.models import Pharmacy
from carepath.pharmacy.selectors import preferred_pharmacy_of
from tests.browser.fixtures import NewContext
from tests.browser.helpers import PageProblems, assert_reads_well, sign_in

pytestmark = pytest.mark.browser


def test_patient_chooses_a_pharmacy_and_admin_edits_one(
    live_server_url: str,
    new_context: NewContext,
    page_problems: PageProblems,
    screenshot_dir: Path,
    pharmacies: dict[str, Pharmacy],
    alice: User,
    ada: User,
) -> None:
    patient = new_context()
    sign_in(patient, live_server_url, alice)
    page = patient.new_page()
    page.goto(f"{live_server_url}/pharmacy/")
    page.get_by_label("City").fill("Austin")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name="Choose Pecan Street Apothecary, Austin").click()
    page.get_by_text("Your preferred pharmacy is now Pecan Street Apothecary").wait_for()
    assert "city=Austin" in page.url
    assert_reads_well(page, screenshot_dir, "pharmacy-patient-phone")
    assert preferred_pharmacy_of(alice) == pharmacies["4400134"]

    admin = new_context()
    sign_in(admin, live_server_url, ada)
    page = admin.new_page()
    page.goto(f"{live_server_url}/pharmacy/admin/{pharmacies['4400118'].pk}/")
    url_field = page.get_by_label("Webhook URL")
    assert not url_field.is_visible()
    page.get_by_label("Signed webhook").check()
    assert url_field.is_visible()
    url_field.fill("https://10.0.0.1/hook")
    page.get_by_label("Webhook signing secret").fill("s" * 32)
    page.get_by_role("button", name="Save").click()
    page.locator(".field-error").get_by_text("Refused 10.0.0.1: a private address.").wait_for()
    summary = page.locator(".error-summary").get_by_role("link")
    assert summary.inner_text() == "Webhook URL: Refused 10.0.0.1: a private address."
    assert page.get_by_label("Webhook signing secret").input_value() == ""  # never sent back
    assert_reads_well(page, screenshot_dir, "pharmacy-admin-form-phone")
    page_problems.assert_clean()
