"""Optimizers and learning-rate schedules, by registered name. Schedules step every batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, OneCycleLR, StepLR

from deepworks.config import OptimizerConfig, SchedulerConfig
from deepworks.core.errors import ConfigError
from deepworks.core.registry import Registry

OPTIMIZERS: Registry[Callable[[Iterable, OptimizerConfig], Optimizer]] = Registry(
    "optimizer", ConfigError
)
SCHEDULERS: Registry[Callable[[Optimizer, SchedulerConfig, int, int], LRScheduler]] = Registry(
    "scheduler", ConfigError
)


@OPTIMIZERS.register("sgd", help="SGD with momentum")
def sgd(params: Iterable, cfg: OptimizerConfig) -> Optimizer:
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


@OPTIMIZERS.register("adam", help="Adam")
def adam(params: Iterable, cfg: OptimizerConfig) -> Optimizer:
    return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


@OPTIMIZERS.register("adamw", help="Adam with decoupled weight decay")
def adamw(params: Iterable, cfg: OptimizerConfig) -> Optimizer:
    return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


@SCHEDULERS.register("cosine", help="cosine decay to zero over the whole run")
def cosine(opt: Optimizer, cfg: SchedulerConfig, steps_per_epoch: int, epochs: int) -> LRScheduler:
    return CosineAnnealingLR(opt, T_max=steps_per_epoch * epochs)


@SCHEDULERS.register("onecycle", help="one-cycle: warm up to lr, then anneal")
def onecycle(
    opt: Optimizer, cfg: SchedulerConfig, steps_per_epoch: int, epochs: int
) -> LRScheduler:
    max_lr = [g["lr"] for g in opt.param_groups]
    return OneCycleLR(
        opt, max_lr=max_lr, total_steps=steps_per_epoch * epochs, pct_start=cfg.pct_start
    )


@SCHEDULERS.register("step", help="multiply lr by gamma every step_size epochs")
def step(opt: Optimizer, cfg: SchedulerConfig, steps_per_epoch: int, epochs: int) -> LRScheduler:
    return StepLR(opt, step_size=cfg.step_size * steps_per_epoch, gamma=cfg.gamma)


def build_optimizer(params: Iterable, cfg: OptimizerConfig) -> Optimizer:
    """``params``: parameters, or groups of them whose ``lr_scale`` multiplies ``cfg.lr``."""
    params = list(params)
    if params and isinstance(params[0], dict):
        params = [
            {**{k: v for k, v in g.items() if k != "lr_scale"}, "lr": cfg.lr * g["lr_scale"]}
            for g in params
        ]
    return OPTIMIZERS.get(cfg.name)(params, cfg)


def build_scheduler(
    opt: Optimizer, cfg: SchedulerConfig, steps_per_epoch: int, epochs: int
) -> LRScheduler:
    return SCHEDULERS.get(cfg.name)(opt, cfg, steps_per_epoch, epochs)
