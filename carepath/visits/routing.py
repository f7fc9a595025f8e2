from typing import Any

from django.urls import path

from carepath.visits.consumers import VisitSignalConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/visits/<int:visit_id>/", VisitSignalConsumer.as_asgi()),
]
