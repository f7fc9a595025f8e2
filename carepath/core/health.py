"""Readiness checks for /healthz: each answers (ok, detail) and never raises."""

import asyncio
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.tasks import task_backends

Check = dict[str, Any]


def check_database() -> Check:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True, "vendor": connection.vendor, "ms": _ms(started)}


async def _round_trip() -> bool:
    layer = get_channel_layer()
    channel = await layer.new_channel("healthz.")
    await layer.send(channel, {"type": "healthz.ping"})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    return bool(message.get("type") == "healthz.ping")


def check_channel_layer() -> Check:
    started = time.perf_counter()
    layer = get_channel_layer()
    backend = type(layer).__name__ if layer is not None else "none"
    try:
        ok = async_to_sync(_round_trip)()
    except Exception as error:
        return {"ok": False, "backend": backend, "error": type(error).__name__}
    return {"ok": ok, "backend": backend, "ms": _ms(started)}


def check_task_backend() -> Check:
    backend = type(task_backends["default"]).__name__
    try:
        from django_tasks_db.models import DBTaskResult

        waiting = DBTaskResult.objects.filter(status="READY").count()
    except Exception as error:
        return {"ok": False, "backend": backend, "error": type(error).__name__}
    return {"ok": True, "backend": backend, "ready_tasks": waiting}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def run_checks() -> dict[str, Check]:
    return {
        "database": check_database(),
        "channel_layer": check_channel_layer(),
        "task_backend": check_task_backend(),
    }
