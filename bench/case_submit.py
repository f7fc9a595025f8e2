"""BENCH case.submit: asynchronous cases submitted per second through the HTTP API, each with
one 2 MB JPEG photo (with GPS EXIF, so the pipeline really re-encodes it), and the 95th
percentile time of one submission (the upload to POST /api/v1/files, then POST
/api/v1/intake/cases with submit=true and an Idempotency-Key).

A real uvicorn server on 127.0.0.1 and a throwaway database (helpers shared with
bench/queue_claim.py); 4 patients with bearer tokens submit concurrently. Bounded: at most
MAX_CASES cases and PHASE_SECONDS of submitting (about 45 s in all with migrations)."""

import http.client
import io
import json
import os
import secrets
import sys
import threading
import time
from typing import Any

from bench._format import bench_line
from bench._support import run_python as _django
from bench._support import throwaway_database
from bench.queue_claim import uvicorn_server

CLIENTS = 4
PHASE_SECONDS = float(os.environ.get("BENCH_CASE_SECONDS", "15"))
MAX_CASES = 400
PHOTO_BYTES = 2 * 1024 * 1024


def photo(target: int = PHOTO_BYTES) -> bytes:
    """A JPEG of about `target` bytes (noise does not compress), carrying GPS EXIF."""
    from PIL import Image

    width, height = 1600, 1200
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (29.0, 45.0, 36.0)
    noise = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    best = b""
    for quality in (97, 95, 93, 91, 89, 87, 85):
        out = io.BytesIO()
        noise.save(out, "JPEG", quality=quality, exif=exif)
        data = out.getvalue()
        if not best or abs(len(data) - target) < abs(len(best) - target):
            best = data
    return best


def seed() -> dict[str, Any]:
    """(In the child process.) A Texas dermatologist, consented patients with API tokens, and
    the demo service lines."""
    import datetime as dt

    from carepath.accounts.actions import do_create_api_token
    from carepath.accounts.models import (
        ClinicianProfile,
        License,
        PatientProfile,
        Role,
        Specialty,
        User,
    )
    from carepath.consent.models import ConsentAcceptance, ConsentDocument, ConsentKind
    from carepath.intake.seed import seed_service_lines

    for kind in ConsentKind.values:
        ConsentDocument.objects.get_or_create(
            kind=kind, state="", version=1, defaults={"title": kind, "body": kind}
        )
    seed_service_lines()
    specialty = Specialty.objects.get(code="dermatology")
    doctor = User.objects.create_user("bench.derm@example.com", None, role=Role.CLINICIAN)
    profile = ClinicianProfile.objects.create(user=doctor, npi="1003000126", languages=["en"])
    profile.specialties.add(specialty)
    License.objects.create(
        clinician=profile, state="TX", expires_on=dt.date.today() + dt.timedelta(days=365)
    )
    patients = []
    for n in range(CLIENTS):
        user = User.objects.create_user(f"bench.patient{n}@example.com", None, role=Role.PATIENT)
        PatientProfile.objects.create(user=user, date_of_birth=dt.date(1990, 1, 1), state="TX")
        for document in ConsentDocument.objects.all():
            ConsentAcceptance.objects.create(patient=user, document=document)
        patients.append({"id": user.pk, "token": do_create_api_token(user, "bench").raw})
    return {"patients": patients}


def _multipart(fields: dict[str, str], name: str, content: bytes) -> tuple[str, bytes]:
    boundary = f"bench{secrets.token_hex(12)}"
    parts = []
    for key, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def _call(
    conn: http.client.HTTPConnection, method: str, url: str, body: bytes, headers: dict[str, str]
) -> dict[str, Any]:
    conn.request(method, url, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status not in (200, 201):
        raise RuntimeError(f"{method} {url} answered {response.status}: {data[:300]!r}")
    result: dict[str, Any] = json.loads(data)
    return result


def submitter(
    port: int,
    patient: dict[str, Any],
    image: bytes,
    deadline: float,
    budget: list[int],
    lock: threading.Lock,
) -> list[float]:
    """Submit cases until the deadline or the shared budget runs out; per-case seconds."""
    timings: list[float] = []
    auth = {"Authorization": f"Bearer {patient['token']}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            began = time.perf_counter()
            content_type, body = _multipart({"patient_id": str(patient["id"])}, "rash.jpg", image)
            stored = _call(
                conn, "POST", "/api/v1/files", body, {**auth, "Content-Type": content_type}
            )
            case = {
                "service_line": "dermatology",
                "state": "TX",
                "submit": True,
                "answers": {
                    "concern": "Itchy red patches on both elbows.",
                    "location": ["arms"],
                    "duration": "weeks",
                    "spreading": False,
                    "fever": False,
                    "breathing": False,
                    "photos": [stored["id"]],
                },
            }
            created = _call(
                conn,
                "POST",
                "/api/v1/intake/cases",
                json.dumps(case).encode(),
                {
                    **auth,
                    "Content-Type": "application/json",
                    "Idempotency-Key": secrets.token_hex(16),
                },
            )
            if created.get("status") != "submitted":
                raise RuntimeError(f"case not submitted: {created.get('status')}")
            timings.append(time.perf_counter() - began)
    finally:
        conn.close()
    return timings


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run() -> list[str]:
    image = photo()
    with throwaway_database() as env:
        _django(env, "manage.py", "migrate", "--noinput", "--verbosity", "0")
        seeded = json.loads(_django(env, "-m", "bench.case_submit", "--seed"))
        with uvicorn_server(env) as port:
            deadline = time.monotonic() + PHASE_SECONDS
            budget = [MAX_CASES]
            lock = threading.Lock()
            results: list[list[float]] = [[] for _ in seeded["patients"]]
            errors: list[BaseException] = []

            def work(index: int, patient: dict[str, Any]) -> None:
                try:
                    results[index] = submitter(port, patient, image, deadline, budget, lock)
                except BaseException as exc:
                    errors.append(exc)

            threads = [
                threading.Thread(target=work, args=(n, p), daemon=True)
                for n, p in enumerate(seeded["patients"])
            ]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=PHASE_SECONDS + 60)
            elapsed = time.perf_counter() - began
            if errors:
                raise errors[0]
    timings = [t for per_client in results for t in per_client]
    rate = len(timings) / elapsed if elapsed > 0 else 0.0
    return [
        bench_line(
            "case.submit",
            round(rate, 2),
            "cases/s",
            cases=len(timings),
            clients=CLIENTS,
            photo_bytes=len(image),
        ),
        bench_line("case.submit.p95", round(p95(timings) * 1000, 1), "ms"),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--seed":
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carepath.settings")
        django.setup()
        print(json.dumps(seed()))
    else:
        for line in run():
            print(line)
