"""A throwaway coturn on 127.0.0.1 for tests and benchmarks: TURN REST auth with a random
secret, temp files for its pid/db/log, a random listening port and relay range; stopped by
its pid. (scripts/ensure-browser installs coturn; see shared/BROWSER-TESTING.md.)"""

import random
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REALM = "carepath.test"


def _port_is_free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _free_port() -> int:
    for _ in range(200):
        port = random.randrange(20_000, 40_000)
        if _port_is_free(port):
            return port
    raise RuntimeError("no free port for TURN")


@dataclass
class TurnServer:
    port: int
    secret: str
    workdir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def urls(self) -> list[str]:
        return [f"turn:127.0.0.1:{self.port}?transport=udp"]

    @property
    def log(self) -> str:
        path = self.workdir / "turn.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # coturn takes ~4 s on SIGTERM; we do not need a clean exit
        try:
            self.process.wait(timeout=1.5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_turn(*, timeout: float = 10.0) -> TurnServer:
    binary = shutil.which("turnserver")
    if binary is None:
        raise RuntimeError("coturn is not installed: run scripts/ensure-browser")
    workdir = Path(tempfile.mkdtemp(prefix="carepath-turn-"))
    port = _free_port()
    low = random.randrange(41_000, 59_000)
    turn = TurnServer(port=port, secret=secrets.token_hex(16), workdir=workdir)
    command = [
        binary,
        "-n",
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        f"--listening-port={port}",
        f"--min-port={low}",
        f"--max-port={low + 400}",
        "--use-auth-secret",
        f"--static-auth-secret={turn.secret}",
        f"--realm={REALM}",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "--allow-loopback-peers",
        "--fingerprint",
        f"--pidfile={workdir / 'turn.pid'}",
        f"--db={workdir / 'turn.db'}",
        f"--log-file={workdir / 'turn.log'}",
        "--simple-log",
        "--no-stdout-log",
    ]
    turn.process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if turn.process.poll() is not None:
            raise RuntimeError(f"turnserver exited: {turn.log[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return turn
        except OSError:
            time.sleep(0.1)
    turn.stop()
    raise RuntimeError(f"turnserver did not listen on {port} within {timeout}s")
