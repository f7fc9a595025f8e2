"""The prescribing pages in Debian's Chromium on a phone-sized screen (390x844): "My health"
with a form per row (unique ids), the preferred pharmacy and who prescribed; the prescribe
page's refusal with its way back to the case, its error summary and the draft message; the
prescription pages; the formulary and the pharmacy form of an admin. Nothing the CSP
refuses, no layout problems."""

import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from playwright.sync_api import Page, expect

from carepath.accounts.models import User
from carepath.pharmacy.models import Pharmacy, PreferredPharmacy
from carepath.prescribing.models import AllergyIntolerance, Medication, Prescription
from carepath.prescribing.seed import seed_formulary
from tests.browser.fixtures import NewContext
from tests.browser.helpers import PageProblems, assert_reads_well, sign_in
from tests.prescribing.conftest import make_pharmacy, open_async_care, signed_prescription

pytestmark = pytest.mark.browser

DUPLICATE_IDS_JS = """() => {
  const seen = new Map();
  for (const el of document.querySelectorAll("[id]")) seen.set(el.id, (seen.get(el.id) || 0) + 1);
  return [...seen].filter(([, count]) => count > 1).map(([id]) => id);
}"""


def in_worker[T](fn: Callable[..., T], *args: Any) -> T:
    """Django writes run off Playwright's thread (its event loop refuses the on-commit
    publishing), as a request would; the worker's connection is closed after."""

    def run() -> T:
        try:
            return fn(*args)
        finally:
            connection.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@dataclass
class Scene:
    case_id: int
    encounter_id: int
    prescription: Prescription
    meds: dict[str, Medication]
    allergies: list[AllergyIntolerance]


def build_scene(alice: User, dr_tex: User) -> Scene:
    meds = {m.name: m for m in seed_formulary()}
    cvs: Pharmacy = make_pharmacy("4412345", "CVS Pharmacy", "Austin", "TX")
    PreferredPharmacy.objects.create(patient=alice, pharmacy=cvs)
    care = open_async_care(alice, dr_tex)
    prescription = signed_prescription(dr_tex, care.async_encounter, meds["Doxycycline"], cvs)
    allergies = [
        AllergyIntolerance.objects.create(patient=alice, substance=name, recorded_by=alice)
        for name in ("Sulfa drugs", "Latex")
    ]
    return Scene(care.case.pk, care.async_encounter.pk, prescription, meds, allergies)


def assert_no_duplicate_ids(page: Page) -> None:
    assert page.evaluate(DUPLICATE_IDS_JS) == []


def test_patient_health_and_prescription_pages(
    live_server_url: str,
    new_context: NewContext,
    page_problems: PageProblems,
    screenshot_dir: Path,
    alice: User,
    dr_tex: User,
) -> None:
    scene = in_worker(build_scene, alice, dr_tex)
    context = new_context()
    sign_in(context, live_server_url, alice)
    page = context.new_page()
    page.goto(f"{live_server_url}/prescriptions/health/")
    pharmacy = page.locator("#preferred-pharmacy")
    expect(pharmacy).to_contain_text("CVS Pharmacy")
    expect(pharmacy).to_contain_text("100 Main St, Austin, TX 78701")
    expect(pharmacy.get_by_role("link", name="Change")).to_have_attribute("href", "/pharmacy/")
    expect(page.get_by_text("Choose your preferred pharmacy")).to_have_count(0)
    row = page.locator("li[data-statement-id]").filter(has_text="Doxycycline")
    expect(row).to_contain_text(f"Prescribed by {dr_tex.display_name} on ")
    expect(row.get_by_role("link", name="View prescription")).to_be_visible()
    assert_no_duplicate_ids(page)
    assert_reads_well(page, screenshot_dir, "prescribing-my-health-phone")

    latex = scene.allergies[1]
    allergy_row = page.locator(f"li[data-allergy-id='{latex.pk}']")
    allergy_row.locator("summary").click()
    reason = allergy_row.get_by_label("Why remove it?")
    expect(reason).to_have_attribute("id", f"id_end-allergy-{latex.pk}-reason")
    allergy_row.get_by_role("button", name="Remove allergy").click()
    summary_link = page.locator(".error-summary a")
    expect(summary_link).to_have_text("Why remove it?: This field is required.")
    assert_no_duplicate_ids(page)
    assert_reads_well(page, screenshot_dir, "prescribing-my-health-error-phone")
    summary_link.click()
    focused = page.locator(f"#id_end-allergy-{latex.pk}-reason")
    expect(focused).to_be_visible()
    focused.fill("Patch test was negative")
    page.locator(f"li[data-allergy-id='{latex.pk}']").get_by_role(
        "button", name="Remove allergy"
    ).click()
    expect(page.get_by_text("Allergy removed.")).to_be_visible()
    expect(page.locator(f"li[data-allergy-id='{latex.pk}']")).to_have_count(0)

    page.goto(f"{live_server_url}/prescriptions/{scene.prescription.pk}/")
    expect(page.locator("#rx-quantity")).to_have_text("28 capsules · 14 days")
    expect(page.get_by_text("/staff/cases/")).to_have_count(0)
    assert_reads_well(page, screenshot_dir, "prescribing-patient-prescription-phone")
    page_problems.assert_clean()


