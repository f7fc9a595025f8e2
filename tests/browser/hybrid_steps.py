"""The steps of the hybrid care path browser test (tests/browser/test_hybrid_care_path.py).
Each one drives the real pages the way the patient or the clinician would; Django is called
only to set up the clinic and to look up the ids the next page needs."""

import concurrent.futures
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection
from django.test import override_settings
from playwright.sync_api import BrowserContext, Locator, Page, expect

from carepath.accounts.models import User
from carepath.carepaths.seed import seed_care_paths
from carepath.pharmacy.actions.directory import do_choose_preferred_pharmacy
from carepath.pharmacy.models import Pharmacy
from carepath.pharmacy.seed import seed_pharmacies
from carepath.prescribing.actions_health import do_add_medication
from carepath.prescribing.models import Medication
from carepath.prescribing.seed import seed_formulary
from tests.browser.helpers import layout_problems
from tests.intake.conftest import TEST_KEYS, jpeg_bytes
from tests.visits.test_browser_visit import WAIT_MS

CONCERN = "Itchy red patches on both elbows, spreading to the forearms"
PLAN = "Doxycycline 100 mg bid x14d. Stop minocycline. Moisturize daily."
MEDICATION_LINE = (
    "Doxycycline 100 mg capsule: take 1 capsule by mouth twice a day for 14 days "
    "with a full glass of water. 28 capsules, no refills. "
    "Sent to Pecan Street Apothecary, Austin."
)
PHARMACY_NCPDP = "4400134"  # Pecan Street Apothecary, Austin TX (outbox adapter)


def in_worker[T](fn: Callable[..., T], *args: Any) -> T:
    """Run Django writes off Playwright's thread (its event loop would refuse the on-commit
    publishing), as a request would, and close that thread's database connection after."""

    def run() -> T:
        try:
            return fn(*args)
        finally:
            connection.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@contextmanager
def private_media(root: Path) -> Iterator[Path]:
    """Uploads go to a throwaway MEDIA_ROOT with a known encryption key (the live server runs
    in this process, so it sees the override)."""
    root.mkdir()
    with override_settings(
        MEDIA_ROOT=str(root), FILE_ENCRYPTION_KEYS=TEST_KEYS, FILE_ENCRYPTION_KEY_ID="k1"
    ):
        yield root


def set_up_clinic(alice: User) -> Pharmacy:
    """The formulary and the pharmacy directory; alice has chosen a preferred pharmacy and
    already takes minocycline (so the duplicate-therapy warning fires for doxycycline)."""
    seed_care_paths()  # also seeds the service lines and the check-in questionnaires
    formulary = {medication.name: medication for medication in seed_formulary()}
    pharmacy = {p.ncpdp_id: p for p in seed_pharmacies()}[PHARMACY_NCPDP]
    do_choose_preferred_pharmacy(alice, pharmacy.pk)
    minocycline: Medication = formulary["Minocycline"]
    do_add_medication(alice, alice.pk, medication=minocycline, dosage="50 mg once a day")
    return pharmacy


