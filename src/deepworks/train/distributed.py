"""Data-parallel training on torch.distributed: one process per GPU (or per CPU share).

`deepworks run CONFIG --nproc N` re-launches itself under torchrun on this machine; across
machines, torchrun itself starts `python -m deepworks.cli run CONFIG` on every node. Each
process trains a DistributedDataParallel copy of the model on its share of every batch —
`data.batch_size` stays the *global* batch, so N processes follow the single-process run —
validation metrics are reduced across processes (their summed states), and only rank 0 writes logs,
checkpoints, the final evaluation and the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, Sampler

from deepworks.core.errors import ConfigError, PeerLostError


def active() -> bool:
    """Whether this process belongs to a process group (of one process or more)."""
    return dist.is_available() and dist.is_initialized()


def world() -> tuple[int, int]:
    """(rank, number of processes); (0, 1) outside distributed training."""
    if active():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def launched() -> bool:
    """Whether torchrun started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


# A peer that stops answering without closing its connections (a frozen machine) fails the
# collective that waits for it after this long, instead of the backends' 30 minutes or more.
PEER_TIMEOUT_S = float(os.environ.get("DEEPWORKS_PEER_TIMEOUT", "600"))


def init_from_env(device: str) -> None:
    """Join the process group torchrun described in the environment (gloo on CPU, NCCL on
    CUDA); a no-op for a single process."""
    if not launched() or active():
        return
    cuda = device in ("cuda", "auto") and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(seconds=PEER_TIMEOUT_S))


def peer_lost(exc: BaseException, run_id: str) -> PeerLostError | None:
    """The one-line error for a collective that failed because another process of this run
    stopped (connection reset or closed, a timeout), or None for any other exception."""
    if world()[1] == 1 or not isinstance(exc, RuntimeError):
        return None
    text = str(exc)
    signs = ("Connection reset", "Connection closed", "Timed out", "timed out", "NCCL", "gloo")
    if not (isinstance(exc, dist.DistError) or any(sign in text for sign in signs)):
        return None
    first = text.split(". ")[0].split("] ")[-1]
    return PeerLostError(
        f"a training process on another machine stopped ({first}); this run is marked failed "
        f"and keeps its last checkpoint: once every machine is back, start `deepworks resume "
        f"{run_id}` the way the run was started"
    )


def finish() -> None:
    """Leave the process group: after training, rank 0 goes on alone."""
    if active():
        dist.barrier()
        dist.destroy_process_group()


def broadcast(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (e.g. the run folder it created)."""
    if world()[1] == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_sum(values: list[float]) -> list[float]:
    if world()[1] == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor)
    return tensor.tolist()


def parameter_spread(model: torch.nn.Module) -> float:
    """The largest difference between any rank's parameters and rank 0's: 0.0 when the
    replicas stayed in step."""
    if world()[1] == 1:
        return 0.0
    flat = torch.cat([p.detach().float().flatten().cpu() for p in model.parameters()])
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    spread = (flat - reference).abs().max().reshape(1)
    dist.all_reduce(spread, op=dist.ReduceOp.MAX)
    return float(spread)


class Replica(DistributedDataParallel):
    """DistributedDataParallel, refusing clearly when a task reaches past ``forward`` (a VAE's
    ELBO terms, DEC's clusters): gradients are averaged only for what runs through forward."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if hasattr(self.module, name):
                raise ConfigError(
                    f"this task calls the model's `{name}` besides its forward, which "
                    "DistributedDataParallel cannot average gradients through: train this "
                    "model with one process"
                ) from None
            raise


class ShardedBatchSampler(BatchSampler):
    """Each global batch of the sampler's order, cut into ``world`` interleaved shares; this
    rank takes share ``rank``. Resuming mid-epoch works as for one process (the sampler
    starts at a global position)."""

    def __init__(self, sampler: Sampler[int], batch_size: int, rank: int, world_size: int):
        super().__init__(sampler, batch_size, drop_last=False)
        self.rank, self.world_size = rank, world_size

    def __iter__(self) -> Iterator[list[int]]:
        for batch in super().__iter__():
            share = batch[self.rank :: self.world_size]
            yield share or batch[-1:]  # a tail batch smaller than the world: repeat its last


def refuse_manual_optimization(task_name: str) -> None:
    """Tasks that step their own optimizers (GANs, SOMs) train in one process."""
    from deepworks.core.task import TASKS

    if task_name in TASKS and not TASKS.get(task_name).automatic_optimization:
        raise ConfigError(
            f"the {task_name} task steps its own optimizers; distributed training covers "
            "tasks with one optimizer step (run it with one process)"
        )


def launch(nproc: int, argv: list[str]) -> int:
    """Run this command again as ``nproc`` processes on this machine (torchrun, standalone
    rendezvous); returns their exit status."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "deepworks.cli",
        *argv,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.call(command, env=env)
