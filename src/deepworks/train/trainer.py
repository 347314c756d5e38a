"""The generic training loop: epochs, steps, validation, early stopping, checkpoints, resume.

What one step *is* belongs to the Task. The Trainer owns everything around it, and keeps the
whole loop state in one checkpoint so a killed run resumes to the very same weights: the data
order depends only on (seed, epoch), every DataLoader draws from its own generator (never the
global RNG), and the global RNG state that dropout uses is saved with each checkpoint.
"""

from __future__ import annotations

import contextlib
import gc
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from deepworks.config import TrainConfig
from deepworks.core.batch import Batch
from deepworks.core.errors import ConfigError, RunError, TrainingError, did_you_mean
from deepworks.core.task import Task
from deepworks.data.datasets import EpochSampler, spread_sample
from deepworks.metrics.evaluator import Evaluator, scalars
from deepworks.train import distributed
from deepworks.train.checkpoint import CheckpointWriter, load_checkpoint, write_json
from deepworks.train.loader import make_loader
from deepworks.train.optim import build_optimizer, build_scheduler
from deepworks.train.progress import ProgressBar

CHECKPOINT = "last.pt"


@dataclass
class TrainState:
    """Where the loop is; everything here goes into the checkpoint."""

    epoch: int = 0  # the epoch in progress (0-based); == epochs when done
    step_in_epoch: int = 0  # batches already trained in that epoch
    global_step: int = 0
    loss_sum: float = 0.0  # running training loss of the epoch in progress
    seen: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    stopped_early: bool = False

    def as_dict(self) -> dict:
        """A copy for the checkpoint (dataclasses.asdict deep-copies every float: slower
        than the rest of a small model's checkpoint together)."""
        return {**vars(self), "history": [dict(r) for r in self.history]}


class Callback:
    """Hooks into the loop; subclass and override what you need."""

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None: ...

    def on_checkpoint(self, trainer: Trainer, state: TrainState) -> None:
        """A checkpoint of ``state`` was taken (it may still be on its way to disk)."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("train.device is `cuda` but no CUDA device is available; use `auto`")
    return torch.device(name)


def autocast_for(device: torch.device, precision: str):
    """The training step's autocast: bf16 / fp16 where asked, else a no-op context."""
    if precision == "32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


