"""Visit links: signed, bound to one visit and one participant, usable only in a window around
the visit (the clock seam moves time), single-use for guests, refused with a clear page and an
audited denial when wrong, expired, revoked or for another visit."""

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.core import clock
from carepath.visits import actions
from carepath.visits.models import AdmissionState, Participant, Visit
from carepath.visits.tokens import read_token

T0 = dt.datetime(2031, 3, 4, 15, 0, tzinfo=dt.UTC)


def link_for(visit: Visit, user: User, by: User, role: str = "patient") -> str:
    _link, token = actions.do_issue_link(visit, by=by, role=role, user=user)
    return actions.link_path(visit.pk, token)


def denials(code: str) -> int:
    return AuditEvent.objects.filter(
        action="visit_link.open", outcome="denied", detail__code=code
    ).count()


@pytest.fixture
def timed_visit(alice: User, dr_tex: User, visit_factory: Callable[..., Visit]) -> Visit:
    """Booked at T0-2h for T0..T0+20min."""
    clock.freeze(T0 - dt.timedelta(hours=2))
    return visit_factory(alice, dr_tex, starts_at=T0)


def test_link_works_only_from_15_minutes_before_to_30_after(
    timed_visit: Visit, alice: User, dr_tex: User
) -> None:
    link, token = actions.do_issue_link(timed_visit, by=dr_tex, role="patient", user=alice)
    assert link.valid_from == T0 - dt.timedelta(minutes=15)
    assert link.valid_until == T0 + dt.timedelta(minutes=20 + 30)
    assert link.token_hash not in token  # only a hash is stored
    clock.freeze(T0 - dt.timedelta(minutes=16))
    with pytest.raises(actions.LinkRefused) as early:
        actions.check_link(token, timed_visit.pk)
    assert early.value.code == "not_yet"
    clock.freeze(T0 - dt.timedelta(minutes=15))
    assert actions.check_link(token, timed_visit.pk) == link
    clock.freeze(T0 + dt.timedelta(minutes=49, seconds=59))
    assert actions.check_link(token, timed_visit.pk) == link
    clock.freeze(T0 + dt.timedelta(minutes=50))
    with pytest.raises(actions.LinkRefused) as late:
        actions.check_link(token, timed_visit.pk)
    assert late.value.code == "expired"


def test_expired_link_page_is_a_clear_refusal_and_audited(
    timed_visit: Visit, alice: User, dr_tex: User
) -> None:
    path = link_for(timed_visit, alice, dr_tex)
    clock.freeze(T0 + dt.timedelta(hours=2))
    response = Client().get(path)
    assert response.status_code == 403
    assert b"This link has expired" in response.content
    event = AuditEvent.objects.get(action="visit_link.open", outcome="denied")
    assert event.detail["code"] == "expired"
    assert event.patient_id == alice.pk


def test_tampered_and_other_visit_tokens_are_refused_before_any_query(
    visit: Visit,
    alice: User,
    bob: User,
    dr_tex: User,
    visit_factory: Callable[..., Visit],
    django_assert_num_queries: Callable[..., AbstractContextManager[object]],
) -> None:
    _link, token = actions.do_issue_link(visit, by=dr_tex, role="patient", user=alice)
    other = visit_factory(bob, dr_tex)
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with django_assert_num_queries(0):
        with pytest.raises(actions.LinkRefused) as tampered:
            actions.check_link(flipped, visit.pk)
        with pytest.raises(actions.LinkRefused) as elsewhere:
            actions.check_link(token, other.pk)
    assert tampered.value.code == "tampered"
    assert elsewhere.value.code == "other_visit"
    assert read_token(token, visit.pk).visit_id == visit.pk


def test_wrong_and_other_visit_link_pages(
    visit: Visit, alice: User, bob: User, dr_tex: User, visit_factory: Callable[..., Visit]
) -> None:
    path = link_for(visit, alice, dr_tex)
    other = visit_factory(bob, dr_tex)
    response = Client().get(path.replace(f"/visits/{visit.pk}/", f"/visits/{other.pk}/"))
    assert response.status_code == 404
    assert b"This link is for a different visit" in response.content
    response = Client().get(f"/visits/{visit.pk}/join/not-a-real-token/")
    assert response.status_code == 404
    assert b"This visit link is not valid" in response.content
    assert denials("other_visit") == 1
    assert denials("tampered") == 1


