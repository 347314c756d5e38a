"""Post-fit analyses as plug-ins: each checks what it can before training and does its work
after it, writing into the run folder.

``experiment`` knows none of them by name: it builds a :class:`Context`, asks every enabled
analysis to ``check`` it before training (a bad column or baseline name fails then, not after
an hour of training), and to ``run`` on it after. A third-party package adds one through the
``deepworks.analyses`` entry-point group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from deepworks.core.errors import ConfigError
from deepworks.core.registry import Registry


@dataclass
class Context:
    """What an analysis may read (and the few things it may add to) around one run."""

    cfg: Any  # the ExperimentConfig
    bundle: Any  # the DataBundle
    task: Any  # the Task
    folder: Path  # the run folder
    model: torch.nn.Module | None = None  # trained, from `run` on
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # by split
    history: list[dict[str, Any]] = field(default_factory=list)  # the epochs' records
    state: Any = None  # the Trainer's final TrainState
    findings: list[dict[str, str]] = field(default_factory=list)  # the audit's, extended
    teacher_row: dict[str, Any] | None = None  # a distilled model's teacher, on the board
    main: bool = True  # this process writes the folder (rank 0)


class Analysis:
    """A plug-in run around training. ``enabled`` says whether the config asks for it."""

    name: ClassVar[str] = ""

    def enabled(self, cfg: Any) -> bool:
        return True

    def check(self, ctx: Context) -> None:
        """Before training: fail on what the config or the data make impossible."""

    def start(self, ctx: Context) -> None:
        """Just before training (rank 0 only): work that needs only the data may begin here,
        alongside training, where cores are left free; ``run`` then finishes it."""

    def trained(self, ctx: Context) -> None:
        """After training and the test scores, before any analysis runs (rank 0 only): work
        handed to a helper process here goes on while the analyses before this one run."""

    def run(self, ctx: Context) -> None:
        """After training (rank 0 only): compute, and write into ``ctx.folder``."""


ANALYSES: Registry[type[Analysis]] = Registry("analysis", ConfigError, plugins="deepworks.analyses")


def register_analysis(name: str, order: int):
    """Register an Analysis class; ``order`` places it among the others (lower runs first)."""

    def decorator(cls: type[Analysis]) -> type[Analysis]:
        cls.name = name
        return ANALYSES.register(name, order=order)(cls)

    return decorator


def enabled_analyses(cfg: Any) -> list[Analysis]:
    """The analyses the config asks for, in their order."""
    entries = sorted(ANALYSES, key=lambda e: (e.meta["order"], e.name))
    return [a for a in (e.obj() for e in entries) if a.enabled(cfg)]
