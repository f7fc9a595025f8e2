"""SMS through an adapter: `SmsSender.send(to, body) -> message id`. The default backend writes
each message to the SmsOutbox table; a carrier adapter would implement the same protocol and be
named by settings.SMS_BACKEND. Bodies must carry no health information."""

from typing import Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string

from carepath.sms.models import SmsOutbox

DEFAULT_BACKEND = "carepath.sms.backends.OutboxSmsSender"
MAX_BODY = 640


@runtime_checkable
class SmsSender(Protocol):
    def send(self, to: str, body: str) -> str:
        """Send one message; return the backend's message id."""
        ...


class OutboxSmsSender:
    """Stores the message instead of sending it (the embedded default and tests)."""

    def send(self, to: str, body: str) -> str:
        message = SmsOutbox.objects.create(to=to[:32], body=body[:MAX_BODY])
        return f"outbox-{message.pk}"


def get_sms_sender() -> SmsSender:
    backend = import_string(getattr(settings, "SMS_BACKEND", DEFAULT_BACKEND))()
    if not isinstance(backend, SmsSender):
        raise TypeError(f"{type(backend).__name__} does not implement SmsSender")
    return backend


def send_sms(to: str, body: str) -> str:
    return get_sms_sender().send(to, body)
