"""CPU seconds per process, read from /proc/<pid>/stat (Linux): user + system time of the
process and of its children it has waited for, so a figure covers whatever it spawned."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of `pid`, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / TICKS_PER_SECOND


@dataclass
class CpuMeter:
    """CPU each named process spends between `start()` and `stop()`."""

    pids: dict[str, int]
    _started: dict[str, float] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)

    def start(self) -> CpuMeter:
        self._started = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def stop(self) -> dict[str, float]:
        self.spent = {name: cpu_seconds(pid) - self._started[name] for name, pid in self.pids.items()}
        return self.spent

    def per_item_ms(self, count: int) -> dict[str, float]:
        return {name: seconds * 1000 / count for name, seconds in self.spent.items()}
