"""`make bench`: every benchmark, with sizes that finish in under 10 minutes on 2 cores.

    python -m bench.run_all [--full]

Each runs in its own process on its own throwaway stack, so none warms or loads
another. `--full` uses each script's own (larger) default sizes instead.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

QUICK = {
    "bench.booking": ["--bookings", "300", "--clients", "20"],
    "bench.reminders": ["--burst", "1000", "--steady", "200"],
    "bench.scale": ["--journeys", "2000"],
    "bench.search": ["--recipients", "100000", "--searches", "1500"],
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="each script's default (larger) sizes")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    failed = []
    for module, sizes in QUICK.items():
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", module, *([] if args.full else sizes)])
        print(f"({module}: {time.perf_counter() - started:.0f} s, exit {code})", flush=True)
        if code:
            failed.append(module)
    if failed:
        print(f"FAILED: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
