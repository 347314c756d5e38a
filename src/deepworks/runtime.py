"""Process-wide settings: CPU threads and seeds; what machine this is."""

from __future__ import annotations

import os
import platform
import random
from pathlib import Path

import numpy as np
import torch


def set_threads(threads: int | None) -> None:
    """Pin PyTorch's intra-op threads: on small machines oversubscription only costs.
    None keeps torch's count, lowered to the CPUs this process may really use
    (``available_cpus``: torch counts the host's cores, not a container's quota), and never
    raised over what the caller chose; zero or a negative count is a user's mistake."""
    if threads is not None and threads < 1:
        from deepworks.core.errors import ConfigError

        raise ConfigError(f"--threads {threads}: give a positive number of CPU threads (e.g. 2)")
    threads = threads or min(torch.get_num_threads(), available_cpus())
    torch.set_num_threads(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))


def available_cpus() -> int:
    """The CPUs this process may use: its affinity mask (taskset, cpusets), capped by a
    cgroup CPU quota (containers: `docker --cpus`), which torch's own default ignores."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cpus, int(quota))) if quota else cpus


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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def machine() -> str:
    """CPU model, cores, Python, torch and threads: the line every measurement is read with."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
    )