class Trainer:
    def __init__(
        self,
        cfg: TrainConfig,
        seed: int = 0,
        *,
        batch_size: int = 64,
        eval_batch_size: int = 256,
        num_workers: int = 0,
        checkpoint_dir: Path | None = None,
        callbacks: list[Callback] | None = None,
        progress: bool = True,
        bucket: bool = False,
    ) -> None:
        self.cfg, self.seed = cfg, seed
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.num_workers = num_workers
        self.checkpoint_dir = checkpoint_dir
        self.callbacks = callbacks or []
        self.progress, self.bucket = progress, bucket
        self.device = resolve_device(cfg.device)
        self.state = TrainState()
        self.parameter_spread = 0.0  # across processes, after fit (0.0: replicas agree)
        self._checkpoint_cost = 0.0  # seconds the last checkpoint took (before one: a guess)
        self._last_checkpoint = 0.0

    # ------------------------------------------------------------------------------ fit
    def fit(
        self,
        model: nn.Module,
        task: Task,
        train: Dataset,
        valid: Dataset | None,
        resume: bool = False,
    ) -> TrainState:
        # What exists before training (modules, data) lives through it: a full garbage
        # collection need not walk those ~500k objects again (~0.25 s each time on 2 cores)
        gc.freeze()
        try:
            return self._fit(model, task, train, valid, resume)
        finally:
            gc.unfreeze()
            if distributed.active():  # the replica (in reference cycles) must go before its
                gc.collect()  # process group does, not in the interpreter's shutdown

    def _fit(self, model, task, train, valid, resume) -> TrainState:
        cfg = self.cfg
        model.to(self.device)
        shard = distributed.world()
        main = shard[0] == 0
        sampler = EpochSampler(len(train), self.seed, shuffle=True)
        loader = make_loader(train, self.batch_size, self.num_workers, sampler, shard, self.bucket)
        epoch_valid = spread_sample(valid, task.epoch_sample) if valid else None
        valid_loader = (
            make_loader(epoch_valid, self.eval_batch_size, self.num_workers, None, shard)
            if epoch_valid
            else None
        )
        steps_per_epoch = math.ceil(len(train) / self.batch_size)
        channels_last = cfg.channels_last and self._has_conv2d(model)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        net = self._replicated(model, task)
        if cfg.compile:  # compiled once; the step runs through it, weights stay the model's
            net = torch.compile(net)
        self.autocast = autocast_for(self.device, cfg.precision)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.precision == "fp16")

        task.on_fit_start(model, steps_per_epoch * cfg.epochs, train)
        optimizers = task.configure_optimizers(model, lambda p: build_optimizer(p, cfg.optimizer))
        task.optimizers = optimizers  # a task that steps its own optimizers finds them here
        schedulers = (
            [build_scheduler(o, cfg.scheduler, steps_per_epoch, cfg.epochs) for o in optimizers]
            if cfg.scheduler and task.automatic_optimization
            else []
        )
        monitor = self._monitor(task)
        tracked = set(task.epoch_metrics) | ({monitor} - {"loss"})
        validate = Evaluator(task, tracked, self.device)
        best_weights: dict[str, torch.Tensor] | None = None
        if resume:
            best_weights = self._restore(model, task, optimizers, schedulers)
        state = self.state
        # Training time counts towards the first checkpoint as it does between two: a guess
        # of its cost (a few ms, more for big weights) until one has been measured.
        self._last_checkpoint = time.perf_counter()
        self._checkpoint_cost = 2e-3 + 3 * sum(p.nbytes for p in model.parameters()) / 2e8
        every = cfg.checkpoint_every_steps

        total = steps_per_epoch * cfg.epochs
        with (
            ProgressBar(total, enabled=self.progress and main) as bar,
            CheckpointWriter() as self._writer,  # checkpoints go to disk while training goes on
        ):
            bar.start_at(state.global_step)
            while state.epoch < cfg.epochs and not state.stopped_early:
                epoch_start = time.perf_counter()
                sampler.set_epoch(state.epoch, start=state.step_in_epoch * self.batch_size)
                loader.generator.manual_seed(self.seed + state.epoch)
                model.on_epoch_start(state.epoch)  # e.g. unfreezing pretrained layers
                train.set_epoch(state.epoch)  # augmentation draws anew each epoch
                model.train()
                for raw in loader:
                    batch = Batch.loaded(raw, self.device)
                    if channels_last and isinstance(batch.x, torch.Tensor) and batch.x.dim() == 4:
                        batch.x = batch.x.contiguous(memory_format=torch.channels_last)
                    loss = self._step(net, task, batch, optimizers, schedulers)
                    n = len(batch)
                    state.step_in_epoch += 1
                    state.global_step += 1
                    state.loss_sum += loss * n
                    state.seen += n
                    if bar.live:  # a terminal's bar, redrawn each step
                        bar.update(
                            state.global_step,
                            f"epoch {state.epoch + 1}/{cfg.epochs}",
                            {"loss": state.loss_sum / state.seen},
                        )
                    if every and state.global_step % every == 0:
                        self._save(
                            model, task, optimizers, schedulers, best_weights, epoch_end=False
                        )

                valid_metrics = scalars(validate(model, valid_loader)) if valid_loader else {}
                loss_sum, seen = distributed.all_sum([state.loss_sum, state.seen])
                record = {
                    "epoch": state.epoch + 1,
                    "step": state.global_step,
                    "train_loss": loss_sum / max(seen, 1),
                    **{f"valid_{k}": v for k, v in valid_metrics.items()},
                    "lr": optimizers[0].param_groups[0]["lr"] if optimizers else 0.0,
                    "seconds": time.perf_counter() - epoch_start,
                    **task.epoch_record(),
                }
                state.history.append(record)
                current = valid_metrics.get(monitor)
                if current is not None:
                    min_delta = cfg.early_stopping.min_delta if cfg.early_stopping else 0.0
                    if task.is_better(monitor, current, state.best, min_delta):
                        state.best, state.best_epoch, state.bad_epochs = current, state.epoch + 1, 0
                        if cfg.early_stopping:
                            best_weights = {
                                k: v.detach().clone() for k, v in model.state_dict().items()
                            }
                    else:
                        state.bad_epochs += 1
                    if cfg.early_stopping and state.bad_epochs >= cfg.early_stopping.patience:
                        state.stopped_early = True
                state.epoch += 1
                state.step_in_epoch, state.loss_sum, state.seen = 0, 0.0, 0
                bar.epoch_end(
                    state.global_step,
                    f"epoch {state.epoch}/{cfg.epochs}",
                    {"loss": record["train_loss"]}
                    | ({f"valid_{monitor}": current} if current is not None else {}),
                )
                if main:  # logs, figures and checkpoints: one writer
                    for cb in self.callbacks:
                        cb.on_epoch_end(self, record)
                self._save(model, task, optimizers, schedulers, best_weights)

        if best_weights is not None and cfg.early_stopping and cfg.early_stopping.restore_best:
            model.load_state_dict(best_weights)
        self.parameter_spread = distributed.parameter_spread(model)
        return state

    def _replicated(self, model: nn.Module, task: Task) -> nn.Module:
        """The model the training step runs: a DistributedDataParallel replica when a process
        group exists (gradients averaged in backward), or the model itself."""
        if not distributed.active():
            return model
        distributed.refuse_manual_optimization(task.name)
        devices = [self.device.index or 0] if self.device.type == "cuda" else None
        return distributed.Replica(model, device_ids=devices)

    def _step(self, model, task, batch, optimizers, schedulers) -> float:
        if not task.automatic_optimization:  # the task steps its own optimizers
            value = float(task.training_step(model, batch))
            if not math.isfinite(value):
                self._diverged(value, optimizers[0] if optimizers else None)
            return value
        optimizer = optimizers[0]
        optimizer.zero_grad(set_to_none=True)
        with self.autocast:
            loss = task.training_step(model, batch)
        value = loss.item()
        if not math.isfinite(value):  # before the step: the weights stay the last good ones
            self._diverged(value, optimizer)
        scaler = self.scaler if self.scaler.is_enabled() else None
        (scaler.scale(loss) if scaler else loss).backward()  # fp16: scaled, so small
        if self.cfg.grad_clip:  # gradients survive
            if scaler:
                scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.cfg.grad_clip)
        if scaler:
            scaler.step(optimizer)  # skipped when an fp16 gradient overflowed
            scaler.update()
        else:
            optimizer.step()
        for s in schedulers:
            s.step()
        return value

    @staticmethod
    def _has_conv2d(model: nn.Module) -> bool:
        return any(isinstance(m, nn.Conv2d) for m in model.modules())

    def _diverged(self, value: float, optimizer) -> None:
        lr = optimizer.param_groups[0]["lr"] if optimizer else float("nan")
        kept = " The last good checkpoint is kept." if self.checkpoint_dir else ""
        raise TrainingError(
            f"the training loss became {value} at epoch {self.state.epoch + 1}, step "
            f"{self.state.global_step + 1}.{kept} Lower `train.optimizer.lr` (now {lr:g}), "
            "set `train.grad_clip`, or check the data for extreme values."
        )

    def _monitor(self, task: Task) -> str:
        es = self.cfg.early_stopping
        known = {*(["loss"] if task.evaluates_loss else []), *task.metric_factories()}
        if not es:  # only tracked: the task's main metric when it exists per epoch
            return task.main_metric if task.main_metric in known else "loss"
        # by default the validation loss; a task without one (an agent) by its main metric
        name = es.monitor or ("loss" if task.evaluates_loss else task.main_metric)
        if name not in known:
            raise ConfigError(
                f"train.early_stopping.monitor `{name}` is not a {task.name} metric."
                f"{did_you_mean(name, known)} Choose one of: {', '.join(sorted(known))}."
            )
        return name

    # ---------------------------------------------------------------------- checkpoints
    def _save(
        self, model, task, optimizers, schedulers, best_weights, epoch_end: bool = True
    ) -> None:
        if self.checkpoint_dir is None or not distributed.is_main():
            return
        if epoch_end and not self._checkpoint_due():
            return
        started = time.perf_counter()
        payload = {
            "model": model.state_dict(),
            "optimizers": [o.state_dict() for o in optimizers],
            "schedulers": [s.state_dict() for s in schedulers],
            "state": self.state.as_dict(),
            "rng": torch.get_rng_state(),
            "best_model": best_weights,
            "scaler": self.scaler.state_dict(),
            "task": task.state_dict(),
        }
        note = {k: getattr(self.state, k) for k in ("epoch", "step_in_epoch", "global_step")} | {
            "epochs": self.cfg.epochs,
            "done": self.state.epoch >= self.cfg.epochs,
        }
        folder = self.checkpoint_dir
        self._writer.write(
            folder / CHECKPOINT, payload, then=lambda: write_json(folder / "last.json", note)
        )
        self._last_checkpoint = time.perf_counter()
        self._checkpoint_cost = self._last_checkpoint - started
        for cb in self.callbacks:
            cb.on_checkpoint(self, self.state)

    def _checkpoint_due(self) -> bool:
        """At an epoch's end: once the last checkpoint (or the start of training) is old
        enough that writing keeps within `train.checkpoint_budget` (1: every epoch's, however
        long the writing takes). A run killed before its first one starts over, exactly."""
        if self.cfg.checkpoint_budget >= 1:
            return True
        age = time.perf_counter() - self._last_checkpoint
        return age * self.cfg.checkpoint_budget >= self._checkpoint_cost

    def _restore(self, model, task, optimizers, schedulers) -> dict[str, torch.Tensor] | None:
        path = (self.checkpoint_dir or Path(".")) / CHECKPOINT
        if not path.is_file():
            raise RunError(f"no checkpoint at {path}; this run cannot be resumed, start it again")
        ckpt = load_checkpoint(path)
        model.load_state_dict(ckpt["model"])
        for o, sd in zip(optimizers, ckpt["optimizers"], strict=True):
            o.load_state_dict(sd)
        for s, sd in zip(schedulers, ckpt["schedulers"], strict=True):
            s.load_state_dict(sd)
        self.state = TrainState(**ckpt["state"])
        torch.set_rng_state(ckpt["rng"])
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        task.load_state_dict(ckpt.get("task") or {})
        return ckpt.get("best_model")
