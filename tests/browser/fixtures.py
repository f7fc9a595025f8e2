"""Browser-test infrastructure: the real ASGI app under uvicorn on 127.0.0.1, Debian's
Chromium driven by Playwright (sync API), a guard that fails a test on any CSP violation or
uncaught JavaScript error, and TOTP codes for staff sign-in."""

# Playwright's sync API keeps an event loop in the main thread; Django's ORM would refuse to
# run from the test body next to it. Set before Django or Playwright is used.
import http.client
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from django.db import connections
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from tests.browser.helpers import PageProblems, drop_audit_triggers, restore_audit_triggers

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
PHONE = {"width": 390, "height": 844}
SERVER_START_TIMEOUT = 15.0


# --- The live server ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _audit_triggers_back_after_flush(
    request: pytest.FixtureRequest, django_db_blocker: Any
) -> Iterator[None]:
    """Autouse, so it is set up before the database fixtures and torn down after their
    flush: puts back the audit table's append-only triggers that live_server_url dropped."""
    yield
    if "transactional_db" in request.fixturenames:
        with django_db_blocker.unblock():
            restore_audit_triggers()


def _free_socket() -> socket.socket:
    """A listening socket on a free loopback port, handed to uvicorn (no port race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _wait_until_answering(port: int, server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the live server thread died while starting")
        if server.started:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                connection.request("GET", "/static/css/carepath.css")
                if connection.getresponse().status == 200:
                    return
            except OSError as error:
                last_error = error
            finally:
                connection.close()
        time.sleep(0.05)
    raise RuntimeError(
        f"the live server did not answer within {SERVER_START_TIMEOUT}s: {last_error}"
    )


@pytest.fixture
def live_server_url(transactional_db: None) -> Iterator[str]:
    """The real ASGI app (HTTP through Django, WebSockets through Channels) under uvicorn in a
    background thread. Its database connections are closed after every request, so nothing
    holds the test database open when pytest-django flushes or drops it."""
    from carepath.asgi import application

    db_settings = connections.settings["default"]
    saved_max_age = db_settings.get("CONN_MAX_AGE", 0)
    db_settings["CONN_MAX_AGE"] = 0
    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        application,
        log_level="warning",
        lifespan="off",
        access_log=False,
        ws="websockets-sansio",
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
    )
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(port, server, thread)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        sock.close()
        db_settings["CONN_MAX_AGE"] = saved_max_age
        drop_audit_triggers()  # pytest-django flushes every table next
        assert not thread.is_alive(), "the live server did not stop"


# --- Chromium -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(django_db_setup: None, django_db_blocker: Any) -> Iterator[Browser]:
    """Debian's Chromium, once per session. Requests the test database first: Playwright's
    sync API gives the test code a context of its own, so the database connection opened
    while creating the test database is closed here, or it would block dropping it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Browser tests need Debian's Chromium at {CHROMIUM}. Run scripts/ensure-browser "
            "(or, as root: apt-get install -y chromium).",
            pytrace=False,
        )
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls in the test
    # body would otherwise be refused as "async unsafe". Browser tests run in their own process.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with django_db_blocker.unblock():
        connections.close_all()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
            with django_db_blocker.unblock():
                connections.close_all()


# A CSP violation also reaches the console as "Refused to ..."; this listener makes sure one
# is reported even where Chromium words it differently. Init scripts are not subject to CSP.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`Content Security Policy violation: Refused to load ${event.blockedURI || "inline"}
  (${event.violatedDirective}) at ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture
def page_problems() -> Iterator[PageProblems]:
    """Fails the test if any page it opened broke the CSP or threw an uncaught error."""
    problems = PageProblems()
    yield problems
    found = problems.problems()
    if found:
        pytest.fail("CSP violations or uncaught JS errors:\n" + "\n".join(found), pytrace=False)


NewContext = Callable[..., BrowserContext]


@pytest.fixture
def new_context(browser: Browser, page_problems: PageProblems) -> Iterator[NewContext]:
    """new_context(**playwright_options) -> a fresh browser context (its own cookies), watched
    for CSP violations and uncaught errors; every context is closed after the test."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        options.setdefault("viewport", PHONE)
        options.setdefault("locale", "en-US")
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        context.add_init_script(_REPORT_CSP_VIOLATIONS)
        context.on("page", page_problems.watch)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go (CAREPATH_SCREENSHOT_DIR keeps them somewhere to look at)."""
    wanted = os.environ.get("CAREPATH_SCREENSHOT_DIR")
    if wanted:
        path = Path(wanted)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")
