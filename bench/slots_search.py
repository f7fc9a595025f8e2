"""BENCH slots.search.p95: milliseconds for one slot search (service line, 14 days) over 500
clinicians licensed in the patient's state, each with weekday hours in their own zone, some
time off and booked appointments; every slot of the 14 days is computed (no limit). The limit
is the raw part of the same search measured in the same run: the same rows fetched with plain
queries and no slot arithmetic.

Runs in a child process on a throwaway database (a temporary var/ directory for SQLite, or a
uniquely named PostgreSQL database, dropped after, when CAREPATH_DATABASE_URL is set).
Bounded: 500 clinicians, 20 timed searches, a 60-second budget."""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench._format import bench_line

CLINICIANS = int(os.environ.get("BENCH_SLOTS_CLINICIANS", "500"))
DAYS = 14
RUNS = 20
BUDGET_SECONDS = 60.0
ROOT = Path(__file__).resolve().parent.parent
ZONES = ["America/Chicago", "America/New_York", "America/Denver", "America/Los_Angeles"]


@contextmanager
def _throwaway_database() -> Iterator[dict[str, str]]:
    var_dir = Path(tempfile.mkdtemp(prefix="carepath-bench-slots-"))
    env = dict(os.environ)
    env.update(
        {
            "CAREPATH_VAR_DIR": str(var_dir),
            "CAREPATH_TASK_BACKEND": "immediate",
            "CAREPATH_LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "carepath.settings",
            "PYTHONPATH": str(ROOT),
        }
    )
    admin_url = os.environ.get("CAREPATH_DATABASE_URL", "")
    name = f"carepath_bench_{secrets.token_hex(4)}"
    try:
        if admin_url:
            _pg_admin(admin_url, f'CREATE DATABASE "{name}"')
            parts = urlsplit(admin_url)
            env["CAREPATH_DATABASE_URL"] = urlunsplit(
                (parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment)
            )
        yield env
    finally:
        if admin_url:
            _pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(var_dir, ignore_errors=True)


