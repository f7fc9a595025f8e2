"""`make bench`: run every benchmark module in bench/ and print its BENCH lines.

Each module exposes `run() -> list[str]`; each line reads
`BENCH <name> value=<number> unit=<unit> [limit=<number> ratio=<value/limit>]`, the limit
being the raw figure of the same operation measured in the same run on the same machine."""

import importlib
import os
import pkgutil
import sys
import time
import traceback

import django


def bench_modules() -> list[str]:
    package_dir = os.path.dirname(__file__)
    names = [info.name for info in pkgutil.iter_modules([package_dir])]
    return sorted(name for name in names if not name.startswith("_"))


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carepath.settings")
    django.setup()
    wanted = set(sys.argv[1:])
    failures = 0
    backend = "postgresql" if os.environ.get("CAREPATH_DATABASE_URL") else "sqlite"
    print(f"# carepath benchmarks on {backend}", flush=True)
    for name in bench_modules():
        if wanted and name not in wanted:
            continue
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            for line in module.run():
                print(line, flush=True)
        except Exception:
            failures += 1
            print(f"# {name} failed:", file=sys.stderr)
            traceback.print_exc()
        print(f"# {name} took {time.perf_counter() - started:.1f} s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
