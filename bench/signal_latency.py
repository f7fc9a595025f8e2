"""BENCH signal.latency.p50 / .p99: milliseconds for one signaling message (an ICE candidate
carrying a timestamp) to go from one participant's socket through the visit signaling consumer
(validation, room check, channel layer) to the other participant's socket. 200 websocket
clients in 100 rooms against a real uvicorn server (one worker) on 127.0.0.1.

limit=: the same clients, the same pacing and message, against a raw websocket echo server
(the `websockets` package, its own process) measured in the same run: one server hop with no
application in it.

Throwaway database (bench.queue_claim.throwaway_database: temporary SQLite, or a scratch
PostgreSQL database when CAREPATH_DATABASE_URL is set); the channel layer is Redis when
CAREPATH_REDIS_URL is set. Bounded: about 45 s, servers stopped by pid."""

import asyncio
import contextlib
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench._format import bench_line
from bench._support import throwaway_database

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ROOMS = 100
MESSAGES = 10  # per client
INTERVAL = 0.2  # seconds between one client's messages
CONNECT_CONCURRENCY = 25
DEADLINE = 75.0
WARM_UP_TIMEOUT = 10.0
PHASE_GRACE = 5.0

SETUP = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from bench.signal_latency import seed_rooms
json.dump(seed_rooms(int(sys.argv[1])), sys.stdout)
"""

ECHO = """
import asyncio, sys
from websockets.asyncio.server import serve

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1]), max_size=2**20, compression=None):
        await asyncio.Future()

