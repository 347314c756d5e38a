"""Run an experiment end to end: config → data → model → Trainer → evaluation → run folder.

The CLI and the Python API both come here; neither holds logic of its own.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from deepworks import plots, traditional
from deepworks.analyses import Context, enabled_analyses
from deepworks.catalog import load_config
from deepworks.config import ExperimentConfig
from deepworks.core import helpers
from deepworks.core.errors import ConfigError, DeepworksError, RunError, did_you_mean
from deepworks.data import DataBundle
from deepworks.data.augment import augmented
from deepworks.deploy.distill import distilled, load_teacher, teacher_row
from deepworks.metrics.evaluator import evaluate, scalars
from deepworks.models import build_model
from deepworks.report import write_report
from deepworks.runs.folder import RunFolder
from deepworks.runtime import seed_everything, set_threads
from deepworks.tasks import get_task, load_data
from deepworks.train import distributed
from deepworks.train.checkpoint import load_checkpoint, remove_stale_temps, save_weights, write_json
from deepworks.train.loader import make_loader
from deepworks.train.progress import Phases
from deepworks.train.trainer import CHECKPOINT, Callback, Trainer


class _LogEpochs(Callback):
    """Append each epoch's record to metrics.jsonl as it ends."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        self.folder.append_metrics(record)


class _EpochFigures(Callback):
    """Let the task draw its per-epoch figures (a GAN's sample grid) into the run folder."""

    def __init__(self, task, model: torch.nn.Module, folder: Path) -> None:
        self.task, self.model, self.folder = task, model, folder

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        self.task.epoch_figures(self.model, int(record["epoch"]), self.folder)


def run(
    config: str | Path | dict[str, Any] | ExperimentConfig,
    *,
    runs_dir: str | Path = "runs",
    threads: int | None = None,
    overrides: list[str] | None = None,
    progress: bool = True,
    callbacks: list[Callback] | None = None,
    info: dict[str, Any] | None = None,
):
    """Train, then evaluate on the test split; returns the loaded run. ``callbacks`` join the
    Trainer's (a search's pruning); ``info`` is kept in the run's run.json (its study).

    >>> result = deepworks.run("examples/iris.yaml", overrides=["train.epochs=2"])  # doctest: +SKIP
    >>> result.metrics["test"]["accuracy"]  # doctest: +SKIP
    """
    cfg = load_config(config, overrides)
    if cfg.model.name == "auto":  # a run per family that fits; the best on validation
        from deepworks.automodel import choose_model

        return choose_model(cfg, lambda raw, tag: run(raw, runs_dir=runs_dir, threads=threads,
                                                      progress=progress, info=tag))  # fmt: skip
    set_threads(cfg.train.threads if threads is None else threads)
    distributed.init_from_env(cfg.train.device)
    _start_helpers()
    bundle = load_data(cfg.data, cfg.task, cfg.seed)
    _check_main_metric(cfg.evaluate.main_metric, get_task(bundle.schema))
    if not distributed.is_main():  # rank 0 makes the folder; the others train into it
        folder = RunFolder(distributed.broadcast(None))
        return _failing_cleanly(folder, cfg, bundle, resume=False, progress=False)
    name = cfg.name or f"{cfg.data.dataset}-{cfg.model.name}"
    folder = RunFolder.create(Path(runs_dir), name)
    with _writing(folder):
        distributed.broadcast(folder.path)
        folder.write_config(cfg.to_dict())
        write_json(
            folder.model_json,
            {
                "model": cfg.model.name,
                "params": cfg.model.params,
                "schema": bundle.schema.to_dict(),
            },
        )
        task = get_task(bundle.schema)
        folder.update_info(
            id=folder.id,
            name=name,
            created=datetime.now().isoformat(timespec="seconds"),
            status="running",
            task=bundle.schema.task,
            dataset=cfg.data.dataset,
            model=cfg.model.name,
            metric=cfg.evaluate.main_metric or task.main_metric,
            value=None,
            path=str(folder.path.resolve()),
            pid=os.getpid(),
            threads=torch.get_num_threads(),  # resume uses the same: thread count changes sums
            **(info or {}),
        )
        return _failing_cleanly(
            folder, cfg, bundle, resume=False, progress=progress, callbacks=callbacks or []
        )


