from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from carepath.notifications.events import user_group


class NotificationConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Pushes a signed-in user's new notifications; anonymous sockets are closed."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        return  # server-to-client only

    async def notification_created(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "notification", "notification": event["notification"]})
