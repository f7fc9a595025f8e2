"""Staff sign in with a password and a TOTP code; invited staff must set up TOTP before they
see any patient information."""

import re
from pathlib import Path

import pytest
from allauth.mfa.models import Authenticator
from django.core import mail
from playwright.sync_api import Page, expect

from carepath.accounts.actions import do_invite_staff
from carepath.accounts.models import Role, User
from carepath.audit.models import AuditEvent, Outcome
from tests.browser.fixtures import NewContext
from tests.browser.helpers import assert_reads_well, fresh_totp_code, totp_code, totp_secret_of
from tests.personas import PASSWORD

pytestmark = pytest.mark.browser


def sign_in_with_password(page: Page, base_url: str, email: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_clinician_signs_in_with_totp_after_a_wrong_code(
    live_server_url: str, new_context: NewContext, screenshot_dir: Path, dr_tex: User
) -> None:
    page = new_context().new_page()
    sign_in_with_password(page, live_server_url, dr_tex.email, PASSWORD)
    expect(page).to_have_url(f"{live_server_url}/accounts/2fa/authenticate/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor authentication")

    secret = totp_secret_of(dr_tex)
    wrong = "000000" if totp_code(secret) != "000000" else "111111"
    page.get_by_label("Code").fill(wrong)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server_url}/accounts/2fa/authenticate/")
    expect(page.locator(".field.has-error .field-error")).to_have_text("Incorrect code.")
    assert_reads_well(page, screenshot_dir, "mfa-authenticate-wrong-code")
    assert AuditEvent.objects.filter(action="auth.mfa", outcome=Outcome.DENIED).exists()
    # Still not signed in: the staff home sends the browser back to the unfinished sign-in.
    page.goto(f"{live_server_url}/staff/")
    expect(page).to_have_url(f"{live_server_url}/accounts/2fa/authenticate/")

    page.get_by_label("Code").fill(fresh_totp_code(secret))
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server_url}/staff/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinician home")
    expect(page.get_by_text("Licensed today in")).to_contain_text("TX")
    # The session passed MFA: patient pages open.
    page.goto(f"{live_server_url}/staff/patients/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your patients")


def test_invited_staff_sets_password_then_must_activate_totp(
    live_server_url: str, new_context: NewContext, screenshot_dir: Path, ada: User
) -> None:
    do_invite_staff(ada, "nia.nurse@example.com", Role.TELEFACILITATOR, base_url=live_server_url)
    assert len(mail.outbox) == 1
    links = re.findall(
        rf"{re.escape(live_server_url)}/accounts/invitation/[^\s/]+/", str(mail.outbox[0].body)
    )
    assert len(links) == 1

    page = new_context().new_page()
    page.goto(links[0])
    expect(page.get_by_role("heading", level=1)).to_have_text("Join Carepath")
    assert_reads_well(page, screenshot_dir, "invitation")
    page.get_by_label("First name").fill("Nia")
    page.get_by_label("Last name").fill("Nurse")
    page.get_by_label("Password", exact=True).fill("granite-lantern-orbit-77")
    page.get_by_label("Password again").fill("granite-lantern-orbit-77")
    page.get_by_role("button", name="Create my account").click()

    expect(page).to_have_url(f"{live_server_url}/accounts/login/")
    expect(page.get_by_role("status")).to_contain_text("Your account is ready")
    sign_in_with_password(
        page, live_server_url, "nia.nurse@example.com", "granite-lantern-orbit-77"
    )

    # No second factor yet: every staff page leads to setting it up, which (allauth's rule)
    # first asks for the password again.
    activate = f"{live_server_url}/accounts/2fa/totp/activate/"
    reauthenticate = (
        f"{live_server_url}/accounts/reauthenticate/?next=%2Faccounts%2F2fa%2Ftotp%2Factivate%2F"
    )
    expect(page).to_have_url(reauthenticate)
    page.goto(f"{live_server_url}/staff/patients/")
    expect(page).to_have_url(reauthenticate)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    assert_reads_well(page, screenshot_dir, "reauthenticate")
    page.get_by_label("Password").fill("granite-lantern-orbit-77")
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(activate)
    for blocked in ("/staff/", "/staff/patients/", "/home/"):
        page.goto(f"{live_server_url}{blocked}")
        expect(page).to_have_url(activate)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor authentication")
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    assert_reads_well(page, screenshot_dir, "totp-activate")

    secret = page.get_by_label("Secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    page.get_by_label("Authenticator code").fill(fresh_totp_code(secret))
    page.get_by_role("button", name="Activate").click()

    expect(page).to_have_url(f"{live_server_url}/accounts/2fa/recovery-codes/")
    expect(page.get_by_label("Unused codes")).not_to_be_empty()
    assert_reads_well(page, screenshot_dir, "recovery-codes")
    page.get_by_role("link", name="Continue").click()
    expect(page).to_have_url(f"{live_server_url}/staff/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Telefacilitator home")
    page.goto(f"{live_server_url}/staff/patients/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your patients")

    nia = User.objects.get(email="nia.nurse@example.com")
    assert nia.role == Role.TELEFACILITATOR
    assert Authenticator.objects.filter(user=nia, type=Authenticator.Type.TOTP).exists()