def resume(
    run_ref: str | Path,
    *,
    runs_dir: str | Path = "runs",
    threads: int | None = None,
    progress: bool = True,
):
    """Continue a killed run from its last checkpoint; ends as the uninterrupted run would."""
    folder = RunFolder.open(run_ref, runs_dir)
    info = folder.info()
    if info.get("status") == "completed":
        raise RunError(f"run {folder.id} already completed; nothing to resume")
    # Killed before its first checkpoint: nothing to continue from, so it starts over in the
    # same folder, with the same seed and threads, and ends where an uninterrupted run ends.
    started = (folder.checkpoints / CHECKPOINT).is_file()
    cfg = load_config(folder.config)
    set_threads(threads if threads is not None else info.get("threads") or cfg.train.threads)
    distributed.init_from_env(cfg.train.device)
    _start_helpers()
    bundle = load_data(cfg.data, cfg.task, cfg.seed)
    with _writing(folder):
        if distributed.is_main():
            remove_stale_temps(folder.path)  # halves of writes the kill interrupted
            # The epochs logged after the checkpoint will be trained again: drop them.
            checkpoint = folder.checkpoints / CHECKPOINT
            done = load_checkpoint(checkpoint)["state"]["history"] if started else []
            folder.rewrite_metrics(done)
            folder.update_info(status="running", pid=os.getpid(), reason=None)
        return _failing_cleanly(folder, cfg, bundle, resume=started, progress=progress)


def _writing(folder: RunFolder):
    """The folder's lock, held by the process that writes it (rank 0): one writer at a time."""
    return folder.lock() if distributed.is_main() else contextlib.nullcontext()


def _failing_cleanly(folder: RunFolder, cfg: ExperimentConfig, bundle: DataBundle, **how):
    """A run that dies of anything — a user's mistake found on the way, a full disk, a bug —
    is marked failed with the reason, its last good checkpoint kept for `deepworks resume`,
    instead of staying `running`."""
    try:
        return _train_and_evaluate(folder, cfg, bundle, **how)
    except Exception as exc:
        if distributed.is_main():
            user = isinstance(exc, DeepworksError)
            reason = str(exc) if user else f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(OSError):  # a disk too full for even this: `running`
                folder.update_info(status="failed", finished=_now(), reason=reason)
        lost = distributed.peer_lost(exc, folder.id)
        if lost is not None:
            raise lost from None
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise RunError(
                f"the disk under {folder.path} is full ({exc.strerror}); the run is marked "
                f"failed and keeps its last checkpoint: free some space, then `deepworks "
                f"resume {folder.id}`"
            ) from None
        raise


