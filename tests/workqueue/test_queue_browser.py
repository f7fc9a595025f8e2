"""The queue page in a real browser: it stays current without a reload (a queue event on
ws/queue/ makes it fetch the list again), and it runs clean under the CSP."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from carepath.accounts.models import User
from tests.browser.fixtures import NewContext
from tests.browser.helpers import assert_reads_well, sign_in
from tests.workqueue.helpers import make_item

pytestmark = pytest.mark.browser


def test_a_claim_elsewhere_updates_my_queue_live(
    live_server_url: str,
    new_context: NewContext,
    screenshot_dir: Path,
    alice: User,
    dr_tex: User,
    dr_tex2: User,
) -> None:
    first = make_item(alice, title="Itchy rash, photos attached")
    second = make_item(alice, title="Mole check")

    mine = new_context()
    sign_in(mine, live_server_url, dr_tex)
    page = mine.new_page()
    with page.expect_websocket(lambda ws: ws.url.endswith("/ws/queue/")):
        page.goto(f"{live_server_url}/staff/queue/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your queue")
    rows = page.locator("[data-queue-list] tbody tr[data-item-id]")
    expect(rows).to_have_count(2)
    assert_reads_well(page, screenshot_dir, "queue-clinician")

    # Another clinician claims the first item in their own browser.
    theirs = new_context()
    sign_in(theirs, live_server_url, dr_tex2)
    other = theirs.new_page()
    other.goto(f"{live_server_url}/staff/queue/")
    other.locator(f'tr[data-item-id="{first.pk}"]').get_by_role("button", name="Claim").click()
    expect(other).to_have_url(f"{live_server_url}/staff/queue/")

    # My page drops it without a reload.
    expect(rows).to_have_count(1)
    expect(page.locator(f'tr[data-item-id="{second.pk}"]')).to_be_visible()
    expect(page.locator("[data-queue-updated]")).to_be_visible()


def test_coordinator_overview_reads_well(
    live_server_url: str,
    new_context: NewContext,
    screenshot_dir: Path,
    alice: User,
    dr_tex: User,
    cody: User,
) -> None:
    make_item(alice, title="Itchy rash, photos attached")
    context = new_context()
    sign_in(context, live_server_url, cody)
    page = context.new_page()
    page.goto(f"{live_server_url}/staff/queue/overview/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Queue overview")
    page.get_by_label("Clinician for item").select_option(label=dr_tex.display_name)
    page.get_by_role("button", name="Route").click()
    expect(page.locator(".message.success")).to_contain_text(f"routed to {dr_tex.display_name}")
    assert_reads_well(page, screenshot_dir, "queue-overview")
