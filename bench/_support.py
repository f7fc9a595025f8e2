"""What every benchmark shares: a throwaway database for its child processes, and running
the project's Python in that environment."""

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def pg_dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def pg_admin(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(pg_dsn(url), autocommit=True) as conn:
        conn.execute(statement)


@contextmanager
def throwaway_database(label: str = "bench") -> Iterator[dict[str, str]]:
    """Environment for child processes pointing at a fresh database (a scratch PostgreSQL
    database when CAREPATH_DATABASE_URL is set, else SQLite in a temp dir), removed after."""
    var_dir = Path(tempfile.mkdtemp(prefix=f"carepath-{label}-"))
    env = dict(os.environ)
    env.update(
        {
            "CAREPATH_VAR_DIR": str(var_dir),
            "CAREPATH_TASK_BACKEND": "immediate",
            "CAREPATH_LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "carepath.settings",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
    )
    admin_url = os.environ.get("CAREPATH_DATABASE_URL", "")
    name = f"carepath_{label}_{secrets.token_hex(4)}"
    try:
        if admin_url:
            pg_admin(admin_url, f'CREATE DATABASE "{name}"')
            env["CAREPATH_DATABASE_URL"] = with_database(admin_url, name)
        yield env
    finally:
        if admin_url:
            pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(var_dir, ignore_errors=True)


def run_python(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Run `python ARGS` in the project with this environment; its stdout, or an error."""
    done = subprocess.run(
        [PYTHON, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{done.stderr[-3000:]}")
    return done.stdout
