from collections.abc import Callable
from typing import Any

from carepath.accounts.models import User
from carepath.notifications.actions import notify_user
from carepath.notifications.models import Notification


def test_marking_read_touches_only_my_own_notifications(
    client_for: Callable[..., Any], alice: User, bob: User
) -> None:
    notify_user(alice, kind="test", title="For Alice")
    notify_user(bob, kind="test", title="For Bob")
    bobs = Notification.objects.get(user=bob)
    alice_client = client_for(alice)
    assert alice_client.post(f"/api/v1/notifications/{bobs.pk}/read").status_code == 404
    alice_client.post("/notifications/")
    bobs.refresh_from_db()
    assert bobs.read_at is None
    assert not Notification.objects.filter(user=alice, read_at__isnull=True).exists()
