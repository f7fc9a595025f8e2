"""BENCH queue.claim: claims per second through the HTTP API (a real uvicorn server on
127.0.0.1, 8 concurrent clinicians with bearer tokens calling POST /api/v1/queue/claim-next),
against the limit: the raw claim loop in SQL (SELECT ... FOR UPDATE SKIP LOCKED + UPDATE on
PostgreSQL; BEGIN IMMEDIATE + UPDATE ... RETURNING on SQLite) with 8 threads on the same
database in the same run. Also counts double claims (must be 0).

Runs on a throwaway database: a temporary var/ directory (SQLite) or, when
CAREPATH_DATABASE_URL is set, a uniquely named PostgreSQL database that is dropped after.
Bounded: at most 2000 items and about 60 seconds."""

import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench._format import bench_line
from bench._support import pg_dsn as _pg_dsn
from bench._support import run_python as _django
from bench._support import throwaway_database

CLIENTS = 8
ITEMS = int(os.environ.get("BENCH_QUEUE_ITEMS", "1500"))
PHASE_SECONDS = 15.0
STACK_SECONDS = 3.0
ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


# --- Child mode: seed the throwaway database -----------------------------------------------


def seed(items: int) -> dict[str, Any]:
    """(In the child process.) Clinicians with API tokens and `items` open work items."""
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
    from carepath.core import clock
    from carepath.workqueue.models import WorkItem

    specialty, _ = Specialty.objects.get_or_create(code="dermatology", name="Dermatology")
    patient = User.objects.create_user("bench.patient@example.com", None, role=Role.PATIENT)
    PatientProfile.objects.create(user=patient, date_of_birth=dt.date(1990, 1, 1), state="TX")
    tokens = []
    clinician_ids = []
    for n in range(CLIENTS):
        user = User.objects.create_user(f"bench.doc{n}@example.com", None, role=Role.CLINICIAN)
        profile = ClinicianProfile.objects.create(user=user, npi=f"{n:010d}", languages=["en"])
        profile.specialties.add(specialty)
        License.objects.create(
            clinician=profile, state="TX", expires_on=dt.date.today() + dt.timedelta(days=365)
        )
        tokens.append(do_create_api_token(user, "bench").raw)
        clinician_ids.append(user.pk)
    now = clock.now()
    WorkItem.objects.bulk_create(
        WorkItem(
            kind="async_case",
            patient=patient,
            subject_type="bench.case",
            subject_id=str(n),
            title=f"Bench case {n}",
            required_state="TX",
            required_specialty=specialty,
            required_language="en",
            due_at=now + dt.timedelta(seconds=n),
            created_at=now,
        )
        for n in range(items)
    )
    return {"tokens": tokens, "clinician_ids": clinician_ids}


# --- The server ----------------------------------------------------------------------------


def __getattr__(name: str) -> Any:
    """`bench.queue_claim:bench_application`: the ASGI app with CONN_MAX_AGE=0. Under ASGI
    every request runs in its own thread, so persistent connections (settings: 60 s) pile up
    one per request until PostgreSQL refuses more clients; closing them per request is what
    runs reliably today (a connection pool would be faster)."""
    if name == "bench_application":
        from django.conf import settings

        settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
        from carepath.asgi import application

        return application
    raise AttributeError(name)


@contextmanager
def uvicorn_server(env: dict[str, str]) -> Iterator[int]:
    # uvicorn binds the port itself: a socket handed over with --fd is treated as a Unix
    # socket, TCP_NODELAY is never set, and every response waits ~40 ms for Nagle.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workers = os.environ.get("BENCH_WEB_WORKERS", str(min(4, os.cpu_count() or 1)))
    log_path = Path(env["CAREPATH_VAR_DIR"]) / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "uvicorn",
            os.environ.get("BENCH_ASGI_APP", "bench.queue_claim:bench_application"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            workers,
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        _wait_healthy(port, process)
        yield port
    except Exception:
        log.flush()
        errors = [line for line in log_path.read_text(errors="replace").splitlines() if line]
        print("# server log:\n" + "\n".join(errors[-40:]), file=sys.stderr)
        raise
    finally:
        log.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("uvicorn exited while starting")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status in {200, 503}:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise RuntimeError("uvicorn did not answer within 20 s")


# --- Measuring ------------------------------------------------------------------------------


def run_threads(workers: list[Callable[[], list[int]]]) -> tuple[list[list[int]], float]:
    results: list[list[int]] = [[] for _ in workers]
    errors: list[BaseException] = []
    start = threading.Barrier(len(workers) + 1)

    def wrap(index: int, work: Callable[[], list[int]]) -> None:
        start.wait()
        try:
            results[index] = work()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=wrap, args=(n, work), daemon=True) for n, work in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=PHASE_SECONDS + 30)
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return results, elapsed


def api_claimer(port: int, token: str, deadline: float) -> Callable[[], list[int]]:
    def work() -> list[int]:
        claimed: list[int] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Length": "0"}
        try:
            while time.monotonic() < deadline:
                conn.request("POST", "/api/v1/queue/claim-next", headers=headers)
                response = conn.getresponse()
                body = response.read()
                if response.status == 204:
                    break
                if response.status != 200:
                    raise RuntimeError(f"claim-next answered {response.status}: {body[:300]!r}")
                claimed.append(int(json.loads(body)["id"]))
        finally:
            conn.close()
        return claimed

    return work


