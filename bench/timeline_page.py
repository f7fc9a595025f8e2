"""BENCH timeline.first_page.p95 and timeline.deep_page.p95: milliseconds for one page (limit
50) of an episode's unified timeline as the clinician who cares for the patient reads it,
through the selector the page and the API call (carepath.care.selectors.episode_timeline:
access check + audit row + every registered source + merge; they add only rendering).
first_page has no `before`; deep_page has `before` at the middle of the episode's history.

The episode holds four months of care: a dermatology case with 3 photos (real uploads,
encrypted with thumbnails) escalated to a video visit, two more video visits escalated from
the same case (each switching video -> audio -> video, with vitals and a signed note), a
prescription signed in the last visit, a patient thread of the episode with 2,000 messages,
and a hypertension monitoring enrollment tied to the episode with 20,000 device readings
(systolic, diastolic and pulse every ~26 minutes). The structure goes through the real
actions; the messages and readings are bulk-inserted with consistent seq/timestamps.

The limit is the raw floor of the same read measured in the same run on the same database:
the 50 newest rows of the largest source table (rpm_reading) fetched with one SQL query on
its (device, effective_at, measure) index. Ratio: value/limit, as DESIGN.md defines it and
slots.search.p95 prints it: how many indexed reads of 50 rows one whole timeline page costs
(lower is better; 1.0 would be the floor).

Comment lines (# timeline.source ...) give each registered source's own median time, once
for the first page and once for the deep page, so the slowest source can be named.

Runs in child processes on a throwaway database (SQLite in a temporary var/ directory, or a
uniquely named PostgreSQL database dropped after, when CAREPATH_DATABASE_URL is set). On
PostgreSQL the tables are ANALYZEd after the bulk inserts (autovacuum would do it in
production). Bounded: after a warm-up of WARMUP pages, MIN_RUNS to RUNS timed pages of each
kind (interleaved with the raw read; past MIN_RUNS only within MEASURE_SECONDS): about 90 s
in all, most of it migrations. Each page writes its audit row, as a real read does."""

import datetime as dt
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench._format import bench_line
from bench._support import run_python as _django
from bench._support import throwaway_database

LIMIT = 50
WARMUP = 3
RUNS = int(os.environ.get("BENCH_TIMELINE_RUNS", "25"))
MIN_RUNS = 20
MEASURE_SECONDS = 20.0
SOURCE_RUNS = 3
MESSAGES = 2_000
READINGS = 20_000
PHOTOS = 3
VISITS = 3
HISTORY_DAYS = 120
READING_MEASURES = (
    ("bp_systolic", 128.0, "mm[Hg]"),
    ("bp_diastolic", 80.0, "mm[Hg]"),
    ("heart_rate", 68.0, "/min"),
)
PATIENT_LINES = (
    "The patches on my elbows look a little lighter today.",
    "It itched more after the shower last night, is that normal?",
    "My blood pressure cuff showed a higher number this morning.",
    "I ran out of the moisturizer, can I use any brand?",
    "Thank you, I will keep applying the cream twice a day.",
)
CLINICIAN_LINES = (
    "That is expected in the first week; keep going with the cream twice a day.",
    "Any fragrance-free moisturizer is fine. Apply it after the cream has dried.",
    "Your readings look steady. Please keep measuring at the same time each morning.",
    "Send a new photo in good light if the redness spreads past the elbow.",
    "Good to hear. We will review everything at the follow-up visit.",
)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run() -> list[str]:
    phases: dict[str, float] = {}
    began = time.perf_counter()
    with throwaway_database("timeline") as env:
        _django(env, "manage.py", "migrate", "--noinput", "--verbosity", "0", timeout=240)
        phases["migrate"] = time.perf_counter() - began
        seeded_out = _django(env, "-m", "bench.timeline_page", "--seed", timeout=240)
        seeded = json.loads(seeded_out.strip().splitlines()[-1])
        phases["seed"] = time.perf_counter() - began - sum(phases.values())
        measured_out = _django(
            env, "-m", "bench.timeline_page", "--measure", json.dumps(seeded), timeout=240
        )
        phases["measure"] = time.perf_counter() - began - sum(phases.values())
    result: dict[str, Any] = json.loads(measured_out.strip().splitlines()[-1])
    took = " ".join(f"{name}={seconds:.1f}s" for name, seconds in phases.items())
    return [*_lines(result), f"# timeline phases: {took}"]


