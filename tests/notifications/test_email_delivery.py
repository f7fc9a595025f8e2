"""E-mail really leaves through SMTP (a local aiosmtpd server), and the database task backend
really runs the send task through its worker."""

import socket
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.test import override_settings

from carepath.notifications.tasks import send_email


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def smtp_mailers(port: int) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "use_tls": False, "timeout": 5},
        }
    }


def test_send_email_task_delivers_over_smtp(smtp_inbox: tuple[Inbox, int]) -> None:
    inbox, port = smtp_inbox
    with override_settings(MAILERS=smtp_mailers(port)):
        send_email.call(["pat@example.com"], "Carepath: hello", "You have a new message.")
    assert len(inbox.messages) == 1
    assert inbox.messages[0]["To"] == "pat@example.com"
    assert inbox.messages[0]["Subject"] == "Carepath: hello"


def reset_task_backends() -> None:
    """django.tasks caches its backends and ignores setting changes; start it afresh."""
    from asgiref.local import Local
    from django.tasks import task_backends

    handler: Any = task_backends
    handler.__dict__.pop("settings", None)
    handler._settings = None
    handler._connections = Local(handler.thread_critical)


@pytest.mark.django_db(transaction=True)
def test_database_backend_queues_and_the_worker_sends(smtp_inbox: tuple[Inbox, int]) -> None:
    from django_tasks_db.models import DBTaskResult

    inbox, port = smtp_inbox
    database_tasks = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    with override_settings(TASKS=database_tasks, MAILERS=smtp_mailers(port)):
        reset_task_backends()
        try:
            result = send_email.using(backend="default").enqueue(
                ["coordinator@example.com"], "Carepath: queue alert", "A case is overdue."
            )
            assert DBTaskResult.objects.filter(id=result.id, status="READY").exists()
            assert inbox.messages == []
            call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)
            assert DBTaskResult.objects.get(id=result.id).status == "SUCCESSFUL"
            assert [m["Subject"] for m in inbox.messages] == ["Carepath: queue alert"]
        finally:
            reset_task_backends()
