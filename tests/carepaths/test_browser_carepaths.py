"""Care paths in a real browser on a phone (390x844): the patient reads where they are (the
current step highlighted, a way back to the episode) and answers the 14-day check-in (field
errors, then sent), a CHECK_IN item is on the queue, the coordinator's pages link onward,
and the admin's definition page is a stack of step cards, not a squeezed table."""

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection, transaction
from playwright.sync_api import Locator, expect

from carepath.accounts.models import User
from carepath.care.events import emit_episode_event
from carepath.care.models import Episode
from carepath.carepaths.models import CheckIn
from carepath.carepaths.seed import seed_care_paths
from carepath.carepaths.tasks import deliver_due_check_ins
from carepath.core import clock
from carepath.workqueue.models import WorkItem, WorkItemKind
from tests.browser.fixtures import NewContext
from tests.browser.helpers import assert_reads_well, layout_problems, sign_in
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
    # The server's first request loads the URL configuration: seconds on a busy machine.
    page.goto(f"{live_server_url}/care-paths/episodes/{episode.pk}/", timeout=30_000)
    expect(page.locator("#path-words")).to_have_text(
        "Your care team would like to know how you are doing."
    )
    expect(page.locator(".care-path-check-in")).to_contain_text("We sent you a short check-in")
    expect(page.locator("main")).not_to_contain_text("We will send")
    current = page.locator('.care-path-steps li[aria-current="step"]')
    expect(current).to_contain_text("Check-in")
    expect(current.locator(".current-tag")).to_have_text("you are here")
    assert highlight_of(current) != highlight_of(page.locator(".care-path-steps li").first)
    assert_reads_well(page, screenshot_dir, "care-path-patient")
    page.locator("#back-to-episode").click()
    expect(page).to_have_url(f"{live_server_url}/episodes/{episode.pk}/")
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
    expect(overview.locator(".care-path-check-in")).to_contain_text("waiting for a clinician")
    expect(overview.locator(".care-path-check-in a")).to_have_count(0)  # reviews: clinicians
    assert_reads_well(overview, screenshot_dir, "care-path-episode")
    overview.locator("#back-to-overview").click()
    expect(overview).to_have_url(f"{live_server_url}/care-paths/")


def highlight_of(item: Locator) -> tuple[str, str]:
    styles: list[str] = item.evaluate(
        "(el) => [getComputedStyle(el).backgroundColor, getComputedStyle(el).borderLeftColor]"
    )
    return styles[0], styles[1]


def test_definition_page_is_step_cards_on_a_phone(
    live_server_url: str, new_context: NewContext, screenshot_dir: Path, ada: User
) -> None:
    seed_care_paths()
    admin = new_context()
    sign_in(admin, live_server_url, ada)
    page = admin.new_page()
    page.goto(f"{live_server_url}/care-paths/definitions/dermatology/", timeout=30_000)
    cards = page.locator("#definition-steps > li.step-card")
    expect(cards).to_have_count(6)
    waiting = page.locator('li[data-step="waiting_for_patient"] dl.step-facts')
    expect(waiting).to_contain_text("Your reply")
    expect(page.locator("table")).to_have_count(0)
    # Labels read as words, not a letter per line: each dt is one line tall.
    heights: list[float] = page.locator("dl.step-facts dt").evaluate_all(
        "(dts) => dts.map((dt) => dt.getBoundingClientRect().height)"
    )
    assert max(heights) < 40, heights
    height: int = page.evaluate("document.scrollingElement.scrollHeight")
    assert height < 4500, f"the page is {height}px tall"
    assert_reads_well(page, screenshot_dir, "care-path-definition")
    page.locator("#definition-editor summary").click()
    expect(page.get_by_label("Care path (JSON)")).to_be_visible()
    assert layout_problems(page) == []
