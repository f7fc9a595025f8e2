"""BENCH rpm.ingest.batch and rpm.ingest.single: device readings per second through the HTTP
API (a real uvicorn server on 127.0.0.1, concurrent devices each with its own token),
against the raw limit measured in the same run on the same database:

  batch   100 readings per POST /api/v1/rpm/readings/batch (application/x-ndjson)
          limit: the same rows loaded with one raw COPY into an equivalent table
          (CREATE TABLE ... (LIKE rpm_reading INCLUDING ALL) plus its foreign keys: same
          columns, constraints and indexes) on PostgreSQL; on SQLite, executemany in one transaction
          into an equivalent table (the line says limit_kind=sqlite-executemany).
  single  1 reading per POST /api/v1/rpm/readings
          limit: raw single-row INSERT + COMMIT, with as many connections as API clients.

Runs on a throwaway database: a temporary var/ directory (SQLite) or, when
CAREPATH_DATABASE_URL is set, a uniquely named PostgreSQL database dropped afterwards.
Bounded: about 90 seconds at most; it stops the server it starts."""

import datetime as dt
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench._format import bench_line
from bench._support import pg_dsn as _pg_dsn
from bench._support import run_python as _django
from bench._support import throwaway_database

CLIENTS = int(os.environ.get("BENCH_RPM_CLIENTS", "8"))
BATCH = 100
BATCHES_PER_CLIENT = int(os.environ.get("BENCH_RPM_BATCHES", "120"))
BATCH_SECONDS = 20.0
SINGLE_SECONDS = 8.0
TOTAL_BUDGET = 90.0
# pool (PostgreSQL: psycopg pool, no persistent connections), per-request (no pool, no
# persistent connections) or project (the settings as they are).
DB_MODE = os.environ.get("BENCH_RPM_DB", "pool")
ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
COLUMNS = (
    "patient_id",
    "device_id",
    "measure",
    "value",
    "unit",
    "original_value",
    "original_unit",
    "effective_at",
    "received_at",
    "source",
    "status",
    "error_reason",
)
MEASURES = (
    ("bp_systolic", 118, "mm[Hg]"),
    ("bp_diastolic", 76, "mm[Hg]"),
    ("heart_rate", 66, "/min"),
)


# --- The throwaway database ----------------------------------------------------------------


def seed(clients: int) -> dict[str, Any]:
    """(In the child process.) One patient per client, enrolled with verbal consent, each
    with a blood pressure cuff and its device token."""
    from carepath.access.actions import do_add_care_relationship
    from carepath.accounts.models import ClinicianProfile, PatientProfile, Role, User
    from carepath.rpm.actions import do_enroll, do_register_device
    from carepath.rpm.seed import seed_programs

    seed_programs()
    doctor = User.objects.create_user("bench.rpm.doc@example.com", None, role=Role.CLINICIAN)
    ClinicianProfile.objects.create(user=doctor, npi="1234567893", languages=["en"])
    devices = []
    for n in range(clients):
        patient = User.objects.create_user(
            f"bench.rpm.patient{n}@example.com",
            None,
            role=Role.PATIENT,
            time_zone="America/Chicago",
        )
        PatientProfile.objects.create(user=patient, date_of_birth=dt.date(1960, 1, 1), state="TX")
        do_add_care_relationship(doctor, patient.pk)
        _accept_care_consent(patient)
        do_enroll(doctor, patient.pk, "hypertension", verbal_consent=True)
        issued = do_register_device(
            doctor, patient.pk, device_type="bp_cuff", serial=f"BENCH-{n:04d}"
        )
        devices.append(
            {"token": issued.token, "device_id": issued.device.pk, "patient_id": patient.pk}
        )
    return {"devices": devices}


def _accept_care_consent(patient: Any) -> None:
    from carepath.consent.models import ConsentAcceptance, ConsentDocument, ConsentKind
    from carepath.consent.selectors import current_documents

    for kind in ConsentKind.values:
        ConsentDocument.objects.get_or_create(
            kind=kind, state="", version=1, defaults={"title": kind, "body": f"{kind} text"}
        )
    for document in current_documents("TX"):
        ConsentAcceptance.objects.create(patient=patient, document=document)


# --- Readings --------------------------------------------------------------------------------


def reading_rows(device_index: int, count: int, start: dt.datetime) -> list[tuple[Any, ...]]:
    """(measure, value, unit, effective_at) going back one second per reading."""
    rows = []
    for n in range(count):
        measure, base, unit = MEASURES[n % 3]
        at = start - dt.timedelta(seconds=n * 7 + device_index % 7)
        rows.append((measure, float(base + (n * 13 + device_index) % 9), unit, at))
    return rows


