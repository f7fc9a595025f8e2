"""Every foundation page on a phone-sized screen (390x844): no sideways scrolling, one
<main> and one <h1>, a label on every field, nothing the CSP refuses. Screenshots go to
CAREPATH_SCREENSHOT_DIR (or a temporary folder) to be looked at."""

from pathlib import Path

import pytest

from carepath.accounts.actions import do_invite_staff
from carepath.accounts.models import Role, User
from tests.browser.fixtures import NewContext
from tests.browser.helpers import PageProblems, layout_problems, sign_in
from tests.personas import make_patient, make_staff

pytestmark = pytest.mark.browser

LONG_EMAIL = "maximiliana.konstantinopoulou-vandersteen@regional-telehealth-clinic.example.org"

# Who is signed in (a persona fixture, or "" for nobody) -> (screenshot name, path, <h1>).
PAGES: dict[str, list[tuple[str, str, str]]] = {
    "": [
        ("landing", "/", "Care that follows you"),
        ("login", "/accounts/login/", "Sign in"),
        ("login-expired", "/accounts/login/?expired=1&next=/patient/", "Sign in"),
        ("signup", "/accounts/signup/", "Create your patient account"),
        ("password-reset", "/accounts/password/reset/", "Reset your password"),
        ("password-reset-bad-key", "/accounts/password/reset/key/x-y/", "Link not valid"),
        ("not-found", "/no/such/page/", "Not found"),
    ],
    "new_patient": [
        ("consent", "/patient/consent/", "Telehealth consent"),
    ],
    "alice": [
        ("patient-home", "/patient/", "Hello, Alice"),
        ("consent-current", "/patient/consent/", "Telehealth consent"),
        ("notifications", "/notifications/", "Notifications"),
        ("forbidden", "/staff/", "Not allowed"),
        ("logout", "/accounts/logout/", "Sign out"),
    ],
    "dr_tex": [
        ("staff-home", "/staff/", "Clinician home"),
        ("patient-list", "/staff/patients/", "Your patients"),
        ("security", "/accounts/2fa/", "Two-factor authentication"),
    ],
    "ada": [
        ("admin-home", "/staff/admin/", "Administration"),
        ("staff-list", "/staff/admin/staff/", "Staff and licensure"),
        ("audit-report", "/staff/admin/audit/", "Audit report"),
        ("audit-report-filtered", "/staff/admin/audit/?action=staff.&sort=action", "Audit report"),
        ("consent-texts", "/staff/admin/consent/", "Consent texts"),
        ("api-tokens", "/account/tokens/", "API tokens"),
        ("staff-edit", "/staff/admin/staff/{dr_tex}/", "Dr.Tex Staff"),
        ("break-glass", "/staff/patients/{alice}/break-glass/", "Break-the-glass access"),
    ],
}


@pytest.fixture
def new_patient(clinic: None) -> User:
    return make_patient("nora@example.com", "TX", consented=False)


@pytest.fixture
def busy_clinic(ada: User, dr_tex: User, alice: User) -> None:
    """Long, unbreakable text where phones most often overflow: e-mail addresses in tables."""
    make_staff(LONG_EMAIL, Role.COORDINATOR)
    do_invite_staff(ada, "x" + LONG_EMAIL, Role.CLINICIAN, base_url="http://127.0.0.1")


@pytest.mark.parametrize("persona", list(PAGES), ids=[who or "anonymous" for who in PAGES])
def test_pages_read_well_on_a_phone(
    request: pytest.FixtureRequest,
    live_server_url: str,
    new_context: NewContext,
    page_problems: PageProblems,
    screenshot_dir: Path,
    busy_clinic: None,
    persona: str,
    alice: User,
    dr_tex: User,
) -> None:
    ids = {"alice": alice.pk, "dr_tex": dr_tex.pk}
    context = new_context()
    if persona:
        sign_in(context, live_server_url, request.getfixturevalue(persona))
    page = context.new_page()
    found: list[str] = []
    for name, path, heading in PAGES[persona]:
        page.goto(live_server_url + path.format(**ids))
        page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)
        h1 = page.locator("h1").all_inner_texts()
        if h1 != [heading]:
            found.append(f"{name}: expected the heading {heading!r}, found {h1}")
        found += layout_problems(page)
    found += page_problems.problems()
    assert not found, "\n".join(found)
