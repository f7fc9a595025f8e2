"""A patient who forgot the password resets it through the e-mailed link, on a phone."""

import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import expect

from carepath.accounts.models import User
from tests.browser.fixtures import NewContext
from tests.browser.helpers import assert_reads_well

pytestmark = pytest.mark.browser

NEW_PASSWORD = "copper-meadow-lantern-58"


def test_patient_resets_password_by_email_link(
    live_server_url: str, new_context: NewContext, screenshot_dir: Path, alice: User
) -> None:
    page = new_context().new_page()
    page.goto(f"{live_server_url}/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")
    page.get_by_label("Email").fill(alice.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")

    assert len(mail.outbox) == 1
    body = str(mail.outbox[0].body)
    for health_information in ("Jan", "1990", "Texas", "consent"):
        assert health_information not in body
    links = re.findall(rf"{re.escape(live_server_url)}/accounts/password/reset/key/\S+", body)
    assert len(links) == 1, body

    page.goto(links[0])
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    page.get_by_label("New Password", exact=True).fill("short")
    page.get_by_label("New Password (again)").fill("short")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.locator(".field.has-error .field-error").first).to_contain_text("too short")
    assert_reads_well(page, screenshot_dir, "password-reset-from-key-error")

    page.get_by_label("New Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New Password (again)").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Password changed")

    page.get_by_role("link", name="Sign in").last.click()
    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server_url}/patient/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")

    # Sign out from the header; the care pages are closed again.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server_url}/")
    page.goto(f"{live_server_url}/patient/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/patient/$"))
