from functools import partial
from typing import TYPE_CHECKING

from django.db import transaction

from carepath.core import clock
from carepath.notifications.events import publish_to_user
from carepath.notifications.models import Notification
from carepath.notifications.tasks import send_email

if TYPE_CHECKING:
    from carepath.accounts.models import User


def enqueue_email(to: list[str], subject: str, body: str) -> None:
    """Send after the transaction commits, so a rolled-back action mails nobody."""
    transaction.on_commit(partial(send_email.enqueue, to, subject, body))


def notify_user(user: "User", *, kind: str, title: str, body: str = "", url: str = "") -> None:
    notice = Notification.objects.create(user=user, kind=kind, title=title, body=body, url=url)
    publish_created(notice)


def publish_created(notice: Notification) -> None:
    publish_to_user(
        notice.user_id,
        {
            "type": "notification.created",
            "notification": {
                "id": notice.pk,
                "kind": notice.kind,
                "title": notice.title,
                "url": notice.url,
            },
        },
    )


def notify_admins(*, kind: str, title: str, body: str, url: str = "") -> None:
    from carepath.accounts.models import Role, User

    admins = list(User.objects.filter(role=Role.ADMIN, is_active=True))
    for admin in admins:
        notify_user(admin, kind=kind, title=title, body=body, url=url)
    if admins:
        enqueue_email(
            [admin.email for admin in admins],
            f"Carepath: {title}",
            f"{body}\n\nSign in to Carepath to see the details.",
        )


def do_mark_read(user: "User", notification_id: int | None = None) -> int:
    """Mark one notification (or, without an id, all unread ones) of this user as read."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    return unread.update(read_at=clock.now())
