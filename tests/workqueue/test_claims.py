import datetime as dt

import pytest
from django.utils import timezone

from carepath.access.models import CareRelationship
from carepath.access.selectors import access_patient, may_access_patient
from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.workqueue.actions import (
    do_cancel,
    do_claim,
    do_claim_next,
    do_complete,
    do_enqueue,
    do_reassign,
    do_release,
    do_renew_lease,
    do_requeue,
)
from carepath.workqueue.models import WorkItem, WorkItemStatus
from carepath.workqueue.selectors import eligible_items_for
from carepath.workqueue.tasks import run_lease_expiry
from tests.workqueue.helpers import make_item


@pytest.fixture(autouse=True)
def _frozen() -> None:
    # Now (licenses run a year from today), frozen so leases can be checked to the second.
    clock.freeze(timezone.now().replace(microsecond=0))


def test_claim_is_a_lease_and_opens_the_record(alice: User, dr_tex: User) -> None:
    item = make_item(alice)
    assert not may_access_patient(dr_tex, alice.pk)
    claimed = do_claim(dr_tex, item.pk)
    assert claimed.status == WorkItemStatus.CLAIMED
    assert claimed.claimed_by == dr_tex
    assert claimed.lease_expires_at == clock.now() + dt.timedelta(minutes=15)
    relationship = CareRelationship.objects.get(staff=dr_tex, patient=alice)
    assert relationship.kind == "work_item"
    assert relationship.source_id == str(item.pk)
    assert access_patient(dr_tex, alice.pk).user == alice
    assert AuditEvent.objects.filter(action="work_item.claim", patient_id=alice.pk).exists()
    # Claiming again renews, and does not add a second relationship.
    clock.advance(dt.timedelta(minutes=5))
    assert do_claim(dr_tex, item.pk).lease_expires_at == clock.now() + dt.timedelta(minutes=15)
    assert CareRelationship.objects.filter(staff=dr_tex, patient=alice).count() == 1


def test_a_second_clinician_loses_the_race(alice: User, dr_tex: User, dr_tex2: User) -> None:
    item = make_item(alice)
    do_claim(dr_tex, item.pk)
    with pytest.raises(ActionRefused) as refused:
        do_claim(dr_tex2, item.pk)
    assert refused.value.code == "already_claimed"
    assert refused.value.status == 409
    assert AuditEvent.objects.filter(
        action="work_item.claim", actor_id=dr_tex2.pk, outcome="denied"
    ).exists()
    assert not may_access_patient(dr_tex2, alice.pk)
    # The item left dr_tex2's list while held.
    assert item.pk not in set(eligible_items_for(dr_tex2).values_list("pk", flat=True))


def test_an_ineligible_clinician_cannot_claim(alice: User, dr_ny: User, cody: User) -> None:
    item = make_item(alice, state="TX", specialty="primary-care")
    for user in (dr_ny, cody, alice):
        with pytest.raises(ActionRefused) as refused:
            do_claim(user, item.pk)
        assert refused.value.status == 404
    assert WorkItem.objects.get(pk=item.pk).status == WorkItemStatus.OPEN


def test_renew_release_and_complete(alice: User, dr_tex: User, dr_tex2: User) -> None:
    item = make_item(alice)
    do_claim(dr_tex, item.pk)
    with pytest.raises(ActionRefused):
        do_renew_lease(dr_tex2, item.pk)
    clock.advance(dt.timedelta(minutes=10))
    renewed = do_renew_lease(dr_tex, item.pk)
    assert renewed.lease_expires_at == clock.now() + dt.timedelta(minutes=15)

    released = do_release(dr_tex, item.pk)
    assert released.status == WorkItemStatus.OPEN
    assert released.claimed_by is None
    assert released.lease_expires_at is None
    assert not may_access_patient(dr_tex, alice.pk)  # the claim's access ended

    do_claim(dr_tex2, item.pk)
    with pytest.raises(ActionRefused) as refused:
        do_complete(dr_tex, item.pk)
    assert refused.value.code == "not_held"
    done = do_complete(dr_tex2, item.pk)
    assert done.status == WorkItemStatus.DONE
    assert done.completed_at == clock.now()
    assert done.claimed_by == dr_tex2
    assert may_access_patient(dr_tex2, alice.pk)  # the treating clinician keeps access
    with pytest.raises(ActionRefused) as finished:
        do_claim(dr_tex, item.pk)
    assert finished.value.code in {"not_open", "not_found"}


