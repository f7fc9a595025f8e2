"""BENCH case.submit.upload: the photo part of a case submission. Patients upload one ~2 MB
JPEG each through POST /api/v1/files (real uvicorn on 127.0.0.1, 4 concurrent clients with
bearer tokens): sniff, decode under the pixel limit, re-encode without EXIF, thumbnail,
AES-GCM, storage, audit. The limit is the same pipeline without HTTP or the database
(decode + re-encode + thumbnail + encryption, 4 processes) measured in the same run.
Also prints the p95 latency of one upload. Throwaway database; bounded (~40 s)."""

import http.client
import io
import json
import multiprocessing
import os
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

from bench._format import bench_line
from bench._support import run_python as _django
from bench._support import throwaway_database
from bench.queue_claim import run_threads, uvicorn_server

CLIENTS = 4
PHASE_SECONDS = 10.0
MAX_UPLOADS_PER_CLIENT = 40


def photo_bytes() -> bytes:
    """A ~2 MB camera-like JPEG (noise compresses badly, like a real photo's detail), with
    EXIF carrying GPS, so the pipeline has real work to do."""
    from PIL import Image

    width, height = 1600, 1200
    noise = Image.frombytes("RGB", (width, height), secrets.token_bytes(width * height * 3))
    exif = Image.Exif()
    exif[0x0112] = 6
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (29.0, 45.0, 36.0)
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=93, exif=exif)
    return out.getvalue()


def multipart(patient_id: int, data: bytes) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="patient_id"\r\n\r\n'
            f"{patient_id}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="IMG_0001.JPG"'
            f"\r\nContent-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def seed(count: int) -> list[dict[str, Any]]:
    """(In the child process.) Patients with API tokens."""
    import datetime as dt

    from carepath.accounts.actions import do_create_api_token
    from carepath.accounts.models import PatientProfile, Role, User

    patients = []
    for n in range(count):
        user = User.objects.create_user(f"bench.upload{n}@example.com", None, role=Role.PATIENT)
        PatientProfile.objects.create(user=user, date_of_birth=dt.date(1990, 1, 1), state="TX")
        patients.append({"id": user.pk, "token": do_create_api_token(user, "bench").raw})
    return patients


def uploader(
    port: int, patient: dict[str, Any], photo: bytes, deadline: float, latencies: list[float]
) -> Callable[[], list[int]]:
    def work() -> list[int]:
        done: list[int] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while time.monotonic() < deadline and len(done) < MAX_UPLOADS_PER_CLIENT:
                body, content_type = multipart(patient["id"], photo)
                started = time.perf_counter()
                conn.request(
                    "POST",
                    "/api/v1/files",
                    body=body,
                    headers={
                        "Authorization": f"Bearer {patient['token']}",
                        "Content-Type": content_type,
                    },
                )
                response = conn.getresponse()
                answer = response.read()
                latencies.append(time.perf_counter() - started)
                if response.status != 201:
                    raise RuntimeError(f"upload answered {response.status}: {answer[:300]!r}")
                done.append(int(json.loads(answer)["id"]))
        finally:
            conn.close()
        return done

    return work


def raw_pipeline(photo: bytes, seconds: float) -> int:
    """The same work without HTTP or the database: prepare (decode, clean, re-encode,
    thumbnail) and encrypt both. Runs in a worker process; returns how many it did."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from carepath.files import crypto
    from carepath.files.actions import check_upload

    done = 0
    key_id = crypto.current_key_id()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and done < MAX_UPLOADS_PER_CLIENT:
        prepared = check_upload(SimpleUploadedFile("p.jpg", photo), ("image", "pdf"))
        crypto.encrypt(prepared.data, key_id=key_id, associated=secrets.token_hex(16))
        crypto.encrypt(prepared.thumbnail or b"", key_id=key_id, associated="t")
        done += 1
    return done


def raw_rate(photo: bytes) -> float:
    """The pipeline in CLIENTS processes (no GIL between them, like the server's workers)."""
    context = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with context.Pool(CLIENTS) as pool:
        counts = pool.starmap(raw_pipeline, [(photo, PHASE_SECONDS)] * CLIENTS)
    return sum(counts) / (time.perf_counter() - started)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)] if ordered else 0.0


def run() -> list[str]:
    photo = photo_bytes()
    limit = raw_rate(photo)
    latencies: list[float] = []
    with throwaway_database() as env:
        _django(env, "manage.py", "migrate", "--noinput", "--verbosity", "0")
        patients = json.loads(
            _django(env, "-m", "bench.case_submit_upload", "--seed", str(CLIENTS))
        )
        with uvicorn_server(env) as port:
            deadline = time.monotonic() + PHASE_SECONDS
            api_done, api_elapsed = run_threads(
                [uploader(port, patient, photo, deadline, latencies) for patient in patients]
            )
    api_total = sum(len(done) for done in api_done)
    return [
        bench_line(
            "case.submit.upload",
            round(api_total / api_elapsed, 2),
            "uploads/s",
            round(limit, 2),
            photo_bytes=len(photo),
            clients=CLIENTS,
        ),
        bench_line("case.submit.upload.p95", round(p95(latencies) * 1000, 1), "ms"),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--seed":
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carepath.settings")
        django.setup()
        print(json.dumps(seed(int(sys.argv[2]))))
    else:
        for line in run():
            print(line)