asyncio.run(main())
"""


# --- Child process: seed rooms -------------------------------------------------------------


def seed_rooms(rooms: int) -> dict[str, Any]:
    """(In the setup child.) One patient and one clinician, `rooms` live visits with both
    admitted, and a signed-in session for each person (the clinician's through MFA)."""
    import datetime as dt

    from carepath.core import clock
    from carepath.visits.models import (
        AdmissionState,
        Participant,
        Visit,
        VisitKind,
        VisitStatus,
    )
    from tests.personas import make_clinic, make_clinician, make_patient, signed_in_client

    make_clinic()
    patient = make_patient("bench.patient@example.com", "TX")
    clinician = make_clinician("bench.doc@example.com", "1234567893", ["TX"], ["primary-care"])
    now = clock.now()
    visits = Visit.objects.bulk_create(
        Visit(
            kind=VisitKind.ON_DEMAND,
            status=VisitStatus.IN_PROGRESS,
            patient=patient,
            clinician=clinician,
            starts_at=now,
            ends_at=now + dt.timedelta(hours=2),
            started_at=now,
        )
        for _ in range(rooms)
    )
    result = []
    for visit in visits:
        pair = Participant.objects.bulk_create(
            Participant(
                visit=visit,
                user=user,
                role=role,
                display_name=user.display_name,
                state=AdmissionState.ADMITTED,
                admitted_at=now,
                checked_in_at=now,
            )
            for user, role in ((patient, "patient"), (clinician, "clinician"))
        )
        result.append({"visit": visit.pk, "patient": pair[0].pk, "clinician": pair[1].pk})
    return {
        "rooms": result,
        "patient_cookie": signed_in_client(patient).cookies["sessionid"].value,
        "clinician_cookie": signed_in_client(clinician).cookies["sessionid"].value,
    }


# --- Servers -------------------------------------------------------------------------------


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on {port} within {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(command: list[str], env: dict[str, str], log_path: Path) -> Iterator[int]:
    """Run `command` ({port} replaced by a free loopback port) and yield the port. A real
    port, not an inherited fd: uvicorn treats an --fd socket as AF_UNIX and then leaves
    Nagle's algorithm on, which adds ~40 ms (delayed ACK) to small websocket messages."""
    port = _free_port()
    args = [part.replace("{port}", str(port)) for part in command]
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            _wait_for_port(port, process)
            yield port
        except Exception:
            print(f"# server log:\n{log_path.read_text(errors='replace')[-3000:]}", file=sys.stderr)
            raise
        finally:
            _stop(process)


@contextmanager
def visit_server(rooms: int) -> Iterator[tuple[int, dict[str, Any], dict[str, str]]]:
    """A migrated throwaway database seeded with `rooms` visits, served by uvicorn (one
    worker, so the in-memory channel layer sees every socket)."""
    with throwaway_database() as env:
        env["CAREPATH_CHANNEL_PREFIX"] = f"bench{secrets.token_hex(3)}"
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        done = subprocess.run(
            [PYTHON, "-c", SETUP, str(rooms)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{done.stderr[-3000:]}")
        seeded = json.loads(done.stdout.strip().splitlines()[-1])
        command = [
            PYTHON,
            "-m",
            "uvicorn",
            "carepath.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--workers",
            "1",
            "--ws",
            os.environ.get("BENCH_WS_IMPL", "websockets-sansio"),
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ]
        with serving(command, env, Path(env["CAREPATH_VAR_DIR"]) / "server.log") as port:
            yield port, seeded, env


# --- Clients -------------------------------------------------------------------------------


def _now_ms() -> float:
    return time.perf_counter() * 1000


def _candidate(n: int) -> dict[str, Any]:
    return {
        "candidate": f"candidate:{n} 1 udp 2122260223 127.0.0.1 {50000 + n % 10000} typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    }


class Run:
    """Two barriers: every client connected (and joined its room), then every client got its
    peer's warm-up message; only then does the measured phase start, so the joins' database
    work is over and the measurement is the steady-state relay."""

    def __init__(self, clients: int) -> None:
        self.latencies: list[float] = []
        self.clients = clients
        self.ready = 0
        self.warm = 0
        self.all_ready = asyncio.Event()
        self.all_warm = asyncio.Event()
        # When receivers stop waiting: set once the measured phase starts. A message not
        # relayed by then counts as lost (reported, not waited for forever).
        self.stop_at = time.monotonic() + DEADLINE

    def start_phase(self) -> None:
        if not self.all_warm.is_set():
            self.all_warm.set()
            self.stop_at = time.monotonic() + MESSAGES * INTERVAL + PHASE_GRACE

    def mark_ready(self) -> None:
        self.ready += 1
        if self.ready == self.clients:
            self.all_ready.set()

    def mark_warm(self) -> None:
        self.warm += 1
        if self.warm == self.clients:
            self.start_phase()

    async def recv(self, ws: Any) -> dict[str, Any] | None:
        """The next message, or None once the phase is over."""
        try:
            text = await asyncio.wait_for(ws.recv(), max(0.05, self.stop_at - time.monotonic()))
        except TimeoutError:
            return None
        return dict(json.loads(text))


async def _receive_until(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        message = json.loads(await ws.recv())
        if message.get("type") == kind:
            return dict(message)
        if message.get("type") == "error":
            raise RuntimeError(f"signaling error: {message}")


WARM_UP_TS = -1.0


async def _pace(run: Run, ws: Any, make: Any) -> None:
    await run.all_ready.wait()
    warm_up = make(0)
    warm_up["ts"] = WARM_UP_TS
    await ws.send(json.dumps(warm_up))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run.all_warm.wait(), WARM_UP_TIMEOUT)
    run.start_phase()
    await asyncio.sleep(random.random() * INTERVAL)
    for n in range(MESSAGES):
        await ws.send(json.dumps(make(n)))
        await asyncio.sleep(INTERVAL)


def _record(run: Run, message: dict[str, Any]) -> bool:
    """True for a measured message; the warm-up only counts towards the second barrier."""
    if message["ts"] == WARM_UP_TS:
        run.mark_warm()
        return False
    run.latencies.append(_now_ms() - message["ts"])
    return True


async def signal_client(
    run: Run, gate: asyncio.Semaphore, port: int, room: dict[str, Any], me: str, cookie: str
) -> None:
    from websockets.asyncio.client import connect

    peer = room["clinician" if me == "patient" else "patient"]
    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{port}"}
    async with gate:
        ws = await connect(
            f"ws://127.0.0.1:{port}/ws/visits/{room['visit']}/",
            additional_headers=headers,
            open_timeout=30,
            compression=None,
            max_size=2**20,
        )
        await _receive_until(ws, "hello")
        await ws.send(json.dumps({"type": "join", "session": f"bench-{room[me]}"}))
        await _receive_until(ws, "joined")
    run.mark_ready()

    def make(n: int) -> dict[str, Any]:
        return {"type": "ice", "to": peer, "candidate": _candidate(n), "ts": _now_ms()}

    sender = asyncio.create_task(_pace(run, ws, make))
    received = 0
    try:
        while received < MESSAGES:
            message = await run.recv(ws)
            if message is None:
                break
            if message.get("type") == "error":
                raise RuntimeError(f"signaling error: {message}")
            if message.get("type") == "ice" and "ts" in message and _record(run, message):
                received += 1
        await sender
    finally:
        await ws.close()


async def echo_client(run: Run, gate: asyncio.Semaphore, port: int, n_client: int) -> None:
    from websockets.asyncio.client import connect

    async with gate:
        ws = await connect(
            f"ws://127.0.0.1:{port}/", open_timeout=30, compression=None, max_size=2**20
        )
    run.mark_ready()

    def make(n: int) -> dict[str, Any]:
        return {"type": "ice", "to": n_client, "candidate": _candidate(n), "ts": _now_ms()}

    sender = asyncio.create_task(_pace(run, ws, make))
    try:
        received = 0
        while received < MESSAGES:
            message = await run.recv(ws)
            if message is None:
                break
            if _record(run, message):
                received += 1
        await sender
    finally:
        await ws.close()


async def measure_signaling(port: int, seeded: dict[str, Any]) -> list[float]:
    rooms = seeded["rooms"]
    run = Run(clients=2 * len(rooms))
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    cookies = {"patient": seeded["patient_cookie"], "clinician": seeded["clinician_cookie"]}
    tasks = [
        signal_client(run, gate, port, room, me, cookies[me])
        for room in rooms
        for me in ("patient", "clinician")
    ]
    await asyncio.gather(*tasks)
    return run.latencies


async def measure_echo(port: int, clients: int) -> list[float]:
    run = Run(clients=clients)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    await asyncio.gather(*(echo_client(run, gate, port, n) for n in range(clients)))
    return run.latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def run() -> list[str]:
    started = time.monotonic()
    with visit_server(ROOMS) as (port, seeded, env):
        signal = asyncio.run(asyncio.wait_for(measure_signaling(port, seeded), DEADLINE / 2))
        log = Path(env["CAREPATH_VAR_DIR"]) / "echo.log"
        with serving([PYTHON, "-c", ECHO, "{port}"], env, log) as echo_port:
            remaining = max(10.0, DEADLINE - (time.monotonic() - started))
            echo = asyncio.run(asyncio.wait_for(measure_echo(echo_port, 2 * ROOMS), remaining))
    expected = 2 * ROOMS * MESSAGES
    if not signal:
        raise RuntimeError("no signaling message was relayed")
    lines = []
    for q in (50, 99):
        lines.append(
            bench_line(
                f"signal.latency.p{q}",
                round(percentile(signal, q), 3),
                "ms",
                round(percentile(echo, q), 3),
                clients=2 * ROOMS,
                rooms=ROOMS,
                messages=len(signal),
                lost=expected - len(signal),
            )
        )
    with contextlib.suppress(statistics.StatisticsError):
        lines.append(
            f"# signal.latency mean={statistics.mean(signal):.2f} ms "
            f"echo mean={statistics.mean(echo):.2f} ms"
        )
    return lines


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carepath.settings")
    for line in run():
        print(line)
