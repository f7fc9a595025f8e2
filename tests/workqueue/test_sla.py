import datetime as dt
from collections.abc import Callable
from typing import Any

from django.core import mail
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.core import clock
from carepath.notifications.models import Notification
from carepath.workqueue.actions import do_claim, do_reassign, do_requeue
from carepath.workqueue.models import SlaBreach, WorkItem
from carepath.workqueue.selectors import sla_status
from carepath.workqueue.tasks import check_sla_breaches, run_sla_check, schedule_next_tick
from tests.workqueue.helpers import make_item

ClientFor = Callable[..., Client]


def test_overdue_item_is_flagged_bumped_and_recorded_once(
    alice: User,
    dr_tex: User,
    dr_tex2: User,
    cody: User,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    clock.freeze(timezone.now().replace(microsecond=0))
    item = make_item(alice, due_in=dt.timedelta(hours=4), title="Rash on forearm")
    do_reassign(cody, item.pk, dr_tex2)
    assert sla_status(item, clock.now()) == "ok"
    clock.advance(dt.timedelta(hours=3, minutes=45))
    assert sla_status(item, clock.now()) == "due_soon"
    assert run_sla_check() == 0  # not due yet

    clock.advance(dt.timedelta(minutes=20))
    with django_capture_on_commit_callbacks(execute=True):
        assert check_sla_breaches.enqueue().return_value == 1
        check_sla_breaches.enqueue()  # the task runs twice: nothing more happens
    assert run_sla_check() == 0

    flagged = WorkItem.objects.get(pk=item.pk)
    assert flagged.sla_breached_at == clock.now()
    assert flagged.priority == 10
    assert flagged.reassigned_to is None  # re-routed to every eligible clinician
    assert sla_status(flagged, clock.now()) == "breached"
    breach = SlaBreach.objects.get(item=item)
    assert breach.due_at == item.due_at
    assert "coordinator" in breach.action_taken
    notices = Notification.objects.filter(user=cody, kind="sla_breach")
    assert notices.count() == 1
    assert AuditEvent.objects.filter(action="work_item.sla_breach").count() == 1
    # The e-mail carries no health information (not the title).
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [cody.email]
    assert "Rash" not in mail.outbox[0].body
    assert "Rash" not in mail.outbox[0].subject
    # Nobody but coordinators is alerted.
    assert not Notification.objects.filter(kind="sla_breach").exclude(user=cody).exists()
    # A claimed item that runs late is flagged too; the holder keeps it.
    do_claim(dr_tex, item.pk)


def test_a_requeued_item_can_breach_again(alice: User, cody: User) -> None:
    clock.freeze(timezone.now().replace(microsecond=0))
    item = make_item(alice, due_in=dt.timedelta(hours=1))
    clock.advance(dt.timedelta(hours=2))
    assert run_sla_check() == 1
    do_requeue(item.pk, due_at=clock.now() + dt.timedelta(hours=1))
    assert sla_status(WorkItem.objects.get(pk=item.pk), clock.now()) == "ok"
    clock.advance(dt.timedelta(hours=2))
    assert run_sla_check() == 1
    assert SlaBreach.objects.filter(item=item).count() == 2


def test_queue_tick_command_runs_both(alice: User, dr_tex: User, cody: User) -> None:
    clock.freeze(timezone.now().replace(microsecond=0))
    late = make_item(alice, due_in=dt.timedelta(minutes=30))
    held = make_item(alice, due_in=dt.timedelta(hours=8))
    do_claim(dr_tex, held.pk)
    clock.advance(dt.timedelta(hours=1))
    call_command("queue_tick", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert WorkItem.objects.get(pk=late.pk).sla_breached_at is not None
    assert WorkItem.objects.get(pk=held.pk).status == "open"


def test_the_check_keeps_itself_scheduled_on_the_database_backend(
    db: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    from django_tasks_db.models import DBTaskResult

    with override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}):
        with django_capture_on_commit_callbacks(execute=True):
            assert schedule_next_tick() is True
        assert schedule_next_tick() is False  # one is already waiting
        pending = DBTaskResult.objects.get(task_path=check_sla_breaches.module_path)
        assert pending.run_after > timezone.now() + dt.timedelta(seconds=30)
    # The immediate backend (tests) cannot defer: no rescheduling there.
    assert schedule_next_tick() is False


def test_coordinator_overview_page_shows_breach(
    client_for: ClientFor, alice: User, dr_tex: User, cody: User
) -> None:
    clock.freeze(timezone.now().replace(microsecond=0))
    item = make_item(alice, due_in=dt.timedelta(minutes=5), kind="waiting_room")
    clock.advance(dt.timedelta(minutes=6))
    run_sla_check()
    page = client_for(cody).get("/staff/queue/overview/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-item-id="{item.pk}" data-sla="breached"' in html
    assert "waiting live" in html
    assert client_for(dr_tex).get("/staff/queue/overview/").status_code == 403