class Shots:
    """Numbered screenshots of the story, in the order it happens, and what a reader of each
    page would trip over (sideways scrolling, unlabeled fields: layout_problems)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken = 0
        self.layout_problems: list[str] = []

    def __call__(self, page: Page, name: str, *, check_layout: bool = True) -> None:
        self.taken += 1
        path = self.folder / f"hybrid-{self.taken:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if check_layout:
            self.layout_problems += layout_problems(page)


# --- 1. The patient's online visit --------------------------------------------------------


def answer(page: Page, question: str, choice: str) -> None:
    page.get_by_role("group", name=question).get_by_label(choice, exact=True).check()


def submit_dermatology_case(page: Page, base: str, photo: Path, shots: Shots) -> None:
    page.goto(f"{base}/patient/visits/")
    page.get_by_role("link", name="Start an online visit").click()
    page.get_by_label("Skin, hair and nails").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_label("Which state are you in right now?")).to_have_value("TX")
    page.get_by_role("button", name="Confirm and continue").click()
    page.get_by_label("Describe the skin problem").fill(CONCERN)
    answer(page, "Where on your body is it?", "Arms or hands")
    answer(page, "How long has this been going on?", "1 to 4 weeks")
    answer(page, "Is it spreading quickly (over hours)?", "No")
    answer(page, "Do you have a fever?", "No")
    answer(page, "Any trouble breathing, or swelling of your lips, tongue or face?", "No")
    shots(page, "patient-questions")
    page.locator("#continue").click()
    expect(page).to_have_url(re.compile(r"/patient/visits/\d+/photos/$"))
    photo.write_bytes(jpeg_bytes())
    page.get_by_label("Add a photo").set_input_files(str(photo))
    page.locator("#upload-photos").click()
    expect(page.get_by_role("img", name=f"Photo 1: {photo.name}")).to_be_visible()
    shots(page, "patient-photo")
    page.get_by_role("link", name="Continue to review").click()
    page.get_by_role("button", name="Submit my visit").click()
    expect(page.locator("#case-status")).to_have_text("Submitted")


# --- 2. Escalation to a video visit now -----------------------------------------------------


def claim_from_queue(page: Page, base: str, work_item_id: int) -> None:
    page.goto(f"{base}/staff/queue/")
    page.locator(f"tr[data-item-id='{work_item_id}']").get_by_role("button", name="Claim").click()


def escalate_to_video_now(page: Page, reason: str) -> None:
    page.get_by_role("link", name="Escalate to a live visit").click()
    page.get_by_label("Reason for the live visit").fill(reason)
    page.get_by_role("button", name="Start video visit now").click()


def loaded_image(image: Locator) -> None:
    """The <img> really decoded (a lazy image below the fold loads once scrolled to)."""
    image.scroll_into_view_if_needed()
    handle = image.element_handle()
    image.page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=handle, timeout=WAIT_MS
    )


def assert_intake_panel(page: Page) -> None:
    panel = page.locator("#intake-panel")
    expect(panel.get_by_role("heading", name="Intake")).to_be_visible()
    expect(panel).to_contain_text(CONCERN)
    expect(panel).to_contain_text("Arms or hands")
    loaded_image(panel.locator("img").first)


def open_notification(page: Page, base: str, title: str) -> None:
    page.goto(f"{base}/notifications/")
    page.get_by_role("link", name=title).first.click()


# --- 3. Note and prescription in the room ---------------------------------------------------


def write_and_sign_note(page: Page) -> None:
    page.get_by_label("Subjective").fill("Itchy patches on both elbows for 3 weeks, spreading.")
    page.get_by_label("Objective").fill("Scaly papules and pustules on both forearms on video.")
    page.get_by_label("Assessment").fill("Folliculitis, both forearms. No sx of cellulitis.")
    page.get_by_label("Plan").fill(PLAN)
    expect(page.locator("#note-status")).to_contain_text("Draft saved", timeout=WAIT_MS)
    page.get_by_role("button", name="Sign note").click()
    expect(page.locator("#note-status")).to_contain_text("Signed", timeout=WAIT_MS)


def prescribe_doxycycline(
    context: BrowserContext, room: Page, pharmacy: Pharmacy, shots: Shots
) -> Page:
    """From the room's Prescribe link, in a new tab so the call goes on: doxycycline to the
    patient's preferred pharmacy, the duplicate-therapy warning acknowledged, signed."""
    panel = room.locator("[data-encounter-prescribing]")
    with context.expect_page() as opened:
        panel.get_by_role("link", name="Prescribe").click(modifiers=["ControlOrMeta"])
    page = opened.value
    page.bring_to_front()  # a background tab is not rendered: screenshots would stall
    expect(page.get_by_role("heading", level=1)).to_have_text("Prescribe")
    page.get_by_label("Medication", exact=True).select_option(
        label="Doxycycline (doxycycline hyclate)"
    )
    expect(page.get_by_role("heading", name="2. Doxycycline")).to_be_visible()
    expect(page.locator("#warnings")).to_contain_text("Already taking Minocycline")
    page.get_by_label("Strength", exact=True).select_option("100 mg")
    page.get_by_label("Form", exact=True).select_option("capsule")
    expect(page.get_by_label("Directions (sig)")).to_have_value(
        "Take 1 capsule by mouth twice a day for 14 days with a full glass of water."
    )
    page.get_by_label("Quantity", exact=True).fill("28")
    page.get_by_label("Days supply", exact=True).fill("14")
    page.get_by_label("Refills", exact=True).fill("0")
    expect(page.get_by_label("Pharmacy", exact=True)).to_have_value(str(pharmacy.pk))
    shots(page, "clinician-prescribe")
    page.get_by_role("button", name="Save draft and review").click()
    expect(page.locator("#warnings")).to_contain_text("Already taking Minocycline")
    page.get_by_label("Duplicate therapy override: why prescribe anyway?").fill(
        "Switching from minocycline to doxycycline; she stops minocycline today."
    )
    page.get_by_role("button", name="Sign and send to the pharmacy").click()
    expect(page.get_by_text("Signed and sent to the pharmacy.")).to_be_visible()
    expect(page.locator("#rx-status")).to_have_text("Active")
    shots(page, "clinician-prescription-signed")
    return page


# --- 4. What the patient takes home -----------------------------------------------------------