def raw_claimer(env: dict[str, str], clinician_id: int, deadline: float) -> Callable[[], list[int]]:
    url = env.get("CAREPATH_DATABASE_URL", "")

    def work_pg() -> list[int]:
        import psycopg

        claimed: list[int] = []
        with psycopg.connect(_pg_dsn(url)) as conn:
            while time.monotonic() < deadline:
                with conn.transaction():
                    row = conn.execute(
                        "SELECT id FROM workqueue_workitem WHERE status = 'open' "
                        "ORDER BY due_at, priority DESC LIMIT 1 FOR UPDATE SKIP LOCKED"
                    ).fetchone()
                    if row is None:
                        break
                    conn.execute(
                        "UPDATE workqueue_workitem SET status = 'claimed', claimed_by_id = %s, "
                        "claimed_at = now(), lease_expires_at = now() + interval '15 minutes' "
                        "WHERE id = %s",
                        (clinician_id, row[0]),
                    )
                claimed.append(int(row[0]))
        return claimed

    def work_sqlite() -> list[int]:
        claimed: list[int] = []
        path = Path(env["CAREPATH_VAR_DIR"]) / "carepath.sqlite3"
        conn = sqlite3.connect(path, timeout=20, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            while time.monotonic() < deadline:
                conn.execute("BEGIN IMMEDIATE")
                row = conn.execute(
                    "UPDATE workqueue_workitem SET status = 'claimed', claimed_by_id = ?, "
                    "claimed_at = datetime('now'), "
                    "lease_expires_at = datetime('now', '+15 minutes') "
                    "WHERE id = (SELECT id FROM workqueue_workitem WHERE status = 'open' "
                    "ORDER BY due_at, priority DESC LIMIT 1) RETURNING id",
                    (clinician_id,),
                ).fetchone()
                conn.execute("COMMIT")
                if row is None:
                    break
                claimed.append(int(row[0]))
        finally:
            conn.close()
        return claimed

    return work_pg if url else work_sqlite


def api_reader(port: int, token: str, deadline: float) -> Callable[[], list[int]]:
    """GET /api/v1/me in a loop: what the HTTP stack alone allows (context for the ratio)."""

    def work() -> list[int]:
        done: list[int] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while time.monotonic() < deadline:
                conn.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
                response = conn.getresponse()
                response.read()
                done.append(response.status)
        finally:
            conn.close()
        return done

    return work


def reopen_all(env: dict[str, str]) -> None:
    statement = (
        "UPDATE workqueue_workitem SET status = 'open', claimed_by_id = NULL, "
        "claimed_at = NULL, lease_expires_at = NULL"
    )
    url = env.get("CAREPATH_DATABASE_URL", "")
    if url:
        import psycopg

        with psycopg.connect(_pg_dsn(url), autocommit=True) as pg:
            pg.execute(statement)
    else:
        lite = sqlite3.connect(Path(env["CAREPATH_VAR_DIR"]) / "carepath.sqlite3", timeout=20)
        with lite:
            lite.execute(statement)
        lite.close()


def doubles(claims: list[list[int]]) -> int:
    counts = Counter(item for claimed in claims for item in claimed)
    return sum(count - 1 for count in counts.values() if count > 1)


def run() -> list[str]:
    items = min(ITEMS, 2000)
    with throwaway_database() as env:
        _django(env, "manage.py", "migrate", "--noinput", "--verbosity", "0")
        seeded = json.loads(_django(env, "-m", "bench.queue_claim", "--seed", str(items)))
        clinician_ids: list[int] = seeded["clinician_ids"]

        # The limit: the raw SQL claim loop, 8 threads, on this database.
        deadline = time.monotonic() + PHASE_SECONDS
        raw_claims, raw_elapsed = run_threads(
            [raw_claimer(env, cid, deadline) for cid in clinician_ids]
        )
        raw_total = sum(len(claimed) for claimed in raw_claims)
        raw_rate = raw_total / raw_elapsed
        reopen_all(env)

        # Through the API: uvicorn on 127.0.0.1, 8 clinicians.
        with uvicorn_server(env) as port:
            deadline = time.monotonic() + PHASE_SECONDS
            api_claims, api_elapsed = run_threads(
                [api_claimer(port, token, deadline) for token in seeded["tokens"]]
            )
            deadline = time.monotonic() + STACK_SECONDS
            reads, read_elapsed = run_threads(
                [api_reader(port, token, deadline) for token in seeded["tokens"]]
            )
        stack_rate = sum(len(done) for done in reads) / read_elapsed
        api_total = sum(len(claimed) for claimed in api_claims)
        api_rate = api_total / api_elapsed
        double = doubles(api_claims) + doubles(raw_claims)
    return [
        f"# queue.claim: the HTTP stack alone (GET /api/v1/me, same server, 8 clients) "
        f"answers {stack_rate:.0f} req/s; claims are {api_rate / stack_rate:.0%} of that",
        bench_line(
            "queue.claim",
            round(api_rate, 1),
            "claims/s",
            round(raw_rate, 1),
            items=f"{api_total}/{raw_total}",
            clients=CLIENTS,
        ),
        bench_line("queue.claim.double_claims", double, "count"),
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