def ndjson(rows: list[tuple[Any, ...]]) -> bytes:
    return "\n".join(
        json.dumps({"measure": m, "value": v, "unit": u, "effective_at": at.isoformat()})
        for m, v, u, at in rows
    ).encode()


# --- The server ------------------------------------------------------------------------------


def make_asgi_app() -> Any:
    """(In each uvicorn worker.) The project's ASGI application, with the database
    connections Django advises under ASGI: no persistent connections (each request runs in
    its own thread, so with the project's CONN_MAX_AGE=60 every request keeps its own
    connection and PostgreSQL runs out of them - "too many clients" - within seconds), and
    on PostgreSQL a psycopg pool per worker instead (a new connection per request costs
    more than the request itself). BENCH_RPM_DB=project keeps the project's settings."""
    import carepath.settings as project

    database = project.DATABASES["default"]
    if DB_MODE != "project":
        database["CONN_MAX_AGE"] = 0
        if database["ENGINE"].endswith("postgresql") and DB_MODE == "pool":
            database.setdefault("OPTIONS", {})["pool"] = {"min_size": 2, "max_size": 8}
    from carepath.asgi import application

    return application


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def uvicorn_server(env: dict[str, str]) -> Iterator[int]:
    """uvicorn on 127.0.0.1 with --host/--port, not --fd: uvicorn takes an inherited fd for
    a Unix socket, so asyncio would not set TCP_NODELAY on its connections and every
    response would wait ~40 ms for a delayed ACK (Nagle)."""
    port = _free_port()
    workers = os.environ.get("BENCH_WEB_WORKERS", str(min(4, os.cpu_count() or 1)))
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "uvicorn",
            "bench.rpm_ingest:make_asgi_app",
            "--factory",
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_healthy(port, process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if os.environ.get("BENCH_DEBUG") and process.stderr is not None:
            print(process.stderr.read().decode()[-6000:], file=sys.stderr)


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"uvicorn exited: {stderr[-2000:]}")
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
    raise RuntimeError("uvicorn did not answer within 30 s")


def run_threads(workers: list[Callable[[], int]], budget: float) -> tuple[int, float]:
    """Start every worker at once; (total counted, elapsed seconds)."""
    results = [0] * len(workers)
    errors: list[BaseException] = []
    start = threading.Barrier(len(workers) + 1)

    def wrap(index: int, work: Callable[[], int]) -> None:
        start.wait()
        try:
            results[index] = work()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=wrap, args=(n, w), daemon=True) for n, w in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=budget + 30)
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return sum(results), elapsed


def api_poster(
    port: int,
    token: str,
    path: str,
    content_type: str,
    bodies: list[bytes],
    deadline: float,
    per_body: int,
) -> Callable[[], int]:
    def work() -> int:
        stored = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Device {token}", "Content-Type": content_type}
        try:
            for body in bodies:
                if time.monotonic() >= deadline:
                    break
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
                if response.status not in (200, 201):
                    raise RuntimeError(f"{path} answered {response.status}: {answer[:300]!r}")
                if per_body > 1:
                    stored += int(json.loads(answer)["accepted"])
                else:
                    stored += 1
        finally:
            conn.close()
        return stored

    return work


# --- The raw limits ----------------------------------------------------------------------------


def _copy_rows(
    devices: list[dict[str, Any]],
    rows_per_device: list[list[tuple[Any, ...]]],
    received: dt.datetime,
) -> list[tuple[Any, ...]]:
    out = []
    for device, rows in zip(devices, rows_per_device, strict=True):
        for measure, value, unit, at in rows:
            out.append(
                (
                    device["patient_id"],
                    device["device_id"],
                    measure,
                    value,
                    unit,
                    None,
                    "",
                    at,
                    received,
                    "ndjson",
                    "valid",
                    "",
                )
            )
    return out