def download_bytes(page: Page, link: Locator) -> bytes:
    with page.expect_download() as started:
        link.click()
    return Path(started.value.path()).read_bytes()


def assert_after_visit_summary(page: Page) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("Your after-visit summary")
    expect(page.locator("#section-found")).to_contain_text("Folliculitis, both forearms")
    expect(page.locator("#section-found")).to_contain_text("symptoms of cellulitis")
    expect(page.locator("#section-plan")).to_contain_text(
        "Doxycycline 100 mg twice a day for 14 days"
    )
    expect(page.locator("#section-medications")).to_contain_text(MEDICATION_LINE)
    expect(page.locator("#section-follow_up")).to_contain_text(
        "We will send you a short check-in questionnaire on"
    )
    assert download_bytes(page, page.locator("#avs-pdf"))[:5] == b"%PDF-"


def assert_prescription_for_patient(page: Page, base: str, prescription_id: int) -> None:
    page.goto(f"{base}/prescriptions/")
    row = page.locator(f"#prescription-list li[data-prescription-id='{prescription_id}']")
    expect(row).to_contain_text("Doxycycline 100 mg capsule")
    expect(row).to_contain_text("Active")
    row.get_by_role("link").click()
    expect(page.locator("#rx-status")).to_have_text("Active")
    expect(page.locator("#rx-dispatch")).not_to_be_empty()
    expect(page.get_by_text("Pecan Street Apothecary", exact=False).first).to_be_visible()
    assert download_bytes(page, page.locator("#download-pdf"))[:5] == b"%PDF-"


# --- 5. The 14-day check-in -------------------------------------------------------------------


def answer_check_in(page: Page) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("Dermatology check-in")
    answer(page, "Compared with before treatment, how is it now?", "Better")
    answer(page, "Are you using the treatment as prescribed?", "Yes")
    answer(page, "Any side effects from the treatment?", "No")
    answer(page, "Has it spread, or are there new spots?", "No")
    page.get_by_label("Anything else you would like your clinician to know?").fill(
        "Much less itchy; a few spots left on the left arm."
    )
    page.locator("#send-check-in").click()
    expect(page.locator("#check-in-status")).to_contain_text("a clinician will read your answers")


# --- 6. One episode timeline ------------------------------------------------------------------

# Every step of the story, as the timeline names it (data-kind of each entry).
STORY = [
    "case.submitted",
    "case.photo",
    "escalation.requested",
    "visit.started",
    "note.signed",
    "prescription.signed",
    "visit.ended",
    "checkin.sent",
    "checkin.answered",
]


def timeline_kinds(page: Page) -> list[str]:
    kinds: list[str] = page.locator("#timeline li.tl-entry").evaluate_all(
        "(entries) => entries.map((entry) => entry.dataset.kind)"
    )
    return kinds


def timeline_times(page: Page) -> dict[str, str]:
    """kind -> when its first entry happened (ISO 8601, all in one zone: comparable)."""
    rows: list[list[str]] = page.locator("#timeline li.tl-entry").evaluate_all(
        "(entries) => entries.map((e) => [e.dataset.kind, e.querySelector('time').dateTime])"
    )
    times: dict[str, str] = {}
    for kind, at in rows:
        times[kind] = min(at, times.get(kind, at))
    return times


def assert_story_in_order(page: Page) -> None:
    """Every step is on the episode's timeline, and they happened in the story's order."""
    assert_whole_story(page)
    times = timeline_times(page)
    when = [times[kind] for kind in STORY]
    assert when == sorted(when), (
        f"out of order on {page.url}: {list(zip(STORY, when, strict=True))}"
    )


def assert_whole_story(page: Page) -> None:
    kinds = timeline_kinds(page)
    missing = [kind for kind in STORY if kind not in kinds]
    assert not missing, f"missing on {page.url}: {missing}; shown: {kinds}"
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Online visit submitted")
    expect(timeline).to_contain_text("Photo 1")
    expect(timeline).to_contain_text("by video now")
    expect(timeline).to_contain_text("Live visit started (video)")
    expect(timeline).to_contain_text("Live visit ended")
    expect(timeline).to_contain_text("Visit note signed by")
    expect(timeline).to_contain_text("Prescription signed")
    expect(timeline).to_contain_text("Doxycycline 100 mg capsule")
    loaded_image(timeline.locator("li[data-kind='case.photo'] img").first)
    encounters = page.locator("#encounter-list li")
    expect(encounters).to_have_count(2)
    expect(page.locator("#encounter-list li[data-mode='async']")).to_have_count(1)
    video = page.locator("#encounter-list li[data-mode='video']")
    expect(video).to_have_count(1)
    expect(video.get_by_role("link", name="After-visit summary")).to_be_visible()
