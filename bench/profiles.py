"""py-spy on the benchmark's processes while they work: collapsed stacks to a folder, and the
functions that took the most samples (own time and with what they called).

    python -m bench.profiles FILE.txt [--top 25]     # summarise a recorded profile
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def py_spy(pids: dict[str, int], folder: Path | None) -> Iterator[None]:
    """Samples each named process (GIL holders only: what costs the CPU) while the block runs;
    writes `<name>.txt` (collapsed stacks) into `folder`. Nothing happens without a folder."""
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    spies = [
        subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--format", "raw", "--gil", "--nonblocking"]
            + ["--rate", "100", "--output", str(folder / f"{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for spy in spies:
            spy.wait(timeout=60)


def top_functions(collapsed: Path, top: int = 25) -> str:
    """Own and inclusive sample shares of the busiest functions in a collapsed-stack file."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{collapsed.name}: {total} samples"]
    lines.append("  inclusive:")
    lines += [f"    {n * 100 / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines.append("  own:")
    lines += [f"    {n * 100 / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """`function (path/to/module.py:123)` -> `function (module.py)`: lines merged per function."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = path.split("/")
    return f"{name} ({'/'.join(parts[-2:])})"


# The SDK's latency histograms (seconds) a worker exports on its /metrics, and what each measures.
WORKER_LATENCIES = {
    "temporal_workflow_task_schedule_to_start_latency": "workflow task waited for the worker",
    "temporal_workflow_task_execution_latency": "workflow task ran (Python)",
    "temporal_workflow_endtoend_latency": "",
    "temporal_local_activity_execution_latency": "local activity ran",
    "temporal_activity_execution_latency": "activity ran",
    "temporal_activity_schedule_to_start_latency": "activity waited for the worker",
}


def latency_figures(metrics_text: str) -> dict[str, tuple[float, float]]:
    """Mean and p99 (the bucket bound 99 % of samples fall under) of each histogram above, in
    the exporter's unit (ms), over all its label sets."""
    sums: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    buckets: dict[str, Counter[float]] = {base: Counter() for base in WORKER_LATENCIES}
    for line in metrics_text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        series, value = line.rsplit(" ", 1)
        name = series.partition("{")[0]
        for base in WORKER_LATENCIES:
            if name == f"{base}_sum":
                sums[base] += float(value)
            elif name == f"{base}_count":
                counts[base] += float(value)
            elif name == f"{base}_bucket":
                bound = series.split('le="', 1)[1].split('"', 1)[0]
                buckets[base][float(bound)] += float(value)
    figures = {}
    for base in WORKER_LATENCIES:
        if counts[base]:
            p99 = next(b for b in sorted(buckets[base]) if buckets[base][b] >= 0.99 * counts[base])
            figures[base] = (sums[base] / counts[base], p99)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for file in args.files:
        print(top_functions(file, args.top))


if __name__ == "__main__":
    main()
