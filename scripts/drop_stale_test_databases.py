"""Drop test databases left behind by test runs that died (killed, timed out).

Each run names its database test_carepath_<pid>_<random>; a database whose process no longer
exists on this machine belongs to nobody. Databases of live processes are never touched."""

import os
import re
import sys

import psycopg

NAME = re.compile(r"^test_carepath_(\d+)_[0-9a-f]+$")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        names = [row[0] for row in connection.execute("SELECT datname FROM pg_database")]
        for name in names:
            match = NAME.match(name)
            if match and not process_alive(int(match.group(1))):
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                print(f"dropped stale test database {name}")


if __name__ == "__main__":
    main(sys.argv[1])
