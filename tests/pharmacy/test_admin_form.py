"""The admin's pharmacy form: the state has no default (a pharmacy saved in the wrong state
would take that state's prescriptions), so it must be chosen."""

from collections.abc import Callable

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.pharmacy.models import Pharmacy

pytestmark = pytest.mark.django_db

NEW = "/pharmacy/admin/new/"


def pharmacy_body(**overrides: str) -> dict[str, str]:
    body = {
        "ncpdp_id": "4499001",
        "name": "Riverside Pharmacy",
        "address_line": "12 River Rd",
        "city": "Houston",
        "state": "TX",
        "postal_code": "77002",
        "phone": "713-555-0100",
        "adapter": "outbox",
        "accepts_controlled": "on",
        "active": "on",
    }
    body.update(overrides)
    return body


def test_state_starts_empty_and_must_be_chosen(
    ada: User, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    admin = client_for(ada)
    page = admin.get(NEW).content.decode()
    assert '<option value="" selected>Choose a state</option>' in page
    assert 'value="AL" selected' not in page

    missing = admin.post(NEW, pharmacy_body(state=""))
    assert missing.status_code == 400
    html = missing.content.decode()
    assert '<a href="#id_state">State: Choose the state the pharmacy is in.</a>' in html
    assert 'value="Riverside Pharmacy"' in html  # what was typed is kept
    assert not Pharmacy.objects.filter(ncpdp_id="4499001").exists()

    saved = admin.post(NEW, pharmacy_body())
    assert saved.status_code == 302
    assert Pharmacy.objects.get(ncpdp_id="4499001").state == "TX"
    assert client_for(dr_tex).post(NEW, pharmacy_body(ncpdp_id="4499002")).status_code in (
        403,
        404,
    )
    assert not Pharmacy.objects.filter(ncpdp_id="4499002").exists()
