"""Process-wide settings: CPU threads and seeds."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def set_threads(threads: int | None) -> None:
    """Pin PyTorch's intra-op threads: on small machines oversubscription only costs."""
    if threads:
        torch.set_num_threads(threads)
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
