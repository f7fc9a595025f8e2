"""The browser-test machinery itself: the live server speaks HTTP and WebSockets, the guard
sees CSP violations and uncaught errors, and the TOTP helper agrees with allauth."""

import time

import pytest
from allauth.mfa.totp.internal.auth import generate_totp_secret, validate_totp_code
from playwright.sync_api import expect

from carepath.accounts.models import User
from tests.browser.fixtures import NewContext
from tests.browser.helpers import PageProblems, seconds_left_in_period, sign_in, totp_code

pytestmark = pytest.mark.browser

OPEN_SOCKET_JS = """(url) => new Promise((resolve) => {
  const socket = new WebSocket(url);
  socket.addEventListener("open", () => { socket.close(); resolve("open"); });
  socket.addEventListener("close", (event) => resolve(`closed ${event.code}`));
})"""


def test_live_server_serves_pages_static_files_and_websockets(
    live_server_url: str, new_context: NewContext, alice: User
) -> None:
    context = new_context()
    sign_in(context, live_server_url, alice)
    page = context.new_page()
    response = page.goto(f"{live_server_url}/patient/")
    assert response is not None
    assert response.status == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    css = page.request.get(f"{live_server_url}/static/css/carepath.css")
    assert css.ok
    ws_url = live_server_url.replace("http://", "ws://") + "/ws/notifications/"
    assert page.evaluate(OPEN_SOCKET_JS, ws_url) == "open"

    anonymous = new_context().new_page()
    anonymous.goto(f"{live_server_url}/")
    assert anonymous.evaluate(OPEN_SOCKET_JS, ws_url).startswith("closed")


def test_guard_sees_csp_violations_and_uncaught_errors(
    live_server_url: str, new_context: NewContext, page_problems: PageProblems, clinic: None
) -> None:
    page = new_context().new_page()
    page.goto(f"{live_server_url}/")
    assert page_problems.problems() == []

    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color:red\">x</p>')")
    page.evaluate("setTimeout(() => { throw new Error('boom from the test'); }, 0)")
    expect(page.locator("p[style]")).to_have_count(1)
    deadline = time.monotonic() + 5
    while len(page_problems.problems()) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert any("style" in line for line in page_problems.csp_violations())
    assert any("boom from the test" in error for error in page_problems.errors)
    # Seen, as they should be; clear them so this test itself passes.
    page_problems.console.clear()
    page_problems.errors.clear()


def test_totp_helper_agrees_with_allauth() -> None:
    secret = generate_totp_secret()
    if seconds_left_in_period() < 1:
        time.sleep(1.1)
    assert validate_totp_code(secret, totp_code(secret))
    assert not validate_totp_code(secret, totp_code(secret, at=time.time() + 60))