def test_patient_link_admits_to_the_waiting_room_only(
    visit: Visit, alice: User, dr_tex: User
) -> None:
    browser = Client()
    response = browser.get(link_for(visit, alice, dr_tex))
    assert response.status_code == 302
    assert response["Location"] == f"/visits/{visit.pk}/wait/"
    # The room is not reachable before the clinician admits: back to the waiting room.
    room = browser.get(f"/visits/{visit.pk}/")
    assert room.status_code == 302
    assert room["Location"] == f"/visits/{visit.pk}/wait/"
    waiting = browser.get(f"/visits/{visit.pk}/wait/")
    assert waiting.status_code == 200
    assert b"Waiting room" in waiting.content


def test_someone_elses_link_is_refused_for_a_signed_in_patient(
    visit: Visit, alice: User, bob: User, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    response = client_for(bob).get(link_for(visit, alice, dr_tex))
    assert response.status_code == 403
    assert b"sent to someone else" in response.content
    assert denials("wrong_person") == 1
    assert not Participant.objects.filter(visit=visit, user=bob).exists()


def test_a_staff_link_needs_the_staff_member_signed_in(
    visit: Visit, faye: User, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    path = link_for(visit, faye, dr_tex, role="telefacilitator")
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    response = client_for(faye).get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/visits/{visit.pk}/wait/"
    assert Visit.objects.get(pk=visit.pk).facilitated


def test_guest_link_is_single_use(
    visit: Visit, alice: User, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    response = client_for(alice).post(
        f"/api/v1/visits/{visit.pk}/invites",
        {"role": "caregiver", "name": "Rosa (daughter)"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    path = response.json()["url"]
    guest = Client()
    assert b"Your name" in guest.get(path).content
    response = guest.post(path, {"name": "Rosa"})
    assert response["Location"] == f"/visits/{visit.pk}/wait/"
    participant = Participant.objects.get(visit=visit, link__isnull=False)
    assert (participant.display_name, participant.state) == ("Rosa", AdmissionState.WAITING)
    # A second browser with the same link gets nothing, before and after admission.
    assert Client().get(path).status_code == 403
    actions.do_admit(dr_tex, visit.pk, participant.pk)
    assert participant.link is not None
    participant.link.refresh_from_db()
    assert participant.link.consumed_at is not None
    refused = Client().get(path)
    assert refused.status_code == 403
    assert b"already been used" in refused.content
    assert denials("used") == 2
    # The guest's own browser keeps its place.
    assert guest.get(f"/visits/{visit.pk}/").status_code == 200


def test_revoked_link_is_refused(visit: Visit, alice: User, dr_tex: User) -> None:
    link, token = actions.do_issue_link(visit, by=dr_tex, role="patient", user=alice)
    actions.do_revoke_link(dr_tex, link.pk)
    response = Client().get(actions.link_path(visit.pk, token))
    assert response.status_code == 403
    assert b"cancelled by the care team" in response.content


def test_who_may_not_issue_links(
    visit: Visit, alice: User, bob: User, dr_ny: User, client_for: Callable[..., Client]
) -> None:
    for outsider in (bob, dr_ny):
        response = client_for(outsider).post(
            f"/api/v1/visits/{visit.pk}/invites",
            {"role": "interpreter", "name": "Someone"},
            content_type="application/json",
        )
        assert response.status_code == 404
    response = client_for(alice).post(
        f"/api/v1/visits/{visit.pk}/links",
        {"role": "patient", "user_id": alice.pk},
        content_type="application/json",
    )
    assert response.status_code == 403  # patients invite guests, they do not mint links
    assert AuditEvent.objects.filter(action="visit_invite.create", outcome="denied").count() == 2
