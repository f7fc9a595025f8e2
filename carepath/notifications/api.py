import datetime as dt

from django.http import Http404, HttpRequest
from ninja import Router, Schema

from carepath.core.api import current_user
from carepath.notifications.actions import do_mark_read
from carepath.notifications.models import Notification
from carepath.notifications.selectors import notifications_for

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    url: str
    created_at: dt.datetime
    read_at: dt.datetime | None


@router.get("", response=list[NotificationOut], summary="My notifications, newest first")
def list_notifications(request: HttpRequest, unread_only: bool = False) -> list[Notification]:
    return list(notifications_for(current_user(request), unread_only=unread_only)[:100])


@router.post("/{int:notification_id}/read", response=NotificationOut, summary="Mark one as read")
def mark_read(request: HttpRequest, notification_id: int) -> Notification:
    notice = notifications_for(current_user(request)).filter(pk=notification_id).first()
    if notice is None:
        raise Http404("No notification with that id.")
    do_mark_read(current_user(request), notice.pk)
    notice.refresh_from_db()
    return notice