def test_clinician_prescribe_pages(
    live_server_url: str,
    new_context: NewContext,
    page_problems: PageProblems,
    screenshot_dir: Path,
    alice: User,
    dr_tex: User,
) -> None:
    scene = in_worker(build_scene, alice, dr_tex)
    context = new_context()
    sign_in(context, live_server_url, dr_tex)
    page = context.new_page()
    tramadol = scene.meds["Tramadol"].pk
    page.goto(
        f"{live_server_url}/prescriptions/new/?encounter={scene.encounter_id}&medication={tramadol}"
    )
    blocking = page.locator("#blocking")
    expect(blocking).to_contain_text("Escalate to a video visit first")
    back = blocking.get_by_role("link", name="Back to the online visit")
    expect(back).to_have_attribute("href", f"/staff/cases/{scene.case_id}/review/")
    assert_reads_well(page, screenshot_dir, "prescribing-controlled-refused-phone")

    cetirizine = scene.meds["Cetirizine"]
    page.goto(
        f"{live_server_url}/prescriptions/new/?encounter={scene.encounter_id}"
        f"&medication={cetirizine.pk}"
    )
    expect(page.locator("#back-to-encounter")).to_have_text("← Back to the online visit")
    page.get_by_label("Quantity", exact=True).fill("0")
    page.get_by_label("Days supply", exact=True).fill("")
    page.get_by_role("button", name="Save draft and review").click()
    summary = page.locator(".error-summary")
    expect(summary.get_by_role("link")).to_have_text(
        [
            "Quantity: Ensure this value is greater than or equal to 1.",
            "Days supply: This field is required.",
        ]
    )
    assert_reads_well(page, screenshot_dir, "prescribing-prescribe-errors-phone")
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("Quantity", exact=True)).to_be_focused()
    page.get_by_label("Quantity", exact=True).fill("30")
    page.get_by_label("Days supply", exact=True).fill("30")
    page.get_by_role("button", name="Save draft and review").click()
    expect(page.get_by_text("Draft saved. Review and sign.")).to_be_visible()
    expect(page.locator("#rx-quantity")).to_have_text("30 tablets · 30 days")
    expect(page.locator("#back-to-encounter")).to_have_attribute(
        "href", f"/staff/cases/{scene.case_id}/review/"
    )
    assert_no_duplicate_ids(page)
    assert_reads_well(page, screenshot_dir, "prescribing-draft-phone")

    page.goto(f"{live_server_url}/prescriptions/patients/{alice.pk}/health/")
    assert_no_duplicate_ids(page)
    assert_reads_well(page, screenshot_dir, "prescribing-patient-health-clinician-phone")
    page_problems.assert_clean()


def test_admin_formulary_and_pharmacy_form(
    live_server_url: str,
    new_context: NewContext,
    page_problems: PageProblems,
    screenshot_dir: Path,
    ada: User,
) -> None:
    in_worker(seed_formulary)
    context = new_context()
    sign_in(context, live_server_url, ada)
    page = context.new_page()
    page.goto(f"{live_server_url}/prescriptions/formulary/")
    page.get_by_role("link", name="Add a medication").click()
    page.get_by_label("Name", exact=True).fill("Loratadine")
    page.get_by_label("Generic name").fill("loratadine")
    page.get_by_label("RxNorm code (RxCUI)").fill("28889")
    page.get_by_label("Strengths").fill("10 mg")
    page.get_by_label("Dose forms").fill("tablet")
    page.get_by_label("Route").fill("oral")
    page.get_by_role("button", name="Add to the formulary").click()
    expect(page.get_by_text("Loratadine added to the formulary.")).to_be_visible()
    assert_reads_well(page, screenshot_dir, "prescribing-formulary-phone")

    page.goto(f"{live_server_url}/pharmacy/admin/new/")
    state = page.get_by_label("State", exact=True)
    expect(state).to_have_value("")
    page.get_by_label("Name", exact=True).fill("Riverside Pharmacy")
    page.get_by_role("button", name="Add pharmacy").click()
    expect(page.locator(".error-summary")).to_contain_text(
        "State: Choose the state the pharmacy is in."
    )
    expect(page.get_by_label("Name", exact=True)).to_have_value("Riverside Pharmacy")
    assert_reads_well(page, screenshot_dir, "pharmacy-admin-new-errors-phone")
    page_problems.assert_clean()
