"""The browser-test fixtures (live ASGI server, CSP guard, contexts) for messaging pages, with
a Chromium of this module's own: the shared one is session-wide, and Playwright's event loop
left running in the main thread would stop the async socket tests that run after these."""

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from playwright.sync_api import Browser, sync_playwright

from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    _audit_triggers_back_after_flush,
    live_server_url,
    new_context,
    page_problems,
)

__all__ = ["_audit_triggers_back_after_flush", "live_server_url", "new_context", "page_problems"]


@pytest.fixture(scope="module")
def browser(django_db_setup: None, django_db_blocker: Any) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Browser tests need Debian's Chromium at {CHROMIUM}.", pytrace=False)
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
