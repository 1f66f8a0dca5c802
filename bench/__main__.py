"""Run the benchmarks: `python -m bench` runs all, `python -m bench media runner_requests` runs the named ones."""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = (
    "emulator_requests",
    "runner_requests",
    "media",
    "media_batch",
    "coldstart",
    "e2e",
    "dlq",
    "ml",
    "backlog",
)


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        module.main()
        print(f"--- bench.{name} took {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
