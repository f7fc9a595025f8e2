"""Every foundation page on a phone-sized screen (390x844): no sideways scrolling, one
<main> and one <h1>, a label on every field, nothing the CSP refuses."""

import pytest
from playwright.sync_api import expect

from carepath.accounts.actions import do_invite_staff
from carepath.accounts.models import Role, User
from tests.browser.conftest import NewContext
from tests.browser.helpers import PageProblems, layout_problems, sign_in
from tests.personas import make_patient, make_staff

pytestmark = pytest.mark.browser

LONG_EMAIL = "maximiliana.konstantinopoulou-vandersteen@regional-telehealth-clinic.example.org"

# (name, path, who is signed in (a fixture name, or "" for nobody), the expected <h1>)
PAGES = [
    ("landing", "/", "", "Care that follows you"),
    ("login", "/accounts/login/", "", "Sign in"),
    ("login-expired", "/accounts/login/?expired=1&next=/patient/", "", "Sign in"),
    ("signup", "/accounts/signup/", "", "Create your patient account"),
    ("password-reset", "/accounts/password/reset/", "", "Reset your password"),
    ("consent", "/patient/consent/", "new_patient", "Telehealth consent"),
    ("consent-current", "/patient/consent/", "alice", "Telehealth consent"),
    ("patient-home", "/patient/", "alice", "Hello, Alice"),
    ("staff-home", "/staff/", "dr_tex", "Clinician home"),
    ("patient-list", "/staff/patients/", "dr_tex", "Your patients"),
    ("admin-home", "/staff/admin/", "ada", "Administration"),
    ("staff-list", "/staff/admin/staff/", "ada", "Staff and licensure"),
    ("audit-report", "/staff/admin/audit/", "ada", "Audit report"),
    ("consent-texts", "/staff/admin/consent/", "ada", "Consent texts"),
    ("api-tokens", "/account/tokens/", "ada", "API tokens"),
    ("notifications", "/notifications/", "alice", "Notifications"),
    ("security", "/accounts/2fa/", "dr_tex", "Two-factor authentication"),
    ("not-found", "/no/such/page/", "", "Not found"),
]


@pytest.fixture
def new_patient(clinic: None) -> User:
    return make_patient("nora@example.com", "TX", consented=False)


@pytest.fixture
def busy_clinic(ada: User, dr_tex: User, alice: User) -> None:
    """Long, unbreakable text where phones most often overflow: e-mail addresses in tables."""
    make_staff(LONG_EMAIL, Role.COORDINATOR)
    do_invite_staff(ada, "x" + LONG_EMAIL, Role.CLINICIAN, base_url="http://127.0.0.1")


@pytest.mark.parametrize(
    ("name", "path", "persona", "heading"), PAGES, ids=[page[0] for page in PAGES]
)
def test_page_reads_well_on_a_phone(
    request: pytest.FixtureRequest,
    live_server_url: str,
    new_context: NewContext,
    page_problems: PageProblems,
    screenshot_dir: object,
    busy_clinic: None,
    name: str,
    path: str,
    persona: str,
    heading: str,
) -> None:
    context = new_context()
    if persona:
        sign_in(context, live_server_url, request.getfixturevalue(persona))
    page = context.new_page()
    page.goto(f"{live_server_url}{path}")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    page.screenshot(path=f"{screenshot_dir}/{name}.png", full_page=True)
    assert layout_problems(page) == []
    page_problems.assert_clean()
