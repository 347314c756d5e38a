"""Atomic files: write a temporary file beside the target, then rename it over the target.

A process that dies mid-write (SIGKILL, the OOM killer, an exception) leaves the previous
complete file in place: the rename is atomic. There is deliberately no fsync per write; it
would only add durability against power loss, at a cost paid every epoch.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
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


def load_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    # weights_only: a checkpoint is tensors and plain containers; never run code from it.
    return torch.load(path, map_location="cpu", weights_only=True)


class CheckpointWriter:
    """Writes checkpoints one at a time: the payload is serialized on the training thread (a
    snapshot: training goes on changing the tensors), the file written on a worker thread,
    which holds no interpreter lock while it writes. A write that failed raises at the next
    write or when the ``with`` block ends; leaving the block waits for the write in flight, so
    a run that stops has its last checkpoint whole."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def write(self, path: Path, payload: dict[str, Any], then: Callable[[], None]) -> None:
        """Save ``payload`` to ``path``, then call ``then`` (e.g. the note that says which
        epoch the checkpoint holds), both off this thread."""
        import io

        import torch

        self.wait()
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        data = buffer.getbuffer()

        def job() -> None:
            try:
                atomic_write(path, lambda p: p.write_bytes(data))
                then()
            except BaseException as error:  # handed to the training thread at its next wait
                self._error = error

        self._thread = threading.Thread(target=job, name="checkpoint-writer", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __enter__(self) -> CheckpointWriter:
        return self

    def __exit__(self, kind: type | None, *_: object) -> None:
        if kind is None:
            self.wait()
            return
        with contextlib.suppress(Exception):  # the error already on its way is the one to see
            self.wait()
