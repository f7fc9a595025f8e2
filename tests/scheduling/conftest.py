"""Scheduling fixtures: a dermatology service line, dr_tex and dr_ny with weekday hours in
their own zones, and a 30-minute video visit type each."""

import datetime as dt
import importlib
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.tasks import TaskResult, task_backends
from django.tasks.backends.dummy import DummyBackend

from carepath.accounts.models import Specialty, User
from carepath.core import clock
from carepath.intake.models import Questionnaire, ServiceLine
from carepath.scheduling.models import VisitMode, VisitType, WeeklyAvailability

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# A Monday in October 2026, before the November 1 DST change.
MONDAY = dt.date(2026, 10, 19)


def make_service_line(code: str, specialty: str) -> ServiceLine:
    questionnaire, _ = Questionnaire.objects.get_or_create(
        code=f"{code}-intake",
        version=1,
        defaults={"title": f"{code} intake", "definition": {"item": []}},
    )
    line, _ = ServiceLine.objects.get_or_create(
        code=code,
        defaults={
            "name": code.replace("-", " ").title(),
            "questionnaire": questionnaire,
            "sla_minutes": 240,
            "specialty": Specialty.objects.get(code=specialty),
            "allowed_modes": ["async", "video"],
        },
    )
    return line


def weekday_hours(
    clinician: User, start: dt.time, end: dt.time, *, since: dt.date = dt.date(2026, 1, 1)
) -> None:
    for weekday in range(5):
        WeeklyAvailability.objects.create(
            clinician=clinician, weekday=weekday, start_time=start, end_time=end, valid_from=since
        )


def visit_type(
    clinician: User | None,
    line: ServiceLine | None,
    *,
    minutes: int = 30,
    buffer: int = 0,
    requires_intake: bool = False,
) -> VisitType:
    return VisitType.objects.create(
        clinician=clinician,
        name=f"{minutes}-minute video visit",
        duration_minutes=minutes,
        buffer_minutes=buffer,
        mode=VisitMode.VIDEO,
        service_line=line,
        requires_intake=requires_intake,
    )


@pytest.fixture
def derm(clinic: None) -> ServiceLine:
    return make_service_line("dermatology", "dermatology")


@pytest.fixture
def primary(clinic: None) -> ServiceLine:
    return make_service_line("primary-care", "primary-care")


@pytest.fixture
def tex_hours(dr_tex: User, derm: ServiceLine) -> VisitType:
    """dr_tex: Chicago, weekdays 9:00-12:00 local; a 30-minute dermatology video visit."""
    dr_tex.time_zone = "America/Chicago"
    dr_tex.save(update_fields=["time_zone"])
    weekday_hours(dr_tex, dt.time(9), dt.time(12))
    return visit_type(dr_tex, derm)


@pytest.fixture
def ny_hours(dr_ny: User, primary: ServiceLine) -> VisitType:
    dr_ny.time_zone = "America/New_York"
    dr_ny.save(update_fields=["time_zone"])
    weekday_hours(dr_ny, dt.time(9), dt.time(12))
    return visit_type(dr_ny, primary)


@pytest.fixture
def october() -> Iterator[dt.datetime]:
    """The clock at Friday 2026-10-16 12:00 UTC."""
    moment = dt.datetime(2026, 10, 16, 12, tzinfo=dt.UTC)
    clock.freeze(moment)
    yield moment
    clock.unfreeze()


@pytest.fixture
def deferred_tasks() -> Iterator[list[TaskResult[Any, Any]]]:
    """Swap in Django's DummyBackend: it accepts run_after and only records what is enqueued
    (the suite's ImmediateBackend refuses run_after)."""
    backend = DummyBackend(alias="default", params={})
    task_backends["default"] = backend
    try:
        yield backend.results
    finally:
        del task_backends["default"]


# --- Transactional tests (threads need committed rows) ------------------------------------
# The audit table's append-only triggers refuse the flush that ends a transactional test, so
# they are dropped just before it and put back just after it.

_TRIGGERS = importlib.import_module("carepath.audit.migrations.0002_append_only_triggers")


def _audit_triggers_present() -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT 1 FROM pg_trigger WHERE tgname = 'audit_append_only'")
        else:
            cursor.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_no_delete'"
            )
        return cursor.fetchone() is not None


@pytest.fixture
def _audit_triggers_after_flush(django_db_blocker: Any) -> Iterator[None]:
    yield
    with django_db_blocker.unblock():
        if not _audit_triggers_present():
            with connection.schema_editor(atomic=False) as editor:
                _TRIGGERS.create_triggers(django_apps, editor)


@pytest.fixture
def committed_db(_audit_triggers_after_flush: None, transactional_db: None) -> Iterator[None]:
    """A transactional database whose end-of-test flush works despite the audit triggers."""
    yield
    if _audit_triggers_present():
        with connection.schema_editor(atomic=False) as editor:
            _TRIGGERS.drop_triggers(django_apps, editor)
