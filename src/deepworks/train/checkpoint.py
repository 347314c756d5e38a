"""Atomic files: write a temporary file beside the target, then rename it over the target.

A process that dies mid-write (SIGKILL, the OOM killer, an exception) leaves the previous
complete file in place: the rename is atomic. There is deliberately no fsync per write; it
would only add durability against power loss, at a cost paid every epoch.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

TEMP_PREFIX = ".tmp-"  # what a write killed halfway leaves; `remove_stale_temps` clears it


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        # mkstemp makes the file 0600; a run's files are as readable as the umask lets any
        # file be, so a service account can read a run another user trained
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temps(folder: Path) -> None:
    """Delete the temporary files of writes that a kill interrupted (never a finished file)."""
    for stale in folder.rglob(f"{TEMP_PREFIX}*"):
        stale.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


# torch is imported where tensors are written or read: a run's JSON and text (what `deepworks
# runs` and the run index write) need none of it.
def save_weights(path: Path, model: nn.Module) -> None:
    from safetensors.torch import save_model

    atomic_write(path, lambda p: save_model(model, str(p)))


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    import torch

    atomic_write(path, lambda p: torch.save(payload, p))


def load_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    # weights_only: a checkpoint is tensors and plain containers; never run code from it.
    return torch.load(path, map_location="cpu", weights_only=True)
