"""The monitoring pages in Debian's Chromium: charts drawn as inline SVG with nothing the
CSP refuses, readable on a phone, and the timer's elapsed time ticking (static/js/rpm)."""

import datetime as dt
import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ViewportSize

from carepath.accounts.models import User
from carepath.rpm.actions import IssuedDevice
from carepath.rpm.models import Enrollment
from tests.browser.fixtures import NewContext
from tests.browser.helpers import PageProblems, layout_problems, sign_in
from tests.rpm.conftest import NOW
from tests.rpm.helpers import line

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}


def a_month_of_readings(base_url: str, token: str) -> None:
    """Sent through the live server (the test's own thread runs Playwright's event loop)."""
    lines = []
    for day in range(30):
        for hour, bump in ((7, 0), (19, 6)):
            at = NOW - dt.timedelta(days=day, hours=hour)
            systolic = 128 + (day * 7) % 25 + bump + (40 if day == 3 else 0)
            lines += [
                line("bp_systolic", systolic, "mm[Hg]", at),
                line("bp_diastolic", 80 + (day * 3) % 12, "mm[Hg]", at),
                line("heart_rate", 64 + (day * 5) % 20, "/min", at),
            ]
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    conn.request(
        "POST",
        "/api/v1/rpm/readings/batch",
        body="\n".join(lines).encode(),
        headers={"Authorization": f"Device {token}", "Content-Type": "application/x-ndjson"},
    )
    answer = conn.getresponse()
    assert json.loads(answer.read())["accepted"] == 180
    conn.close()


def test_monitoring_pages_in_a_browser(
    live_server_url: str,
    new_context: NewContext,
    page_problems: PageProblems,
    screenshot_dir: Path,
    cuff: IssuedDevice,
    enrolled_alice: Enrollment,
    alice: User,
    dr_tex: User,
) -> None:
    a_month_of_readings(live_server_url, cuff.token)
    found: list[str] = []

    patient = new_context(viewport=PHONE)
    sign_in(patient, live_server_url, alice)
    page = patient.new_page()
    page.goto(f"{live_server_url}/rpm/")
    assert page.locator("svg.rpm-chart").count() == 3
    assert (page.locator("svg.rpm-chart title").first.text_content() or "").startswith("Systolic")
    page.screenshot(path=str(screenshot_dir / "rpm-patient-phone.png"), full_page=True)
    found += layout_problems(page)

    doctor = new_context(viewport=PHONE)
    sign_in(doctor, live_server_url, dr_tex)
    page = doctor.new_page()
    page.goto(f"{live_server_url}/rpm/staff/patients/{alice.pk}/")
    page.get_by_role("button", name="Start timer").click()
    page.wait_for_selector("[data-rpm-timer]")
    page.wait_for_function(
        "document.querySelector('[data-rpm-elapsed]').textContent.includes('elapsed')"
    )
    page.screenshot(path=str(screenshot_dir / "rpm-clinician-phone.png"), full_page=True)
    found += layout_problems(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(screenshot_dir / "rpm-clinician-desktop.png"), full_page=True)
    page.goto(f"{live_server_url}/rpm/staff/billing/")
    page.set_viewport_size(PHONE)
    found += layout_problems(page)
    found += page_problems.problems()
    assert not found, "\n".join(found)
