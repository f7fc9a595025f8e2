"""Helpers for browser tests: TOTP codes, page checks, problem collection."""

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.apps import apps as django_apps
from django.db import connection
from playwright.sync_api import BrowserContext, ConsoleMessage, Page


@dataclass
class PageProblems:
    """Console messages and page errors of every page a test opened."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        self.console.append(f"[{message.type}] {message.text}")

    def csp_violations(self) -> list[str]:
        return [
            line
            for line in self.console
            if "Content Security Policy" in line or "Refused to" in line
        ]

    def problems(self) -> list[str]:
        return self.csp_violations() + [f"uncaught: {error}" for error in self.errors]

    def assert_clean(self) -> None:
        found = self.problems()
        assert not found, "CSP violations or uncaught JS errors:\n" + "\n".join(found)


def totp_code(secret: str, *, at: float | None = None) -> str:
    """The TOTP code of `secret` at time `at` (default now), as allauth computes it."""
    moment = time.time() if at is None else at
    counter = int(moment) // mfa_settings.TOTP_PERIOD
    return str(format_hotp_value(hotp_value(secret, counter)))


def seconds_left_in_period(at: float | None = None) -> float:
    moment = time.time() if at is None else at
    period = int(mfa_settings.TOTP_PERIOD)
    return float(period - (moment % period))


def fresh_totp_code(secret: str, *, min_seconds_left: float = 4.0) -> str:
    """A code that stays valid long enough to be typed and checked. allauth's tolerance is 0
    (MFA_TOTP_TOLERANCE default) and a code is refused a second time within its period, so
    when a test needs two codes it calls next_period_totp_code() for the second."""
    left = seconds_left_in_period()
    if left < min_seconds_left:
        time.sleep(left + 0.05)
    return totp_code(secret)


def next_period_totp_code(secret: str, *, min_seconds_left: float = 4.0) -> str:
    """Wait for the next TOTP period, then return its code (for a second sign-in)."""
    time.sleep(seconds_left_in_period() + 0.05)
    return fresh_totp_code(secret, min_seconds_left=min_seconds_left)


def totp_secret_of(user: Any) -> str:
    """The TOTP secret of a persona (make_staff keeps it on the instance) or from the DB."""
    secret = getattr(user, "totp_secret", None)
    if secret:
        return str(secret)
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import decrypt

    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    return str(decrypt(authenticator.data["secret"]))


# --- Pages --------------------------------------------------------------------------------

_PAGE_FACTS_JS = """() => {
  const shown = (el) => {
    const style = getComputedStyle(el);
    const rendered = style.display !== "none" && style.visibility !== "hidden";
    return rendered && el.getClientRects().length > 0;
  };
  const skipped = new Set(["hidden", "submit", "button", "reset", "image"]);
  const named = (el) =>
    (el.labels && [...el.labels].some((label) => label.textContent.trim())) ||
    (el.getAttribute("aria-label") || "").trim() ||
    (el.getAttribute("aria-labelledby") || "").trim();
  const fields = [...document.querySelectorAll("input, select, textarea")].filter(
    (el) => !skipped.has(el.type) && shown(el)
  );
  const width = window.innerWidth;
  const tooWide = [...document.querySelectorAll("body *")]
    .filter((el) => shown(el) && el.getBoundingClientRect().right > width + 1)
    .slice(0, 5)
    .map((el) => `${el.tagName.toLowerCase()}.${el.className} ${el.getBoundingClientRect().right}`);
  return {
    scrollWidth: document.scrollingElement.scrollWidth,
    innerWidth: width,
    mains: document.querySelectorAll("main").length,
    h1s: [...document.querySelectorAll("h1")].map((h) => h.textContent.trim()),
    unlabeled: fields.filter((el) => !named(el)).map((el) => el.outerHTML.slice(0, 160)),
    tooWide,
  };
}"""


def layout_problems(page: Page) -> list[str]:
    """What a phone user would trip over on the current page: sideways scrolling, missing or
    doubled landmarks and headings, form fields without a label."""
    facts: dict[str, Any] = page.evaluate(_PAGE_FACTS_JS)
    found = []
    if facts["scrollWidth"] > facts["innerWidth"]:
        found.append(
            f"scrolls sideways: {facts['scrollWidth']} > {facts['innerWidth']}; "
            f"too wide: {facts['tooWide']}"
        )
    if facts["mains"] != 1:
        found.append(f"{facts['mains']} <main> elements")
    if len(facts["h1s"]) != 1:
        found.append(f"<h1> elements: {facts['h1s']}")
    found += [f"no label: {html}" for html in facts["unlabeled"]]
    return [f"{page.url}: {problem}" for problem in found]


def sign_in(context: BrowserContext, base_url: str, user: Any) -> None:
    """Give the browser a real signed-in session (staff already through MFA) without going
    through the sign-in pages; the sign-in pages have their own tests."""
    from tests.personas import signed_in_client

    client = signed_in_client(user)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}]
    )


# --- The audit table's append-only triggers vs. pytest-django's flush ---------------------

_TRIGGERS = importlib.import_module("carepath.audit.migrations.0002_append_only_triggers")


def audit_triggers_present() -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT 1 FROM pg_trigger WHERE tgname = 'audit_append_only'")
        else:
            cursor.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_no_delete'"
            )
        return cursor.fetchone() is not None


def drop_audit_triggers() -> None:
    """A transactional test ends with a flush of every table, which the audit table's
    append-only triggers refuse; they are dropped for the flush and restored after it."""
    if connection.vendor in {"postgresql", "sqlite"} and audit_triggers_present():
        with connection.schema_editor(atomic=False) as editor:
            _TRIGGERS.drop_triggers(django_apps, editor)


def restore_audit_triggers() -> None:
    if connection.vendor in {"postgresql", "sqlite"} and not audit_triggers_present():
        with connection.schema_editor(atomic=False) as editor:
            _TRIGGERS.create_triggers(django_apps, editor)


def assert_reads_well(page: Page, shots: Path, name: str) -> None:
    """Screenshot the page (to look at) and fail on phone layout problems."""
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    found = layout_problems(page)
    assert not found, "\n".join(found)