def _train_and_evaluate(
    folder: RunFolder,
    cfg: ExperimentConfig,
    bundle: DataBundle,
    resume: bool,
    progress: bool,
    callbacks: Sequence[Callback] = (),
):
    """Load, fit, run the analyses, write the folder."""
    from deepworks.predict import load

    seed_everything(cfg.seed)
    schema = bundle.schema
    train = augmented(bundle.train, cfg.data.augment, schema, cfg.seed)
    task = get_task(schema)
    task.configure(cfg.agent)
    ctx = Context(cfg, bundle, task, folder.path, main=distributed.is_main())
    analyses = enabled_analyses(cfg)
    for analysis in analyses:  # what can fail before training fails now
        analysis.check(ctx)
    model = build_model(cfg.model.name, cfg.model.params, schema, pretrained=not resume)
    if ctx.main and model.resolved_params():  # defaults chosen for this data, kept with it
        spec = folder.read_json(folder.model_json)
        write_json(folder.model_json, spec | {"params": spec["params"] | model.resolved_params()})
    if cfg.distill:  # the student also learns the teacher's outputs
        teacher = load_teacher(cfg.distill.teacher, schema)
        task = ctx.task = distilled(task, teacher.model, cfg.distill.temperature, cfg.distill.alpha)
        ctx.teacher_row = teacher_row(teacher, task.main_metric)
    trainer = Trainer(
        cfg.train,
        cfg.seed,
        batch_size=cfg.data.batch_size,
        eval_batch_size=cfg.data.eval_batch_size,
        num_workers=cfg.data.num_workers,
        checkpoint_dir=folder.checkpoints,
        callbacks=[
            _LogEpochs(folder),
            _EpochFigures(task, model, folder.path / "samples"),
            *callbacks,
        ],
        progress=progress,
        bucket=cfg.data.bucket,
    )
    ctx.device = trainer.device  # where training runs: the CPUs it leaves, on a GPU
    if ctx.main:
        for analysis in analyses:  # what needs only the data may start alongside training
            analysis.start(ctx)
    started = time.perf_counter()
    state = trainer.fit(model, task, train, bundle.valid, resume=resume)
    phases = Phases(enabled=progress)
    phases.seconds["train"] = round(time.perf_counter() - started, 3)
    rank, processes = distributed.world()
    distributed.finish()  # from here on rank 0 alone evaluates, writes and reports
    if rank != 0:
        return None
    if processes > 1:
        folder.update_info(processes=processes, parameter_spread=trainer.parameter_spread)
    save_weights(folder.weights, model)

    task.target_precision = cfg.evaluate.target_precision
    task.baselines = cfg.evaluate.baselines
    aside = helpers.shared(plots.WARM)  # where cores are idle: they write the figures
    with plots.written_aside(aside):
        with phases("evaluation"):
            metrics = {
                split: evaluate(
                    model, task, make_loader(data, cfg.data.eval_batch_size), trainer.device
                )
                for split, data in (("valid", bundle.valid), ("test", bundle.test))
            }
            for split, values in task.final_metrics(model, bundle, cfg.seed).items():
                undeclared = set(values) - task.metric_names()
                assert not undeclared, f"{task.name}.final_metric_names lacks {undeclared}"
                metrics[split].update(values)  # whole-split metrics (clusters, thresholds)
        with phases("task plots"):
            task.plots(model, bundle, folder.path, metrics)  # its figures (confusion, embedding)
        write_json(folder.metrics_json, metrics)
        ctx.model, ctx.device, ctx.metrics = model, trainer.device, metrics
        ctx.history, ctx.state = state.history, state
        for analysis in analyses:  # what helpers can do meanwhile starts first
            analysis.trained(ctx)
        for analysis in analyses:
            with phases(analysis.name):
                analysis.run(ctx)
        if aside is not None:
            with phases("figures"):  # those the helpers are still writing
                aside.wait()
    main = cfg.evaluate.main_metric or task.main_metric
    if main not in metrics["test"]:
        raise RunError(
            f"evaluate.main_metric `{main}` is not one of {sorted(scalars(metrics['test']))}"
        )
    folder.update_info(
        finished=_now(),
        metric=main,
        value=metrics["test"][main],
        epochs=len(state.history),
        best_epoch=state.best_epoch,
        stopped_early=state.stopped_early,
    )
    with phases("report"):
        write_report(folder.path, status="completed")
    folder.update_info(seconds=phases.seconds)
    folder.update_info(status="completed")  # last: every file is whole by now
    return load(folder.path)


def _start_helpers() -> None:
    """The figures' and the baselines' helpers get ready while the data loads, where a CPU is
    idle (the process that writes the run folder only; `deepworks run` starts them sooner,
    before torch loads)."""
    if distributed.is_main():
        helpers.shared(plots.WARM)
        helpers.shared(traditional.WARM, count=1)


def _check_main_metric(name: str | None, task) -> None:
    """`evaluate.main_metric` must be one of the metrics the task reports: said before
    training, with the near miss if there is one."""
    known = task.metric_names()
    if name and name not in known:
        hint = did_you_mean(name, known) or f" Its metrics: {', '.join(sorted(known))}."
        raise ConfigError(f"evaluate.main_metric `{name}` is not a {task.name} metric.{hint}")


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")
