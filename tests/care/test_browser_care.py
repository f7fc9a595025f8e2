"""The care pages on a 390x844 phone in Chromium: the patient's home while a clinician is
calling them, "My care", an episode with a booked visit, and the staff patient page. Nothing
scrolls sideways, one <main> and one <h1> each, no CSP violation or uncaught error."""

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from playwright.sync_api import expect

from carepath.accounts.models import User
from carepath.core import clock
from carepath.intake.models import ServiceLine
from tests.browser.fixtures import NewContext
from tests.browser.helpers import layout_problems, sign_in
from tests.care.builders import (
    CHICAGO,
    booked,
    called_now,
    clinician_hours,
    episode_of,
    offered_times,
)
from tests.care.conftest import T0

pytestmark = pytest.mark.browser


def in_worker[T](fn: Callable[..., T], *args: Any) -> T:
    """Django writes off Playwright's thread (its event loop refuses the on-commit publishing),
    closing that thread's database connection after."""

    def run() -> T:
        try:
            return fn(*args)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def build_story(patient: User, clinician: User, line: ServiceLine) -> tuple[int, int]:
    """A visit booked in one episode, and a clinician calling the patient now in another."""
    # As long as the demo clinic's addresses: the staff page once overflowed on these.
    patient.email = "alice.patient@demo.carepath.localhost"
    patient.save(update_fields=["email"])
    clock.freeze(T0)
    try:
        clinician_hours(clinician, line)
        case = offered_times(patient, clinician, line, "Mole on my back changed colour last month")
        booked(patient, clinician, case, dt.datetime(2026, 11, 4, 10, 30, tzinfo=CHICAGO))
        clock.advance(dt.timedelta(hours=1))
        visit = called_now(patient, clinician, line, "Itchy rings on both forearms")
        return visit.pk, episode_of(case).pk
    finally:
        clock.unfreeze()


def test_care_pages_fit_a_phone(
    live_server_url: str,
    new_context: NewContext,
    alice: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    screenshot_dir: Path,
) -> None:
    visit_id, booked_episode_id = in_worker(build_story, alice, dr_tex, lines["dermatology"])
    problems: list[str] = []

    patient = new_context().new_page()
    sign_in(patient.context, live_server_url, alice)
    patient.goto(f"{live_server_url}/patient/")
    expect(patient.locator(f"[data-visit-id='{visit_id}'] a")).to_have_text("Join your visit now")
    expect(patient.locator("#open-episodes li")).to_have_count(2)
    expect(patient.locator("#open-episodes")).to_contain_text("Itchy rings on both forearms")
    problems += layout_problems(patient)
    patient.screenshot(path=screenshot_dir / "care-patient-home.png", full_page=True)

    patient.locator("#my-care-link").click()
    expect(patient.locator("#episode-list li")).to_have_count(2)
    expect(patient.locator("#episode-list")).to_contain_text("Mole on my back")
    problems += layout_problems(patient)
    patient.screenshot(path=screenshot_dir / "care-my-care.png", full_page=True)

    patient.goto(f"{live_server_url}/episodes/{booked_episode_id}/")
    expect(patient.locator("#encounter-list .booked-for")).to_have_text("Wed 4 Nov 2026, 10:30 CST")
    expect(patient.locator("#timeline")).to_contain_text("offered times for a video visit")
    problems += layout_problems(patient)
    patient.screenshot(path=screenshot_dir / "care-episode-booked.png", full_page=True)

    patient.goto(f"{live_server_url}/patient/")
    patient.locator(f"[data-visit-id='{visit_id}'] a").click()
    expect(patient).to_have_url(f"{live_server_url}/visits/{visit_id}/wait/")

    doctor = new_context().new_page()
    sign_in(doctor.context, live_server_url, dr_tex)
    for path in (f"/staff/patients/{alice.pk}/", f"/episodes/patients/{alice.pk}/"):
        doctor.goto(f"{live_server_url}{path}")
        problems += layout_problems(doctor)
    doctor.goto(f"{live_server_url}/staff/patients/{alice.pk}/")
    doctor.screenshot(path=screenshot_dir / "care-staff-patient.png", full_page=True)
    assert not problems, "\n".join(problems)
