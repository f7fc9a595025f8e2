from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from carepath.accounts.models import User
from carepath.notifications.actions import notify_user
from carepath.notifications.consumers import NotificationConsumer

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(user: Any) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(NotificationConsumer.as_asgi(), "/ws/notifications/")
    communicator.scope["user"] = user
    return communicator


async def test_anonymous_socket_is_closed() -> None:
    communicator = await connect(AnonymousUser())
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4401


async def test_a_new_notification_reaches_only_its_owner(
    alice: User, bob: User, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    alice_socket = await connect(alice)
    bob_socket = await connect(bob)
    assert (await alice_socket.connect())[0]
    assert (await bob_socket.connect())[0]
    await database_sync_to_async(notify_user)(alice, kind="test", title="Your answer is ready")
    message = await alice_socket.receive_json_from(timeout=2)
    assert message["notification"]["title"] == "Your answer is ready"
    assert await bob_socket.receive_nothing(timeout=0.2)
    await alice_socket.disconnect()
    await bob_socket.disconnect()
