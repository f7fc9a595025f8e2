from collections.abc import Callable

from django.test import Client

from carepath.access.selectors import may_access_patient
from carepath.accounts.models import User
from carepath.workqueue.models import WorkItem
from carepath.workqueue.registry import register_subject_url
from tests.workqueue.helpers import make_item

ClientFor = Callable[..., Client]


def test_queue_page_lists_what_the_clinician_may_take(
    client_for: ClientFor, alice: User, dr_tex: User, dr_ny: User
) -> None:
    item = make_item(alice, title="Review rash photos")
    page = client_for(dr_tex).get("/staff/queue/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Review rash photos" in html
    assert f"/staff/queue/{item.pk}/claim/" in html
    assert "js/workqueue/queue.js" in html
    assert "Review rash photos" not in client_for(dr_ny).get("/staff/queue/").content.decode()


def test_claim_from_the_page_opens_the_subject(
    client_for: ClientFor, alice: User, dr_tex: User, dr_tex2: User
) -> None:
    register_subject_url("test.case", lambda item: f"/test/cases/{item.subject_id}/")
    item = make_item(alice)
    response = client_for(dr_tex).post(f"/staff/queue/{item.pk}/claim/")
    assert response.status_code == 302
    assert response["Location"] == f"/test/cases/{item.subject_id}/"
    assert may_access_patient(dr_tex, alice.pk)
    lost = client_for(dr_tex2).post(f"/staff/queue/{item.pk}/claim/", follow=True)
    assert "Another clinician has claimed this item." in lost.content.decode()
    assert client_for(dr_tex).post(f"/staff/queue/{item.pk}/release/").status_code == 302
    assert WorkItem.objects.get(pk=item.pk).status == "open"


def test_patients_and_telefacilitators_have_no_queue(
    client_for: ClientFor, alice: User, faye: User, cody: User
) -> None:
    assert client_for(alice).get("/staff/queue/").status_code == 403
    assert client_for(faye).get("/staff/queue/").status_code == 403
    assert client_for(cody).get("/staff/queue/")["Location"] == "/staff/queue/overview/"


def test_coordinator_routes_from_the_overview(
    client_for: ClientFor, alice: User, dr_tex: User, dr_ny: User, cody: User
) -> None:
    item = make_item(alice)
    coordinator = client_for(cody)
    refused = coordinator.post(
        f"/staff/queue/{item.pk}/reassign/", {"clinician_id": dr_ny.pk}, follow=True
    )
    assert "may not take this item" in refused.content.decode()
    coordinator.post(f"/staff/queue/{item.pk}/reassign/", {"clinician_id": dr_tex.pk})
    assert WorkItem.objects.get(pk=item.pk).reassigned_to == dr_tex
    assert client_for(dr_tex).post(f"/staff/queue/{item.pk}/reassign/").status_code == 403
