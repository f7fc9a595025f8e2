"""Real visits in Chromium (two or three contexts, fake camera and microphone) against the real
ASGI server: the waiting room nobody bypasses, admission, WebRTC with decoded video frames,
chat, audio-only, a third participant, TURN relay, and refused links."""

import concurrent.futures
import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import LazySettings
from playwright.sync_api import Page, expect

from carepath.accounts.models import User
from carepath.core import clock
from carepath.visits import actions
from carepath.visits.models import Visit, VisitEvent, VisitEventKind
from tests.browser.fixtures import NewContext
from tests.browser.helpers import layout_problems, sign_in
from tests.visits.turn import TurnServer, start_turn

pytestmark = pytest.mark.browser

WAIT_MS = 20_000
T = TypeVar("T")


def in_thread[T](fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run Django code (which may publish to the channel layer on commit) off the thread
    that Playwright's event loop occupies."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def patient_link(visit: Visit, patient: User, clinician: User) -> str:
    def issue() -> str:
        _link, token = actions.do_issue_link(visit, by=clinician, role="patient", user=patient)
        return actions.link_path(visit.pk, token)

    return in_thread(issue)


def stats(page: Page) -> dict[str, Any]:
    return dict(page.evaluate("() => (window.carepathVisit ? window.carepathVisit.stats() : {})"))


def wait_for_media(page: Page, peers: int = 1, timeout: float = WAIT_MS / 1000) -> dict[str, Any]:
    """Until `peers` connections are connected with decoded remote video (getStats)."""
    deadline = time.monotonic() + timeout
    current: dict[str, Any] = {}
    while time.monotonic() < deadline:
        current = stats(page)
        good = [
            s
            for s in current.values()
            if s["connectionState"] == "connected" and s["framesDecoded"] > 0
        ]
        if len(good) >= peers:
            return current
        time.sleep(0.2)
    raise AssertionError(f"no media on {page.url}: {current}")


def audio_packets(page: Page) -> int:
    return sum(s["audioPackets"] for s in stats(page).values())


def video_bytes_sent(page: Page) -> int:
    return sum(s["videoBytesSent"] for s in stats(page).values())


@pytest.fixture
def screens(screenshot_dir: Path) -> Callable[[Page, str], None]:
    def shot(page: Page, name: str) -> None:
        page.screenshot(path=str(screenshot_dir / f"visit-{name}.png"), full_page=True)

    return shot


def test_waiting_room_admission_video_chat_third_participant_and_audio_only(
    live_server_url: str,
    new_context: NewContext,
    visit: Visit,
    alice: User,
    dr_tex: User,
    screens: Callable[[Page, str], None],
) -> None:
    base = live_server_url
    # The patient opens their link and checks in; they wait, the room stays closed.
    patient = new_context().new_page()
    patient.goto(base + patient_link(visit, alice, dr_tex))
    expect(patient).to_have_url(f"{base}/visits/{visit.pk}/wait/")
    patient.get_by_role("button", name="Check in").click()
    expect(patient.locator("#wait-status")).to_contain_text("You are checked in", timeout=WAIT_MS)
    expect(patient.locator("#device-result")).to_contain_text("Camera: working")
    screens(patient, "waiting-room")
    assert layout_problems(patient) == []

    # The clinician joins and sees alice waiting; nobody is in the call until admitted.
    doctor_context = new_context(viewport={"width": 1280, "height": 900})
    sign_in(doctor_context, base, dr_tex)
    doctor = doctor_context.new_page()
    doctor.goto(f"{base}/visits/{visit.pk}/")
    doctor.get_by_role("button", name="Join visit").click()
    admit = doctor.get_by_role("button", name=f"Admit {alice.display_name}")
    expect(admit).to_be_visible(timeout=WAIT_MS)
    time.sleep(0.5)
    expect(patient).to_have_url(f"{base}/visits/{visit.pk}/wait/")
    assert stats(doctor) == {}
    admit.click()

    # Admitted: the waiting page opens the visit by itself; both sides decode video.
    expect(patient).to_have_url(f"{base}/visits/{visit.pk}/", timeout=WAIT_MS)
    wait_for_media(patient)
    wait_for_media(doctor)

    # Chat reaches the other side (and is saved on the encounter).
    patient.get_by_label("Message").fill("Hello doctor, the rash is on my arm")
    patient.get_by_role("button", name="Send").click()
    expect(doctor.locator("#chat-log")).to_contain_text(
        "Hello doctor, the rash is on my arm", timeout=WAIT_MS
    )
    doctor.get_by_label("Message").fill("Thanks, please show me")
    doctor.keyboard.press("Enter")
    expect(patient.locator("#chat-log")).to_contain_text("Thanks, please show me", timeout=WAIT_MS)

    # A network blip: the patient's signaling socket drops; the page rejoins and renegotiates
    # with an ICE restart, and the call carries on.
    frames_before = sum(s["framesDecoded"] for s in stats(patient).values())
    patient.evaluate("() => window.carepathVisit.dropSocket()")
    patient.wait_for_function("() => window.carepathVisit.state.joins >= 2", timeout=WAIT_MS)
    patient.wait_for_function("() => window.carepathVisit.mesh.iceRestarts >= 1", timeout=WAIT_MS)
    deadline = time.monotonic() + 10
    while sum(s["framesDecoded"] for s in wait_for_media(patient).values()) <= frames_before + 30:
        assert time.monotonic() < deadline, "video stopped after the reconnect"
        time.sleep(0.2)

    # A third participant (a caregiver the patient invites) gets in only once admitted.
    patient.get_by_label("Their name").fill("Rosa")
    patient.get_by_role("button", name="Create invitation").click()
    expect(patient.locator("#invite-result")).to_be_visible(timeout=WAIT_MS)
    invite_url = patient.locator("#invite-link").inner_text()
    guest = new_context().new_page()
    guest.goto(invite_url)
    guest.get_by_label("Your name").fill("Rosa (daughter)")
    guest.get_by_role("button", name="Continue").click()
    expect(guest).to_have_url(f"{base}/visits/{visit.pk}/wait/")
    guest.get_by_role("button", name="Check in").click()
    guest_admit = doctor.get_by_role("button", name="Admit Rosa (daughter)")
    expect(guest_admit).to_be_visible(timeout=WAIT_MS)
    time.sleep(0.5)
    expect(guest).to_have_url(f"{base}/visits/{visit.pk}/wait/")
    assert len(stats(doctor)) == 1
    assert len(stats(patient)) == 1
    screens(doctor, "clinician-with-guest-waiting")
    guest_admit.click()
    expect(guest).to_have_url(f"{base}/visits/{visit.pk}/", timeout=WAIT_MS)
    wait_for_media(guest, peers=2)
    wait_for_media(doctor, peers=2)
    screens(doctor, "three-way-call")

    # Switch to audio only: both sides follow, cameras stop, audio keeps flowing.
    doctor.get_by_role("button", name="Switch to audio only").click()
    for page in (doctor, patient, guest):
        expect(page.locator("#mode-banner")).to_contain_text("Audio-only", timeout=WAIT_MS)
    time.sleep(1.0)
    sent_before, heard_before = video_bytes_sent(patient), audio_packets(patient)
    time.sleep(1.0)
    assert video_bytes_sent(patient) == sent_before
    assert audio_packets(patient) > heard_before
    assert patient.evaluate("() => window.carepathVisit.state.mode") == "audio"
    change = in_thread(
        lambda: VisitEvent.objects.get(visit=visit, kind=VisitEventKind.MODE_CHANGED)
    )
    assert (change.from_mode, change.to_mode, change.encounter_id) == (
        "video",
        "audio",
        in_thread(lambda: Visit.objects.get(pk=visit.pk).encounter_id),
    )
    screens(patient, "audio-only")
    assert layout_problems(patient) == []


@pytest.fixture
def turn(settings: LazySettings) -> Iterator[TurnServer]:
    server = start_turn()
    settings.TURN_URLS = server.urls
    settings.TURN_SECRET = server.secret
    settings.STUN_URLS = []
    try:
        yield server
    finally:
        server.stop()


def test_the_call_goes_through_turn_when_relay_is_forced(
    live_server_url: str,
    new_context: NewContext,
    visit: Visit,
    alice: User,
    dr_tex: User,
    turn: TurnServer,
) -> None:
    base = live_server_url
    in_thread(
        lambda: actions.do_admit(dr_tex, visit.pk, actions.do_ensure_participant(visit, alice).pk)
    )
    link = patient_link(visit, alice, dr_tex)
    patient = new_context().new_page()
    patient.goto(base + link)
    expect(patient).to_have_url(f"{base}/visits/{visit.pk}/")
    patient.goto(f"{base}/visits/{visit.pk}/?relay=1")
    patient.get_by_role("button", name="Join visit").click()
    doctor_context = new_context()
    sign_in(doctor_context, base, dr_tex)
    doctor = doctor_context.new_page()
    doctor.goto(f"{base}/visits/{visit.pk}/?relay=1")
    doctor.get_by_role("button", name="Join visit").click()
    for page in (doctor, patient):
        peer = next(iter(wait_for_media(page).values()))
        assert (peer["localCandidateType"], peer["remoteCandidateType"]) == ("relay", "relay")


def test_wrong_expired_and_other_visit_links_are_refused(
    live_server_url: str,
    new_context: NewContext,
    visit: Visit,
    alice: User,
    bob: User,
    dr_tex: User,
    visit_factory: Callable[..., Visit],
) -> None:
    base = live_server_url
    link = patient_link(visit, alice, dr_tex)
    other = in_thread(visit_factory, bob, dr_tex)
    page = new_context().new_page()
    page.goto(base + link[:-4] + "AAAA/")
    expect(page.locator("#link-refused")).to_contain_text("not valid")
    page.goto(base + link.replace(f"/visits/{visit.pk}/", f"/visits/{other.pk}/"))
    expect(page.locator("#link-refused")).to_contain_text("for a different visit")
    clock.freeze(visit.ends_at + dt.timedelta(hours=1))
    try:
        page.goto(base + link)
        expect(page.locator("#link-refused")).to_contain_text("expired")
    finally:
        clock.unfreeze()
    # Nothing got this browser into either visit.
    page.goto(f"{base}/visits/{visit.pk}/wait/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