def _pg_admin(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(statement)


def run() -> list[str]:
    with _throwaway_database() as env:
        done = subprocess.run(
            [sys.executable, "-m", "bench.slots_search", "--child"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=BUDGET_SECONDS * 3,
        )
    if done.returncode != 0:
        raise RuntimeError(f"slots bench child failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return [
        bench_line(
            "slots.search.p95",
            result["p95_ms"],
            "ms",
            limit=result["raw_p95_ms"],
            clinicians=result["clinicians"],
            days=DAYS,
            slots=result["slots"],
        ),
        bench_line("slots.search.p50", result["p50_ms"], "ms", limit=result["raw_p50_ms"]),
    ]


# --- Child process ----------------------------------------------------------------------------


def _seed() -> dict[str, Any]:
    import datetime as dt

    from carepath.accounts.models import (
        ClinicianProfile,
        License,
        PatientProfile,
        Role,
        Specialty,
        User,
    )
    from carepath.core import clock
    from carepath.intake.models import Questionnaire, ServiceLine
    from carepath.scheduling.models import (
        Appointment,
        AvailabilityException,
        ExceptionKind,
        VisitMode,
        VisitType,
        WeeklyAvailability,
    )

    specialty = Specialty.objects.create(code="primary-care", name="Primary care")
    questionnaire = Questionnaire.objects.create(
        code="pc", version=1, title="Primary care", definition={"item": []}
    )
    line = ServiceLine.objects.create(
        code="primary-care",
        name="Primary care",
        questionnaire=questionnaire,
        sla_minutes=240,
        specialty=specialty,
    )
    patient = User.objects.create_user(
        "bench.patient@example.com", None, role=Role.PATIENT, time_zone="America/Chicago"
    )
    PatientProfile.objects.create(user=patient, date_of_birth=dt.date(1990, 1, 1), state="TX")
    users = User.objects.bulk_create(
        [
            User(
                email=f"bench.doc{n}@example.com",
                role=Role.CLINICIAN,
                first_name="Doc",
                last_name=str(n),
                time_zone=ZONES[n % len(ZONES)],
            )
            for n in range(CLINICIANS)
        ]
    )
    if not all(user.pk for user in users):
        users = list(User.objects.filter(role=Role.CLINICIAN).order_by("pk"))
    profiles = ClinicianProfile.objects.bulk_create(
        [ClinicianProfile(user=user, npi=f"{n:010d}") for n, user in enumerate(users)]
    )
    if not all(profile.pk for profile in profiles):
        profiles = list(ClinicianProfile.objects.order_by("pk"))
    ClinicianProfile.specialties.through.objects.bulk_create(
        [
            ClinicianProfile.specialties.through(clinicianprofile=p, specialty=specialty)
            for p in profiles
        ]
    )
    today = clock.now().date()
    License.objects.bulk_create(
        [
            License(clinician=p, state="TX", expires_on=today + dt.timedelta(days=365))
            for p in profiles
        ]
    )
    WeeklyAvailability.objects.bulk_create(
        [
            WeeklyAvailability(
                clinician=user,
                weekday=weekday,
                start_time=dt.time(8 + n % 3),
                end_time=dt.time(16 + n % 3),
                valid_from=today - dt.timedelta(days=30),
            )
            for n, user in enumerate(users)
            for weekday in range(5)
        ]
    )
    visit_type = VisitType.objects.create(
        name="Visit", duration_minutes=30, mode=VisitMode.VIDEO, service_line=line
    )
    now = clock.now().replace(minute=0, second=0, microsecond=0)
    AvailabilityException.objects.bulk_create(
        [
            AvailabilityException(
                clinician=user,
                kind=ExceptionKind.TIME_OFF,
                starts_at=now + dt.timedelta(days=3 + n % 7),
                ends_at=now + dt.timedelta(days=3 + n % 7, hours=4),
            )
            for n, user in enumerate(users[::5])
        ]
    )
    appointments = []
    for n, user in enumerate(users):
        for k in range(4):
            start = now + dt.timedelta(days=1 + (n + k) % DAYS, hours=k)
            appointments.append(
                Appointment(
                    patient=patient,
                    clinician=user,
                    visit_type=visit_type,
                    starts_at=start,
                    ends_at=start + dt.timedelta(minutes=30),
                    blocks_until=start + dt.timedelta(minutes=30),
                    patient_state="TX",
                )
            )
    Appointment.objects.bulk_create(appointments)
    return {"patient": patient, "line": line}


def _raw_fetch(patient: Any, line: Any, start: Any, end: Any) -> int:
    """The rows the search needs, fetched with plain queries and nothing computed."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.user_id, l.expires_on FROM accounts_license l "
            "JOIN accounts_clinicianprofile p ON p.id = l.clinician_id "
            "JOIN accounts_clinicianprofile_specialties s ON s.clinicianprofile_id = p.id "
            "WHERE l.state = %s AND l.expires_on >= %s AND s.specialty_id = %s",
            ["TX", start.date(), line.specialty_id],
        )
        ids = [row[0] for row in cursor.fetchall()]
        total = len(ids)
        for sql, params in (
            ("SELECT * FROM scheduling_visittype WHERE active", []),
            ("SELECT * FROM scheduling_weeklyavailability", []),
            (
                "SELECT * FROM scheduling_availabilityexception WHERE starts_at < %s "
                "AND ends_at > %s",
                [end, start],
            ),
            (
                "SELECT clinician_id, starts_at, blocks_until FROM scheduling_appointment "
                "WHERE status = 'booked' AND starts_at < %s AND blocks_until > %s",
                [end, start],
            ),
        ):
            cursor.execute(sql, params)
            total += len(cursor.fetchall())
    return total


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def child() -> None:
    import datetime as dt

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    deadline = time.monotonic() + BUDGET_SECONDS
    from carepath.core import clock
    from carepath.scheduling.selectors import available_slots, zone_of

    seeded = _seed()
    patient, line = seeded["patient"], seeded["line"]
    start_date = clock.now().astimezone(zone_of(patient)).date()
    start = clock.now()
    end = start + dt.timedelta(days=DAYS)
    timings: list[float] = []
    raw: list[float] = []
    slots = 0
    for _ in range(RUNS):
        if time.monotonic() > deadline:
            break
        began = time.perf_counter()
        found = available_slots(
            service_line=line, patient=patient, start_date=start_date, days=DAYS
        )
        timings.append((time.perf_counter() - began) * 1000)
        slots = len(found)
        began = time.perf_counter()
        _raw_fetch(patient, line, start, end)
        raw.append((time.perf_counter() - began) * 1000)
    print(
        json.dumps(
            {
                "p95_ms": round(_percentile(timings, 0.95), 2),
                "p50_ms": round(_percentile(timings, 0.5), 2),
                "raw_p95_ms": round(_percentile(raw, 0.95), 2),
                "raw_p50_ms": round(_percentile(raw, 0.5), 2),
                "clinicians": CLINICIANS,
                "slots": slots,
                "runs": len(timings),
            }
        )
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    else:
        for output in run():
            print(output)
