"""A live-visit red flag's patient page says where the visit stands: waiting for the next
available clinician until one takes it, then that this clinician is ready."""

import datetime as dt
from collections.abc import Callable

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.core import clock
from carepath.intake.models import ServiceLine
from carepath.visits.actions import do_take_on_demand
from carepath.visits.models import Visit
from tests.intake.test_review import derm_case

pytestmark = pytest.mark.django_db

ClientFor = Callable[..., Client]


def test_red_flag_visit_is_worded_by_its_state(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: ClientFor
) -> None:
    clock.freeze(dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC))
    case = derm_case(alice, lines, spreading=True, fever=True, temperature=102.5)
    visit = Visit.objects.get(patient=alice)
    patient = client_for(alice)

    waiting = patient.get(f"/patient/visits/{case.pk}/").content.decode()
    assert "waiting for the next available clinician" in waiting
    assert "is ready to see you" not in waiting
    assert waiting.count("next available clinician") == 1  # said once, not twice
    assert 'id="join-visit"' in waiting

    do_take_on_demand(dr_tex, visit.pk)
    ready = patient.get(f"/patient/visits/{case.pk}/").content.decode()
    assert f"{dr_tex.display_name} is ready to see you in a live visit." in ready
    assert "next available clinician" not in ready
    assert f'href="/visits/{visit.pk}/wait/" class="button" id="join-visit"' in ready

    review = client_for(dr_tex).get(f"/staff/cases/{case.pk}/review/").content.decode()
    assert f"open now</strong> with {dr_tex.display_name}" in review