def raw_batch_limit(
    env: dict[str, str], rows: list[tuple[Any, ...]]
) -> tuple[float, str, float | None]:
    """(rows/s into the equivalent table, kind, rows/s without foreign keys or None)."""
    url = env.get("CAREPATH_DATABASE_URL", "")
    columns = ", ".join(COLUMNS)
    if url:
        import psycopg

        rates: list[float] = []
        with psycopg.connect(_pg_dsn(url), autocommit=True) as conn:
            for with_keys in (False, True):
                conn.execute("DROP TABLE IF EXISTS bench_rpm_copy")
                conn.execute("CREATE TABLE bench_rpm_copy (LIKE rpm_reading INCLUDING ALL)")
                # LIKE copies columns, checks, the unique constraint and indexes but not
                # foreign keys; the equivalent table has them too, declared as Django does.
                targets = (("patient_id", "accounts_user"), ("device_id", "rpm_device"))
                for column, target in targets if with_keys else ():
                    conn.execute(
                        f"ALTER TABLE bench_rpm_copy ADD FOREIGN KEY ({column}) "
                        f"REFERENCES {target} (id) DEFERRABLE INITIALLY DEFERRED"
                    )
                statement = f"COPY bench_rpm_copy ({columns}) FROM STDIN"
                began = time.perf_counter()
                with conn.transaction(), conn.cursor() as cursor, cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
                rates.append(len(rows) / (time.perf_counter() - began))
            conn.execute("DROP TABLE bench_rpm_copy")
        return rates[1], "pg-copy", rates[0]
    path = Path(env["CAREPATH_VAR_DIR"]) / "carepath.sqlite3"
    lite = sqlite3.connect(path, timeout=20, isolation_level=None)
    try:
        lite.execute("PRAGMA journal_mode=WAL")
        lite.execute("PRAGMA synchronous=NORMAL")
        lite.execute("PRAGMA foreign_keys=ON")  # as Django's own connections
        _sqlite_clone(lite, "rpm_reading", "bench_rpm_copy")
        placeholders = ", ".join(["?"] * len(COLUMNS))
        adapted = [(*r[:7], _sqlite_time(r[7]), _sqlite_time(r[8]), *r[9:]) for r in rows]
        began = time.perf_counter()
        lite.execute("BEGIN IMMEDIATE")
        lite.executemany(f"INSERT INTO bench_rpm_copy ({columns}) VALUES ({placeholders})", adapted)
        lite.execute("COMMIT")
        elapsed = time.perf_counter() - began
        lite.execute("DROP TABLE bench_rpm_copy")
    finally:
        lite.close()
    return len(rows) / elapsed, "sqlite-executemany", None


def _sqlite_time(moment: dt.datetime) -> str:
    return str(moment.astimezone(dt.UTC).replace(tzinfo=None))


def _sqlite_clone(conn: sqlite3.Connection, source: str, target: str) -> None:
    """The same table (columns, constraints) and its indexes under another name."""
    conn.execute(f'DROP TABLE IF EXISTS "{target}"')
    statements = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
        "ORDER BY type DESC",
        (source,),
    ).fetchall()
    for kind, name, sql in statements:
        sql = sql.replace(f'"{source}"', f'"{target}"', 1)
        if kind == "index":
            sql = sql.replace(f'"{name}"', f'"{name}_bench"', 1)
        conn.execute(sql)


