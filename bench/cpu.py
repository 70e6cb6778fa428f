"""How much CPU *other* processes used during a run (Linux /proc): the machine-wide busy time minus what
the server's process group, wrk and this harness used. A run that shared the CPUs with something else
shows it here, where a load average (a one-minute mean, read before the run) can miss it; so does a run
during which the machine stalled on I/O (Linux pressure stall information)."""

import os
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Final

TICK: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_busy() -> tuple[float, float]:
    """(busy seconds without steal, steal seconds) summed over all CPUs since boot."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / TICK, steal / TICK


def _group_cpu(pgid: int) -> float:
    """User + system seconds of the live processes in one process group."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:  # fields after "pid (comm)": state ppid pgrp …; utime/stime at 11/12
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def _io_stall_s() -> float:
    """Seconds during which every runnable task waited on I/O (PSI "full"), or 0 without /proc/pressure."""
    try:
        full = Path("/proc/pressure/io").read_text().splitlines()[1]
        return int(full.rsplit("total=", 1)[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


def _own_and_children() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass
class Meter:
    """Started before a run; `stop()` gives the CPUs' worth of time other processes used, the CPUs stolen
    by the hypervisor, and the share of the run during which everything stalled on I/O."""

    pgid: int
    busy: float = 0.0
    steal: float = 0.0
    server: float = 0.0
    ours: float = 0.0
    io: float = 0.0

    def start(self) -> "Meter":
        self.busy, self.steal = _machine_busy()
        self.server, self.ours, self.io = _group_cpu(self.pgid), _own_and_children(), _io_stall_s()
        return self

    def stop(self, wall_s: float) -> tuple[float, float, float]:
        busy, steal = _machine_busy()
        server, ours = _group_cpu(self.pgid), _own_and_children()
        foreign = (busy - self.busy) - (server - self.server) - (ours - self.ours)
        io = (_io_stall_s() - self.io) / wall_s
        return round(max(foreign, 0.0) / wall_s, 2), round((steal - self.steal) / wall_s, 2), round(io, 3)
