"""BENCH chat.deliver.p50 / chat.deliver.p99: milliseconds from sending a secure message
(POST /api/v1/messages/threads/<id>/messages with a bearer token) to its arrival on the other
participant's WebSocket (ws/messages/<id>/), with 200 sockets connected to a real uvicorn
server on 127.0.0.1: 100 threads, each with its patient and its clinician connected. Patients
post; the clinicians' sockets are timed.

limit=: a raw WebSocket echo in the same run: a plain `websockets` echo server in its own
process, 200 connected clients, the same number of messages and senders in flight, timed
send -> echo received.

Runs on a throwaway database (a temporary var/ directory, or a uniquely named PostgreSQL
database created and dropped when CAREPATH_DATABASE_URL is set) and, with CAREPATH_REDIS_URL,
a unique channel/cache prefix. The embedded default (in-memory channel layer) must run one web
worker; with Redis, BENCH_WEB_WORKERS (default: half the cores). Bounded: about 90 s;
everything it starts is stopped."""

import asyncio
import http.client
import json
import os
import queue
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench._format import bench_line
from bench._support import pg_admin as _pg_admin
from bench._support import with_database as _with_database

THREADS = 100  # x 2 participants = 200 connected sockets
CLIENTS = THREADS * 2
MESSAGES = int(os.environ.get("BENCH_CHAT_MESSAGES", "300"))
WARMUP = 20
RATE = float(os.environ.get("BENCH_CHAT_RATE", "25"))  # messages per second, open loop
MAX_OPEN = 16  # requests in flight at most
PHASE_TIMEOUT = 25.0
ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


# --- Throwaway database and processes ------------------------------------------------------


@contextmanager
def throwaway_environment() -> Iterator[dict[str, str]]:
    var_dir = Path(tempfile.mkdtemp(prefix="carepath-bench-chat-"))
    token = secrets.token_hex(4)
    env = dict(os.environ)
    env.update(
        {
            "CAREPATH_VAR_DIR": str(var_dir),
            "CAREPATH_TASK_BACKEND": "immediate",
            "CAREPATH_LOG_LEVEL": "WARNING",
            "CAREPATH_CHANNEL_PREFIX": f"bench-chat-{token}",
            "DJANGO_SETTINGS_MODULE": "carepath.settings",
            "PYTHONPATH": str(ROOT),
        }
    )
    admin_url = os.environ.get("CAREPATH_DATABASE_URL", "")
    name = f"carepath_bench_chat_{token}"
    try:
        if admin_url:
            _pg_admin(admin_url, f'CREATE DATABASE "{name}"')
            env["CAREPATH_DATABASE_URL"] = _with_database(admin_url, name)
        yield env
    finally:
        if admin_url:
            _pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(var_dir, ignore_errors=True)


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


