"""Care paths in a real browser: the patient answers the 14-day check-in (field errors, then
sent), a CHECK_IN item is on the queue, and the coordinator's view reads well on a phone."""

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection, transaction
from playwright.sync_api import expect

from carepath.accounts.models import User
from carepath.care.events import emit_episode_event
from carepath.care.models import Episode
from carepath.carepaths.models import CheckIn
from carepath.carepaths.seed import seed_care_paths
from carepath.carepaths.tasks import deliver_due_check_ins
from carepath.core import clock
from carepath.workqueue.models import WorkItem, WorkItemKind
from tests.browser.fixtures import NewContext
from tests.browser.helpers import assert_reads_well, sign_in
from tests.carepaths.conftest import open_episode

pytestmark = pytest.mark.browser


def in_thread[T](fn: Callable[[], T]) -> T:
    """Playwright runs an event loop in this thread; actions that publish on commit
    (notifications) run in a worker thread, as a request would."""

    def run() -> T:
        try:
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def reach_the_check_in(episode: Episode, clinician: User) -> int:
    for name in ("case.submitted", "case.escalated", "note.signed", "prescription.signed"):
        with transaction.atomic():  # real commits: the engine hears each on commit
            emit_episode_event(episode.pk, name, actor_id=clinician.pk)
    clock.advance(dt.timedelta(days=14))
    return deliver_due_check_ins()


def test_patient_answers_the_check_in_and_coordinator_sees_the_path(
    live_server_url: str,
    new_context: NewContext,
    screenshot_dir: Path,
    alice: User,
    dr_tex: User,
    cody: User,
) -> None:
    seed_care_paths()
    episode = open_episode(alice, "dermatology", dr_tex)
    assert in_thread(lambda: reach_the_check_in(episode, dr_tex)) == 1
    check_in = CheckIn.objects.get(episode=episode)

    patient = new_context()
    sign_in(patient, live_server_url, alice)
    page = patient.new_page()
    page.goto(f"{live_server_url}/care-paths/check-ins/")
    page.get_by_role("link", name="Dermatology check-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dermatology check-in")
    page.get_by_label("Worse").check()
    page.locator("#send-check-in").click()
    expect(page.locator("#error-summary")).to_contain_text("Please check")
    expect(page.get_by_label("Worse")).to_be_checked()  # what was chosen is kept
    page.get_by_label("Yes", exact=True).first.check()
    page.locator('fieldset[data-link-id="side-effects"]').get_by_label("No").check()
    page.locator('fieldset[data-link-id="spreading"]').get_by_label("Yes").check()
    assert_reads_well(page, screenshot_dir, "check-in-form")
    page.locator("#send-check-in").click()
    expect(page.locator("#check-in-status")).to_contain_text("a clinician will read your answers")
    item = WorkItem.objects.get(kind=WorkItemKind.CHECK_IN, subject_id=str(check_in.pk))
    assert item.reassigned_to_id == dr_tex.pk

    coordinator = new_context()
    sign_in(coordinator, live_server_url, cody)
    overview = coordinator.new_page()
    overview.goto(f"{live_server_url}/care-paths/")
    expect(overview.locator(f'tr[data-episode-id="{episode.pk}"]')).to_contain_text(
        "Check-in review"
    )
    assert_reads_well(overview, screenshot_dir, "care-paths-overview")
    overview.locator(f'tr[data-episode-id="{episode.pk}"] a').first.click()
    expect(overview.locator("#transitions")).to_contain_text("checkin.answered")
    assert_reads_well(overview, screenshot_dir, "care-path-episode")