def _lines(result: dict[str, Any]) -> list[str]:
    raw = float(result["raw_p95_ms"])
    lines = []
    for name in ("first", "deep"):
        value = float(result[f"{name}_p95_ms"])
        lines.append(
            bench_line(
                f"timeline.{name}_page.p95",
                round(value, 2),
                "ms",
                raw,
                p50=f"{result[f'{name}_p50_ms']:.3g}",
                runs=result["runs"],
                entries=result[f"{name}_entries"],
                queries=result[f"{name}_queries"],
            )
        )
    lines.append(f"# timeline seeded: {result['seed']}; raw limit plan: {result['raw_plan']}")
    for source in result["sources"]:
        lines.append(
            f"# timeline.source {source['name']} first={source['first_ms']:.2f} ms "
            f"deep={source['deep_ms']:.2f} ms entries={source['entries']} "
            f"queries={source['queries']}"
        )
    return lines


# --- Child process: the seed -------------------------------------------------------------------


def _jpeg(color: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 480), color).save(out, "JPEG", quality=85)
    return out.getvalue()


def _totp_code(user: Any) -> str:
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    code: str = format_hotp_value(hotp_value(user.totp_secret, int(time.time()) // 30))
    return code


def seed() -> dict[str, Any]:
    """(In the child process.) The patient, the clinician and the episode told in the module
    docstring, starting HISTORY_DAYS ago on a frozen clock."""
    from carepath.core import clock
    from tests.personas import make_clinic, make_clinician, make_patient

    make_clinic()
    patient = make_patient("bench.timeline.patient@example.com", "TX")
    doctor = make_clinician(
        "bench.timeline.doc@example.com", "1234567893", ["TX"], ["dermatology", "primary-care"]
    )
    start = (clock.now() - dt.timedelta(days=HISTORY_DAYS)).replace(second=0, microsecond=0)
    clock.freeze(start)
    try:
        case = _submit_case(patient, doctor)
        episode_id = case.episode_id
        assert episode_id is not None
        for number in range(VISITS):
            clock.freeze(start + dt.timedelta(days=number * 40, hours=1))
            _live_visit(case, patient, doctor, number, prescribe=number == VISITS - 1)
        clock.freeze(start + dt.timedelta(days=1))
        device_id = _enroll(patient, doctor, episode_id)
        clock.freeze(start + dt.timedelta(hours=2))
        _messages(patient, doctor, episode_id, start + dt.timedelta(hours=2))
    finally:
        clock.unfreeze()
    _readings(patient.pk, device_id, start + dt.timedelta(days=1, minutes=10))
    _analyze()
    return {
        "patient_id": patient.pk,
        "clinician_id": doctor.pk,
        "episode_id": episode_id,
        "device_id": device_id,
    }


def _submit_case(patient: Any, doctor: Any) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from carepath.core import clock
    from carepath.files.actions import do_store_upload
    from carepath.intake.actions import do_escalate_case, do_start_case, do_submit_case
    from carepath.intake.seed import seed_service_lines
    from carepath.workqueue.actions import do_claim

    line = next(line for line in seed_service_lines() if line.code == "dermatology")
    photo_ids = [
        do_store_upload(
            patient,
            patient.pk,
            SimpleUploadedFile(f"elbow{n}.jpg", _jpeg(color), content_type="image/jpeg"),
        ).pk
        for n, color in enumerate(("indianred", "salmon", "rosybrown")[:PHOTOS])
    ]
    case = do_start_case(patient, line, "TX")
    case.answers = {
        "concern": "Itchy red patches on both elbows.",
        "location": ["arms"],
        "duration": "weeks",
        "spreading": False,
        "fever": False,
        "breathing": False,
        "photos": photo_ids,
    }
    case.save()
    case = do_submit_case(patient, case)
    clock.advance(dt.timedelta(minutes=30))
    do_claim(doctor, case.work_item_id or 0)
    return do_escalate_case(
        doctor, case, mode="video", reason="Need to see how far it spreads.", when="now"
    )


def _live_visit(case: Any, patient: Any, doctor: Any, number: int, *, prescribe: bool) -> None:
    """Visit 0 was opened by the case's escalation; later ones are follow-ups escalated from
    the same async encounter. Video -> audio -> vitals -> video -> ended -> signed note."""
    from carepath.care.actions import do_request_escalation, do_save_note_draft, do_sign_note
    from carepath.core import clock
    from carepath.visits.actions import (
        do_admit,
        do_change_mode,
        do_end_visit,
        do_ensure_participant,
        do_open_escalated_visit,
        do_record_vitals,
    )
    from carepath.visits.models import Visit

    if number == 0:
        visit = Visit.objects.filter(patient=patient).order_by("pk").first()
        assert visit is not None
    else:
        request = do_request_escalation(
            doctor, case.encounter, mode="video", reason=f"Follow-up {number}: check healing."
        )
        visit = do_open_escalated_visit(request, mode="video", by=doctor, clinician=doctor)
    clock.advance(dt.timedelta(minutes=5))
    patient_in_room = do_ensure_participant(visit, patient)
    do_admit(doctor, visit.pk, patient_in_room.pk)
    doctor_in_room = do_ensure_participant(visit, doctor)
    clock.advance(dt.timedelta(minutes=4))
    do_change_mode(doctor_in_room.pk, "audio")
    clock.advance(dt.timedelta(minutes=1))
    do_record_vitals(
        doctor_in_room.pk,
        {"heart_rate": 70 + number, "bp_systolic": 132 - 3 * number, "bp_diastolic": 84 - number},
    )
    clock.advance(dt.timedelta(minutes=3))
    do_change_mode(doctor_in_room.pk, "video")
    visit.refresh_from_db()
    assert visit.encounter is not None
    if prescribe:
        _prescribe(doctor, visit.encounter)
    clock.advance(dt.timedelta(minutes=6))
    do_end_visit(doctor, visit.pk)
    clock.advance(dt.timedelta(minutes=10))
    note = do_save_note_draft(
        doctor,
        visit.encounter,
        subjective="Itchy patches on both elbows, better with the cream.",
        assessment=f"Atopic dermatitis, improving (visit {number + 1}).",
        plan="Triamcinolone 0.1% cream bid; moisturize daily; home BP log.",
    )
    do_sign_note(doctor, note)


def _prescribe(doctor: Any, encounter: Any) -> None:
    from carepath.pharmacy.models import Pharmacy
    from carepath.prescribing.actions import (
        OrderDetails,
        SignOff,
        do_create_draft,
        do_sign_prescription,
    )
    from carepath.prescribing.seed import seed_formulary

    medication = next(m for m in seed_formulary() if not m.schedule)
    pharmacy = Pharmacy.objects.create(
        ncpdp_id="4412345",
        name="Bench Pharmacy",
        address_line="100 Main St",
        city="Austin",
        state="TX",
        postal_code="78701",
        phone="512-555-0100",
    )
    details = OrderDetails(
        medication=medication,
        strength=medication.strengths[-1],
        dose_form=medication.dose_forms[0],
        sig=medication.sig_templates[0],
        quantity=28,
        days_supply=14,
        refills=0,
        pharmacy=pharmacy,
    )
    draft = do_create_draft(doctor, encounter, details)
    do_sign_prescription(doctor, draft, SignOff(mfa_code=_totp_code(doctor)))


def _enroll(patient: Any, doctor: Any, episode_id: int) -> int:
    """Enrollment opens an episode of its own; this one continues the case's episode (as a
    clinician adding monitoring to ongoing care), so its episode and encounter move there
    and the empty monitoring episode is removed."""
    from django.db import IntegrityError, transaction
    from django.db.models import ProtectedError

    from carepath.care.actions import do_close_episode
    from carepath.care.models import Encounter, Episode
    from carepath.rpm.actions import do_enroll, do_register_device
    from carepath.rpm.models import Enrollment
    from carepath.rpm.seed import seed_programs

    seed_programs()
    enrollment = do_enroll(doctor, patient.pk, "hypertension", verbal_consent=True)
    device = do_register_device(doctor, patient.pk, device_type="bp_cuff", serial="BENCH-TL-1")
    spare_id = enrollment.episode_id
    assert spare_id is not None
    assert enrollment.encounter_id is not None
    Enrollment.objects.filter(pk=enrollment.pk).update(episode_id=episode_id)
    Encounter.objects.filter(pk=enrollment.encounter_id).update(episode_id=episode_id)
    spare = Episode.objects.get(pk=spare_id)
    try:
        with transaction.atomic():
            spare.delete()
    except (ProtectedError, IntegrityError):
        do_close_episode(spare, by=doctor)
    return int(device.device.pk)


def _messages(patient: Any, doctor: Any, episode_id: int, first_at: dt.datetime) -> None:
    from carepath.messaging.actions import do_start_thread
    from carepath.messaging.models import Message, Thread

    thread, _ = do_start_thread(
        patient,
        kind="patient",
        patient_id=patient.pk,
        subject="Rash on both elbows",
        body="Is it normal for the cream to sting a little at first?",
        episode_id=episode_id,
    )
    step = (dt.timedelta(days=HISTORY_DAYS) - dt.timedelta(hours=4)) / MESSAGES
    rows = []
    for seq in range(2, MESSAGES + 1):
        by_patient = seq % 2 == 1
        lines = PATIENT_LINES if by_patient else CLINICIAN_LINES
        rows.append(
            Message(
                thread=thread,
                seq=seq,
                author=patient if by_patient else doctor,
                body=lines[seq % len(lines)],
                created_at=first_at + step * (seq - 1),
            )
        )
    Message.objects.bulk_create(rows, batch_size=500)
    Thread.objects.filter(pk=thread.pk).update(
        last_seq=MESSAGES, last_message_at=rows[-1].created_at
    )


def _readings(patient_id: int, device_id: int, first_at: dt.datetime) -> None:
    """Systolic, diastolic and pulse taken together, one set every `step`, up to an hour ago."""
    from carepath.rpm.models import Reading, ReadingSource

    sets = -(-READINGS // 3)
    end = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    step = (end - first_at) / sets
    rows = []
    for n in range(READINGS):
        measure, base, unit = READING_MEASURES[n % 3]
        at = (first_at + step * (n // 3)).replace(microsecond=0)
        rows.append(
            Reading(
                patient_id=patient_id,
                device_id=device_id,
                measure=measure,
                value=base + ((n // 3) * 7919 + n % 3) % 11 - 5,
                unit=unit,
                effective_at=at,
                received_at=at + dt.timedelta(seconds=20),
                source=ReadingSource.NDJSON,
            )
        )
    Reading.objects.bulk_create(rows, batch_size=2_000)


def _analyze() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


# --- Child process: the measurement ------------------------------------------------------------


def _timed(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def _queries(call: Callable[[], object]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


def _raw_reader(device_id: int) -> tuple[Callable[[], object], str]:
    """The floor: the 50 newest readings of the device, one query on rpm_reading_unique."""
    from django.db import connection

    from carepath.rpm.models import Reading

    sql = (
        f"SELECT * FROM {Reading._meta.db_table} WHERE device_id = %s "
        f"ORDER BY effective_at DESC LIMIT {LIMIT}"
    )

    def read() -> object:
        with connection.cursor() as cursor:
            cursor.execute(sql, [device_id])
            rows = cursor.fetchall()
        if len(rows) != LIMIT:
            raise RuntimeError(f"raw read returned {len(rows)} rows")
        return rows

    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, [device_id])
        plan = " | ".join(str(row[-1]).strip() for row in cursor.fetchall()[:2])
    return read, plan


def _source_times(viewer: Any, episode_id: int, middle: dt.datetime) -> list[dict[str, Any]]:
    from carepath.care.timeline import (
        TimelineWindow,
        registered_sources,
        registered_windowed_sources,
    )

    calls: dict[str, tuple[Callable[[], list[Any]], Callable[[], list[Any]]]] = {}
    for name, plain in registered_sources().items():

        def whole(fn: Any = plain) -> list[Any]:
            return list(fn(viewer, [episode_id]))

        calls[name] = (whole, whole)
    for name, windowed in registered_windowed_sources().items():

        def first(fn: Any = windowed) -> list[Any]:
            return list(fn(viewer, [episode_id], TimelineWindow(limit=LIMIT)))

        def deep(fn: Any = windowed) -> list[Any]:
            window = TimelineWindow(limit=LIMIT, before=middle)
            return list(fn(viewer, [episode_id], window))

        calls[f"{name} (windowed)"] = (first, deep)
    timings: list[dict[str, Any]] = []
    for name, (first_call, deep_call) in calls.items():
        first_call()
        timings.append(
            {
                "name": name,
                "first_ms": statistics.median(_timed(first_call) for _ in range(SOURCE_RUNS)),
                "deep_ms": statistics.median(_timed(deep_call) for _ in range(SOURCE_RUNS)),
                "entries": len(first_call()),
                "queries": _queries(first_call),
            }
        )
    timings.sort(key=lambda row: -float(row["first_ms"]))
    return timings


def _seed_summary(episode_id: int) -> str:
    from carepath.care.models import ClinicalNote, Encounter, Episode
    from carepath.intake.models import CaseAttachment
    from carepath.messaging.models import Message
    from carepath.prescribing.models import Prescription
    from carepath.rpm.models import Reading
    from carepath.visits.models import VisitEvent

    patient_id = Episode.objects.get(pk=episode_id).patient_id
    counts = {
        "patient_episodes": Episode.objects.filter(patient_id=patient_id).count(),
        "encounters": Encounter.objects.filter(episode_id=episode_id).count(),
        "photos": CaseAttachment.objects.filter(case__episode_id=episode_id).count(),
        "visit_events": VisitEvent.objects.filter(encounter__episode_id=episode_id).count(),
        "signed_notes": ClinicalNote.objects.filter(
            encounter__episode_id=episode_id, status="signed"
        ).count(),
        "prescriptions": Prescription.objects.filter(episode_id=episode_id).count(),
        "messages": Message.objects.filter(thread__episode_id=episode_id).count(),
        "readings": Reading.objects.count(),
    }
    return " ".join(f"{key}={value}" for key, value in counts.items())


def measure(seeded: dict[str, Any]) -> dict[str, Any]:
    """(In the child process.) Interleaved runs of the first page, the deep page and the raw
    read, after a warm-up of each, all on this process's one connection."""
    from carepath.accounts.models import User
    from carepath.care.models import Episode
    from carepath.care.selectors import episode_timeline

    viewer = User.objects.get(pk=seeded["clinician_id"])
    episode_id = int(seeded["episode_id"])
    opened = Episode.objects.get(pk=episode_id).opened_at
    middle = opened + (dt.datetime.now(dt.UTC) - opened) / 2

    def first_page() -> list[Any]:
        return episode_timeline(viewer, episode_id, limit=LIMIT)[1].entries

    def deep_page() -> list[Any]:
        return episode_timeline(viewer, episode_id, before=middle, limit=LIMIT)[1].entries

    raw_read, plan = _raw_reader(int(seeded["device_id"]))
    for _ in range(WARMUP):
        first_page(), deep_page(), raw_read()
    firsts: list[float] = []
    deeps: list[float] = []
    raws: list[float] = []
    deadline = time.monotonic() + MEASURE_SECONDS
    while len(firsts) < RUNS and (len(firsts) < MIN_RUNS or time.monotonic() < deadline):
        firsts.append(_timed(first_page))
        deeps.append(_timed(deep_page))
        raws.append(_timed(raw_read))
    return {
        "runs": len(firsts),
        "first_p95_ms": p95(firsts),
        "first_p50_ms": statistics.median(firsts),
        "deep_p95_ms": p95(deeps),
        "deep_p50_ms": statistics.median(deeps),
        "raw_p95_ms": p95(raws),
        "first_entries": len(first_page()),
        "deep_entries": len(deep_page()),
        "first_queries": _queries(first_page),
        "deep_queries": _queries(deep_page),
        "raw_plan": plan,
        "sources": _source_times(viewer, episode_id, middle),
        "seed": _seed_summary(episode_id),
    }


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] in ("--seed", "--measure"):
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carepath.settings")
        django.setup()
        if sys.argv[1] == "--seed":
            print(json.dumps(seed()))
        else:
            print(json.dumps(measure(json.loads(sys.argv[2]))))
    else:
        for line in run():
            print(line)
