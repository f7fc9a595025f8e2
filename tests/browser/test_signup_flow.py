"""A patient signs up on a phone: details, e-mail verification, consent, home."""

import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from carepath.accounts.models import PatientProfile, Role, User
from carepath.consent.models import ConsentAcceptance
from tests.browser.fixtures import NewContext
from tests.browser.helpers import assert_reads_well

pytestmark = pytest.mark.browser

GOOD_PASSWORD = "violet-harbor-tangent-42"
DETAILS = {
    "first_name": "Marisol",
    "last_name": "Quintero",
    "date_of_birth": "1987-04-23",
    "phone": "+1 512 555 0142",
}


def fill_signup(page: Page, email: str, password: str, password_again: str | None = None) -> None:
    page.get_by_label("First name").fill(DETAILS["first_name"])
    page.get_by_label("Last name").fill(DETAILS["last_name"])
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password (again)").fill(password_again or password)
    page.get_by_label("Date of birth").fill(DETAILS["date_of_birth"])
    page.get_by_label("Phone").fill(DETAILS["phone"])
    page.get_by_label("State you live in").select_option("TX")
    page.get_by_label("Preferred language").select_option("es")
    page.get_by_label("Time zone").select_option("America/Chicago")


def test_patient_signs_up_verifies_email_and_consents(
    live_server_url: str, new_context: NewContext, screenshot_dir: Path, clinic: None
) -> None:
    page = new_context().new_page()
    page.goto(f"{live_server_url}/")
    page.get_by_role("link", name="Create a patient account").click()
    expect(page).to_have_url(f"{live_server_url}/accounts/signup/")

    fill_signup(page, "marisol@example.com", GOOD_PASSWORD)
    assert_reads_well(page, screenshot_dir, "signup-filled")
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    assert_reads_well(page, screenshot_dir, "verification-sent")

    user = User.objects.get(email="marisol@example.com")
    assert user.role == Role.PATIENT
    assert user.time_zone == "America/Chicago"
    profile = PatientProfile.objects.get(user=user)
    assert (str(profile.date_of_birth), profile.state, profile.preferred_language) == (
        "1987-04-23",
        "TX",
        "es",
    )

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["marisol@example.com"]
    body = str(message.body)
    for health_information in ("1987", "Apr", "555", "Texas", "TX", "Spanish", "consent"):
        assert health_information not in body, f"{health_information!r} in the e-mail"
    links = re.findall(rf"{re.escape(live_server_url)}/accounts/confirm-email/[^\s]+", body)
    assert len(links) == 1, body

    page.goto(links[0])
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your e-mail address")
    assert_reads_well(page, screenshot_dir, "email-confirm")
    page.get_by_role("button", name="Confirm").click()

    # Signed in, and sent to consent before any care page.
    expect(page).to_have_url(re.compile(r"/patient/consent/\?next=%2Fpatient%2F$"))
    checkboxes = page.get_by_role("checkbox")
    assert checkboxes.count() == 2
    assert_reads_well(page, screenshot_dir, "consent-after-signup")
    for index in range(checkboxes.count()):
        checkboxes.nth(index).check()
    page.get_by_role("button", name="Accept and continue").click()

    expect(page).to_have_url(f"{live_server_url}/patient/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Marisol")
    expect(page.get_by_role("status")).to_contain_text("consent is recorded")
    assert ConsentAcceptance.objects.filter(patient=user, revoked_at__isnull=True).count() == 2
    assert page.get_by_text("Marisol").first.is_visible()


def test_signup_refuses_bad_input_beside_the_field(
    live_server_url: str, new_context: NewContext, screenshot_dir: Path, clinic: None
) -> None:
    page = new_context().new_page()
    page.goto(f"{live_server_url}/accounts/signup/")
    for password, message in [("Short-9x", "too short"), ("password1234", "too common")]:
        fill_signup(page, "weak@example.com", password)
        page.get_by_role("button", name="Create account").click()

        expect(page).to_have_url(f"{live_server_url}/accounts/signup/")
        expect(page.locator(".field.has-error .field-error").first).to_contain_text(message)
        # The error sits with the password field, the summary links to it, and what was
        # typed is kept.
        expect(page.locator(".field.has-error input[name=password1]")).to_have_count(1)
        expect(page.get_by_role("alert").get_by_role("link", name="Password")).to_have_attribute(
            "href", "#id_password1"
        )
        expect(page.get_by_label("First name")).to_have_value(DETAILS["first_name"])
        expect(page.get_by_label("State you live in")).to_have_value("TX")
        assert_reads_well(page, screenshot_dir, f"signup-error-{message.replace(' ', '-')}")

    fill_signup(page, "weak@example.com", GOOD_PASSWORD, GOOD_PASSWORD + "x")
    page.get_by_label("Date of birth").fill("2999-01-01")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".field.has-error")).to_have_count(2)
    # Each message sits beside its field, and the summary at the top repeats it.
    field_errors = page.locator(".field.has-error .field-error")
    expect(field_errors.filter(has_text="cannot be in the future")).to_be_visible()
    expect(field_errors.filter(has_text="same password each time")).to_be_visible()
    expect(page.get_by_role("alert").first).to_contain_text("cannot be in the future")

    assert not User.objects.filter(email="weak@example.com").exists()
    assert mail.outbox == []
