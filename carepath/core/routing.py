"""WebSocket routes of every domain, gathered in one list."""

from typing import Any

from django.urls import path

from carepath.messaging.consumers import ThreadConsumer
from carepath.notifications.consumers import NotificationConsumer
from carepath.visits.consumers import VisitSignalConsumer
from carepath.workqueue.consumers import QueueConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    path("ws/queue/", QueueConsumer.as_asgi()),
    path("ws/visits/<int:visit_id>/", VisitSignalConsumer.as_asgi()),
    path("ws/messages/<int:thread_id>/", ThreadConsumer.as_asgi()),
]
