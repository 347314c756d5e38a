"""The CPUs this process may use, and how many of them other processes leave idle: what the
default thread count follows. Standard library only, so the first look is taken as deepworks
is imported, before torch."""

from __future__ import annotations

import os
import time
from pathlib import Path


def _cpu_sample() -> tuple[float, float, dict[int, tuple[int, int]]]:
    """(wall clock, this process's CPU seconds, per CPU (busy, total) jiffies): two samples
    tell how busy the other processes kept the CPUs in between."""
    per_cpu: dict[int, tuple[int, int]] = {}
    try:
        for line in Path("/proc/stat").read_text().splitlines()[1:]:
            if not line.startswith("cpu"):
                break
            name, *fields = line.split()
            ticks = [int(f) for f in fields[:8]]  # user … steal; guest is inside user
            per_cpu[int(name[3:])] = (sum(ticks) - ticks[3] - ticks[4], sum(ticks))
    except (OSError, ValueError):  # not Linux: nothing known about other processes
        pass
    return time.monotonic(), _own_cpu_seconds(), per_cpu


# This process's helpers (deepworks.core.helpers): their work is ours, not a competitor's.
helper_pids: set[int] = set()


def _own_cpu_seconds() -> float:
    seconds = time.process_time()
    for pid in list(helper_pids):
        try:  # utime and stime, the 14th and 15th fields, after the command's parentheses
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):  # ended, or not Linux
            pass
    return seconds


# Taken as deepworks is imported, before torch loads: importing it leaves a window of a
# second or two in which to see what else is running, at no cost.
_last_sample = _cpu_sample()


def available_cpus() -> int:
    """The CPUs this process may use: its affinity mask (taskset, cpusets), capped by a
    cgroup CPU quota (containers: `docker --cpus`), which torch's own default ignores."""
    cpus = len(_allowed_cpus())
    quota = _cgroup_quota()
    return max(1, min(cpus, int(quota))) if quota else cpus


def idle_cpus(window: float = 0.1) -> float:
    """CPUs' worth of time the other processes left idle since the last look (at least
    ``window`` seconds; a look older than a minute is too stale and starts a new one). This
    process's own work (and its helpers') is not counted as busy: the import of torch is
    not a competitor."""
    global _last_sample
    if time.monotonic() - _last_sample[0] > 60:
        _last_sample = _cpu_sample()
    time.sleep(max(0.0, window - (time.monotonic() - _last_sample[0])))
    _, own0, cpus0 = _last_sample
    _last_sample = _, own1, cpus1 = _cpu_sample()
    mine, available = _allowed_cpus() & cpus0.keys() & cpus1.keys(), float(available_cpus())
    if not mine:
        return available
    busy = sum(cpus1[c][0] - cpus0[c][0] for c in mine)
    total = sum(cpus1[c][1] - cpus0[c][1] for c in mine)
    if total <= 0:
        return float(len(mine))
    seconds = total / len(mine) / os.sysconf("SC_CLK_TCK")  # the window, as the kernel saw it
    others = max(0.0, busy / os.sysconf("SC_CLK_TCK") - (own1 - own0)) / seconds
    return max(0.0, min(available, len(mine) - others))


def _allowed_cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return set(range(os.cpu_count() or 1))


def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs' worth of time the cgroup grants per period (v2 ``cpu.max``, v1 ``cfs_quota``),
    or None without a limit."""
    try:
        if (root / "cpu.max").is_file():  # cgroup v2: "max 100000" or "200000 100000"
            quota, period = (root / "cpu.max").read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None
