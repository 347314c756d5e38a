"""Process-wide settings: CPU threads and seeds; what machine this is."""

from __future__ import annotations

import os
import platform
import random
from pathlib import Path

import numpy as np
import torch

from deepworks.core.cpus import available_cpus, idle_cpus


def set_threads(threads: int | None) -> None:
    """Pin PyTorch's intra-op threads: on small machines oversubscription only costs.
    None keeps torch's count, lowered to the CPUs this process may really use
    (``available_cpus``: torch counts the host's cores, not a container's quota) and then to
    those other processes leave idle (``idle_cpus``: threads that wait on a busy core slow
    every step), and never raised over what the caller chose; zero or a negative count is a
    user's mistake."""
    if threads is not None and threads < 1:
        from deepworks.core.errors import ConfigError

        raise ConfigError(f"--threads {threads}: give a positive number of CPU threads (e.g. 2)")
    if threads is None:
        threads = min(torch.get_num_threads(), available_cpus())
        if threads > 1:  # leave the cores other processes keep busy to them
            threads = max(1, min(threads, round(idle_cpus())))
    torch.set_num_threads(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))


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