def test_an_expired_lease_can_be_taken_and_is_returned(
    alice: User, dr_tex: User, dr_tex2: User
) -> None:
    item = make_item(alice)
    do_claim(dr_tex, item.pk)
    clock.advance(dt.timedelta(minutes=16))
    assert item.pk in set(eligible_items_for(dr_tex2).values_list("pk", flat=True))
    taken = do_claim(dr_tex2, item.pk)
    assert taken.claimed_by == dr_tex2
    assert not may_access_patient(dr_tex, alice.pk)
    with pytest.raises(ActionRefused):
        do_renew_lease(dr_tex, item.pk)

    clock.advance(dt.timedelta(minutes=16))
    assert run_lease_expiry() == 1
    assert run_lease_expiry() == 0  # idempotent
    returned = WorkItem.objects.get(pk=item.pk)
    assert returned.status == WorkItemStatus.OPEN
    assert returned.claimed_by is None
    assert not may_access_patient(dr_tex2, alice.pk)


def test_claim_next_takes_the_most_urgent(alice: User, dr_tex: User, dr_tex2: User) -> None:
    later = make_item(alice, due_in=dt.timedelta(hours=8))
    urgent = make_item(alice, due_in=dt.timedelta(minutes=10), kind="on_demand")
    assert do_claim_next(dr_tex) == urgent
    second = do_claim_next(dr_tex2)
    assert second is not None
    assert second.pk == later.pk
    assert do_claim_next(dr_tex) is None


def test_enqueue_is_idempotent_per_subject(alice: User) -> None:
    first = do_enqueue(
        kind="async_case",
        patient=alice,
        subject_type="intake.case",
        subject_id="77",
        title="Case 77",
        due_at=clock.now() + dt.timedelta(hours=4),
        required_state="TX",
    )
    again = do_enqueue(
        kind="async_case",
        patient=alice,
        subject_type="intake.case",
        subject_id="77",
        title="Case 77",
        due_at=clock.now() + dt.timedelta(hours=9),
    )
    assert again.pk == first.pk
    assert WorkItem.objects.filter(subject_id="77").count() == 1


def test_requeue_starts_a_fresh_clock(alice: User, dr_tex: User) -> None:
    item = make_item(alice, due_in=dt.timedelta(hours=4))
    do_claim(dr_tex, item.pk)
    do_complete(dr_tex, item.pk)  # e.g. asked the patient for more information
    clock.advance(dt.timedelta(hours=30))
    due = clock.now() + dt.timedelta(hours=4)
    back = do_requeue(item.pk, due_at=due)
    assert back.status == WorkItemStatus.OPEN
    assert back.due_at == due
    assert back.sla_breached_at is None
    assert back.claimed_by is None
    assert item.pk in set(eligible_items_for(dr_tex).values_list("pk", flat=True))


def test_cancel_keeps_the_record(alice: User, dr_tex: User) -> None:
    item = make_item(alice)
    do_claim(dr_tex, item.pk)
    cancelled = do_cancel(item.pk, "patient withdrew")
    assert cancelled.status == WorkItemStatus.CANCELLED
    assert WorkItem.objects.filter(pk=item.pk).exists()
    with pytest.raises(ActionRefused):
        do_requeue(item.pk, due_at=clock.now())


def test_only_coordinators_reassign_and_only_to_eligible_clinicians(
    alice: User, dr_tex: User, dr_tex2: User, dr_ny: User, cody: User
) -> None:
    item = make_item(alice)
    do_claim(dr_tex, item.pk)
    with pytest.raises(ActionRefused) as refused:
        do_reassign(dr_tex, item.pk, dr_tex2)
    assert refused.value.status == 403
    with pytest.raises(ActionRefused) as ineligible:
        do_reassign(cody, item.pk, dr_ny)
    assert ineligible.value.code == "not_eligible"
    assert AuditEvent.objects.filter(action="work_item.reassign", outcome="denied").count() == 2

    routed = do_reassign(cody, item.pk, dr_tex2)
    assert routed.reassigned_to == dr_tex2
    assert routed.status == WorkItemStatus.OPEN  # dr_tex lost the claim
    assert not may_access_patient(dr_tex, alice.pk)
    assert item.pk not in set(eligible_items_for(dr_tex).values_list("pk", flat=True))
    with pytest.raises(ActionRefused):
        do_claim(dr_tex, item.pk)
    assert do_claim(dr_tex2, item.pk).claimed_by == dr_tex2
    assert AuditEvent.objects.filter(action="work_item.reassign", outcome="allowed").exists()
