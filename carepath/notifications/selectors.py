from typing import TYPE_CHECKING

from django.db.models import QuerySet

if TYPE_CHECKING:
    from carepath.accounts.models import User

from carepath.notifications.models import Notification


def notifications_for(user: "User", *, unread_only: bool = False) -> QuerySet[Notification]:
    notices = Notification.objects.filter(user=user)
    return notices.filter(read_at__isnull=True) if unread_only else notices