@contextmanager
def uvicorn_server(env: dict[str, str]) -> Iterator[int]:
    sock = _listening_socket()
    # Half the cores: the database, Redis and the 200 clients share the machine.
    workers = os.environ.get("BENCH_WEB_WORKERS", str(max(1, (os.cpu_count() or 2) // 2)))
    if not env.get("CAREPATH_REDIS_URL"):
        workers = "1"  # the in-memory channel layer lives in one process
    # The server's log goes to a file: an unread pipe fills up and blocks the server.
    with tempfile.TemporaryFile() as log:
        yield from _serve(env, sock, workers, log)


def _serve(env: dict[str, str], sock: socket.socket, workers: str, log: Any) -> Iterator[int]:
    port = sock.getsockname()[1]
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "uvicorn",
            "carepath.asgi:application",
            "--fd",
            str(sock.fileno()),
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
        pass_fds=(sock.fileno(),),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        _wait_http(port, process, log)
        yield port
    finally:
        _stop(process)
        sock.close()


def _tail(log: Any) -> str:
    log.seek(0)
    return str(log.read().decode(errors="replace")[-2000:])


def _wait_http(port: int, process: subprocess.Popen[bytes], log: Any) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {_tail(log)}")
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


@contextmanager
def echo_server(env: dict[str, str]) -> Iterator[int]:
    sock = _listening_socket()
    with tempfile.TemporaryFile() as log:
        yield from _echo(env, sock, log)


def _echo(env: dict[str, str], sock: socket.socket, log: Any) -> Iterator[int]:
    port = sock.getsockname()[1]
    process = subprocess.Popen(
        [PYTHON, "-m", "bench.chat_deliver", "--echo-fd", str(sock.fileno())],
        cwd=ROOT,
        env=env,
        pass_fds=(sock.fileno(),),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        time.sleep(0.3)
        if process.poll() is not None:
            raise RuntimeError(f"echo server exited: {_tail(log)}")
        yield port
    finally:
        _stop(process)
        sock.close()


async def _echo_main(fd: int) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    listening = socket.socket(fileno=fd)
    async with serve(echo, sock=listening, compression=None, max_queue=None) as server:
        await server.serve_forever()


# --- Child mode: seed ----------------------------------------------------------------------


def seed() -> dict[str, Any]:
    """(In a child process.) 100 TX patients (consented, API tokens, sessions), 10 clinicians
    (TOTP, MFA sessions), 100 patient threads each with its patient and one clinician."""
    import datetime as dt

    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.http import HttpRequest

    from carepath.accounts.actions import do_create_api_token
    from carepath.accounts.mfa import record_mfa_in_session
    from carepath.accounts.models import ClinicianProfile, License, PatientProfile, Role, User
    from carepath.consent.models import ConsentAcceptance, ConsentDocument, ConsentKind
    from carepath.messaging.models import Participant, Thread, ThreadKind

    def session_for(user: User, mfa: bool) -> str:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "allauth.account.auth_backends.AuthenticationBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        if mfa:
            request = HttpRequest()
            request.session = store
            record_mfa_in_session(request, user)
        store.save()
        return str(store.session_key)

    documents = [
        ConsentDocument.objects.create(kind=kind, state="", version=1, title=kind, body=kind)
        for kind in (ConsentKind.TELEHEALTH, ConsentKind.PRIVACY)
    ]
    doctors = []
    for n in range(10):
        doctor = User.objects.create_user(
            f"bench.chat.doc{n}@example.com", None, role=Role.CLINICIAN
        )
        TOTP.activate(doctor, generate_totp_secret())
        profile = ClinicianProfile.objects.create(user=doctor, npi=f"{n:010d}", languages=["en"])
        License.objects.create(
            clinician=profile, state="TX", expires_on=dt.date.today() + dt.timedelta(days=365)
        )
        doctors.append((doctor, session_for(doctor, True)))
    threads = []
    for n in range(THREADS):
        patient = User.objects.create_user(
            f"bench.chat.pat{n}@example.com", None, role=Role.PATIENT
        )
        PatientProfile.objects.create(user=patient, date_of_birth=dt.date(1990, 1, 1), state="TX")
        for document in documents:
            ConsentAcceptance.objects.create(patient=patient, document=document)
        doctor, doctor_cookie = doctors[n % len(doctors)]
        thread = Thread.objects.create(
            kind=ThreadKind.PATIENT, patient=patient, subject=f"Bench {n}", created_by=patient
        )
        Participant.objects.create(thread=thread, user=patient)
        Participant.objects.create(thread=thread, user=doctor)
        threads.append(
            {
                "id": thread.pk,
                "token": do_create_api_token(patient, "bench").raw,
                "patient_cookie": session_for(patient, False),
                "doctor_cookie": doctor_cookie,
            }
        )
    return {"threads": threads}


# --- Measuring -------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


class Follower:
    """One participant's socket, as the page's script uses it: on a drop it reconnects with
    ?after=<last seq seen> and carries on (the drop is counted)."""

    def __init__(self, url: str, origin: str, cookie: str, timed: bool) -> None:
        self.url, self.origin, self.cookie, self.timed = url, origin, cookie, timed
        self.last_seq = 0
        self.ready = asyncio.Event()
        self.reconnects = 0
        self.stopping = False
        self.connection: Any = None

    async def run(self, arrived: dict[str, float]) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        while not self.stopping:
            query = f"?after={self.last_seq}" if self.ready.is_set() else ""
            try:
                self.connection = await connect(
                    self.url + query,
                    origin=self.origin,  # type: ignore[arg-type]
                    additional_headers={"Cookie": f"sessionid={self.cookie}"},
                    compression=None,
                    max_queue=None,
                    open_timeout=20,
                )
                async for raw in self.connection:
                    frame = json.loads(raw)
                    kind = frame.get("type")
                    if kind == "hello":
                        if not self.ready.is_set():
                            self.last_seq = int(frame["last_seq"])
                        self.ready.set()
                    elif kind == "message":
                        message = frame["message"]
                        self.last_seq = max(self.last_seq, int(message["seq"]))
                        if self.timed:
                            arrived.setdefault(message["body"], time.perf_counter())
            except (ConnectionClosed, OSError, TimeoutError):
                pass
            if not self.stopping:
                self.reconnects += 1
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        self.stopping = True
        if self.connection is not None:
            await self.connection.close()


async def _wait_for(arrived: dict[str, float], keys: list[str], deadline: float) -> None:
    while time.monotonic() < deadline and any(key not in arrived for key in keys):
        await asyncio.sleep(0.01)


async def open_loop(total: int, send: Callable[[int], Awaitable[None]]) -> None:
    """Start message n at start + n / RATE (not waiting for earlier ones), at most MAX_OPEN
    at once; stops starting new ones after PHASE_TIMEOUT."""
    gate = asyncio.Semaphore(MAX_OPEN)
    began = time.monotonic()
    tasks = []

    async def one(n: int) -> None:
        async with gate:
            await send(n)

    for n in range(total):
        delay = began + n / RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if time.monotonic() - began > PHASE_TIMEOUT:
            break
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)


async def measure_chat(port: int, threads: list[dict[str, Any]]) -> tuple[list[float], int, int]:
    origin = f"http://127.0.0.1:{port}"
    arrived: dict[str, float] = {}
    followers = [
        Follower(
            f"ws://127.0.0.1:{port}/ws/messages/{thread['id']}/",
            origin,
            thread[f"{role}_cookie"],
            role == "doctor",
        )
        for thread in threads
        for role in ("patient", "doctor")
    ]
    tasks = []
    for follower in followers:  # connect one by one, as people arrive
        tasks.append(asyncio.create_task(follower.run(arrived)))
        await asyncio.wait_for(follower.ready.wait(), 30)
    pool: queue.SimpleQueue[http.client.HTTPConnection] = queue.SimpleQueue()
    connections = [
        http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(MAX_OPEN)
    ]
    for conn in connections:
        pool.put(conn)
    executor = ThreadPoolExecutor(max_workers=MAX_OPEN)
    sent: dict[str, float] = {}

    def post(thread: dict[str, Any], body: str) -> None:
        conn = pool.get()
        try:
            conn.request(
                "POST",
                f"/api/v1/messages/threads/{thread['id']}/messages",
                body=json.dumps({"body": body}),
                headers={
                    "Authorization": f"Bearer {thread['token']}",
                    "Content-Type": "application/json",
                },
            )
            response = conn.getresponse()
            data = response.read()
            if response.status != 201:
                raise RuntimeError(f"send answered {response.status}: {data[:300]!r}")
        finally:
            pool.put(conn)

    async def send(n: int) -> None:
        body = f"bench message {n}"
        sent[body] = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(
            executor, post, threads[n % len(threads)], body
        )

    try:
        await open_loop(WARMUP + MESSAGES, send)
        await _wait_for(arrived, list(sent), time.monotonic() + 10)
        latencies = [
            (arrived[body] - started) * 1000
            for body, started in sent.items()
            if body in arrived and int(body.rsplit(" ", 1)[1]) >= WARMUP
        ]
        lost = sum(1 for body in sent if body not in arrived)
        return latencies, lost, sum(follower.reconnects for follower in followers)
    finally:
        executor.shutdown(wait=True)
        for conn in connections:
            conn.close()
        for follower in followers:
            await follower.stop()
        await asyncio.wait(tasks, timeout=15)
        for task in tasks:
            task.cancel()


async def measure_echo(port: int, count: int) -> list[float]:
    from websockets.asyncio.client import connect

    arrived: dict[str, float] = {}
    sockets = [
        await connect(f"ws://127.0.0.1:{port}/", compression=None, max_queue=None, open_timeout=20)
        for _ in range(CLIENTS)
    ]

    async def reader(connection: Any) -> None:
        async for raw in connection:
            arrived[str(raw)] = time.perf_counter()

    readers = [asyncio.create_task(reader(connection)) for connection in sockets]
    sent: dict[str, float] = {}

    async def send(n: int) -> None:
        body = json.dumps({"body": f"echo message {n}"})
        sent[body] = time.perf_counter()
        await sockets[n % len(sockets)].send(body)

    try:
        await open_loop(WARMUP + count, send)
        await _wait_for(arrived, list(sent), time.monotonic() + 10)
        return [
            (arrived[body] - started) * 1000
            for body, started in sent.items()
            if body in arrived and int(json.loads(body)["body"].rsplit(" ", 1)[1]) >= WARMUP
        ]
    finally:
        for task in readers:
            task.cancel()
        for connection in sockets:
            await connection.close()


def run() -> list[str]:
    started = time.monotonic()
    with throwaway_environment() as env:
        _run(env, "manage.py", "migrate", "--noinput", "--verbosity", "0")
        threads = json.loads(_run(env, "-m", "bench.chat_deliver", "--seed"))["threads"]
        with uvicorn_server(env) as port:
            latencies, lost, reconnects = asyncio.run(measure_chat(port, threads))
        with echo_server(env) as echo_port:
            echo = asyncio.run(measure_echo(echo_port, len(latencies)))
    extra = {
        "clients": CLIENTS,
        "rate": f"{RATE:g}/s",
        "messages": len(latencies),
        "lost": lost,
        "reconnects": reconnects,
        "seconds": round(time.monotonic() - started, 1),
    }
    return [
        bench_line(
            "chat.deliver.p50",
            round(statistics.median(latencies), 2),
            "ms",
            round(statistics.median(echo), 3),
            **extra,
        ),
        bench_line(
            "chat.deliver.p99",
            round(percentile(latencies, 0.99), 2),
            "ms",
            round(percentile(echo, 0.99), 3),
            **extra,
        ),
    ]


if __name__ == "__main__":
    if sys.argv[1:] == ["--seed"]:
        import django

        django.setup()
        print(json.dumps(seed()))
    elif len(sys.argv) == 3 and sys.argv[1] == "--echo-fd":
        asyncio.run(_echo_main(int(sys.argv[2])))
    else:
        for line in run():
            print(line)