def raw_single_limit(
    env: dict[str, str], devices: list[dict[str, Any]], start: dt.datetime
) -> tuple[float, int]:
    """Single-row INSERT + COMMIT, one connection per client, for SINGLE_SECONDS."""
    url = env.get("CAREPATH_DATABASE_URL", "")
    columns = ", ".join(COLUMNS)
    deadline = time.monotonic() + SINGLE_SECONDS
    received = dt.datetime.now(dt.UTC)

    def worker(index: int) -> Callable[[], int]:
        device = devices[index]

        def rows() -> Iterator[tuple[Any, ...]]:
            n = 0
            while time.monotonic() < deadline:
                at = start - dt.timedelta(days=200, seconds=n * 3 + index)
                yield (
                    device["patient_id"],
                    device["device_id"],
                    "heart_rate",
                    70.0,
                    "/min",
                    None,
                    "",
                    at,
                    received,
                    "single",
                    "valid",
                    "",
                )
                n += 1

        def work_pg() -> int:
            import psycopg

            count = 0
            with psycopg.connect(_pg_dsn(url), autocommit=True) as conn:
                sql = f"INSERT INTO rpm_reading ({columns}) VALUES ({', '.join(['%s'] * 12)})"
                for row in rows():
                    conn.execute(sql, row)  # autocommit: one commit per row
                    count += 1
            return count

        def work_sqlite() -> int:
            count = 0
            path = Path(env["CAREPATH_VAR_DIR"]) / "carepath.sqlite3"
            conn = sqlite3.connect(path, timeout=20, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA synchronous=NORMAL")
                sql = f"INSERT INTO rpm_reading ({columns}) VALUES ({', '.join(['?'] * 12)})"
                for row in rows():
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(
                        sql, (*row[:7], _sqlite_time(row[7]), _sqlite_time(row[8]), *row[9:])
                    )
                    conn.execute("COMMIT")
                    count += 1
            finally:
                conn.close()
            return count

        return work_pg if url else work_sqlite

    total, elapsed = run_threads([worker(n) for n in range(len(devices))], SINGLE_SECONDS)
    return total / elapsed, total


# --- The run ---------------------------------------------------------------------------------


def run() -> list[str]:
    started = time.monotonic()
    with throwaway_database("bench_rpm") as env:
        _django(env, "manage.py", "migrate", "--noinput", "--verbosity", "0")
        devices = json.loads(_django(env, "-m", "bench.rpm_ingest", "--seed", str(CLIENTS)))[
            "devices"
        ]
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        rows_per_device = [
            reading_rows(n, BATCH * BATCHES_PER_CLIENT, now) for n in range(len(devices))
        ]
        bodies = [
            [ndjson(rows[i : i + BATCH]) for i in range(0, len(rows), BATCH)]
            for rows in rows_per_device
        ]
        singles = [
            [
                json.dumps(
                    {
                        "measure": m,
                        "value": v,
                        "unit": u,
                        "effective_at": (at - dt.timedelta(days=100)).isoformat(),
                    }
                ).encode()
                for m, v, u, at in rows[:2000]
            ]
            for rows in rows_per_device
        ]
        with uvicorn_server(env) as port:
            # Warm every worker (imports, connections) before measuring.
            warm_deadline = time.monotonic() + 10
            warm = [
                api_poster(
                    port,
                    d["token"],
                    "/api/v1/rpm/readings",
                    "application/json",
                    [
                        json.dumps(
                            {
                                "measure": "heart_rate",
                                "value": 60,
                                "unit": "/min",
                                "effective_at": (
                                    now - dt.timedelta(days=300, seconds=k)
                                ).isoformat(),
                            }
                        ).encode()
                        for k in range(5)
                    ],
                    warm_deadline,
                    1,
                )
                for d in devices
            ]
            run_threads(warm, 10)
            batch_budget = min(BATCH_SECONDS, TOTAL_BUDGET - (time.monotonic() - started) - 40)
            deadline = time.monotonic() + max(5.0, batch_budget)
            stored, elapsed = run_threads(
                [
                    api_poster(
                        port,
                        d["token"],
                        "/api/v1/rpm/readings/batch",
                        "application/x-ndjson",
                        bodies[n],
                        deadline,
                        BATCH,
                    )
                    for n, d in enumerate(devices)
                ],
                BATCH_SECONDS,
            )
            batch_rate = stored / elapsed
            deadline = time.monotonic() + SINGLE_SECONDS
            single_stored, single_elapsed = run_threads(
                [
                    api_poster(
                        port,
                        d["token"],
                        "/api/v1/rpm/readings",
                        "application/json",
                        singles[n],
                        deadline,
                        1,
                    )
                    for n, d in enumerate(devices)
                ],
                SINGLE_SECONDS,
            )
            single_rate = single_stored / single_elapsed
        # The raw limits, on the same database, after the server has stopped.
        copy_rows = _copy_rows(devices, rows_per_device, now)
        limit_rate, limit_kind, without_keys = raw_batch_limit(env, copy_rows)
        single_limit, single_limit_rows = raw_single_limit(env, devices, now)
    backend = "postgresql" if os.environ.get("CAREPATH_DATABASE_URL") else "sqlite"
    return [
        bench_line(
            "rpm.ingest.batch",
            round(batch_rate, 1),
            "readings/s",
            round(limit_rate, 1),
            per_request=BATCH,
            clients=len(devices),
            readings=stored,
            limit_kind=limit_kind,
            **(
                {
                    "copy_without_fk": round(without_keys, 1),
                    "ratio_without_fk": f"{batch_rate / without_keys:.3g}",
                }
                if without_keys
                else {}
            ),
            backend=backend,
            db_connections=DB_MODE if backend == "postgresql" else "per-request",
        ),
        bench_line(
            "rpm.ingest.single",
            round(single_rate, 1),
            "readings/s",
            round(single_limit, 1),
            clients=len(devices),
            readings=f"{single_stored}/{single_limit_rows}",
            limit_kind="single-row-commits",
            backend=backend,
            db_connections=DB_MODE if backend == "postgresql" else "per-request",
        ),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--seed":
        import django

        django.setup()
        print(json.dumps(seed(int(sys.argv[2]))))
    else:
        for output in run():
            print(output)
