"""Why did the model decide that? Attributions for a batch of encoded inputs.

``explain_batches`` walks the inputs a batch at a time (attributions of big images do not all
fit in memory), so the CLI writes each batch's files and forgets it; ``Explanation.concat``
joins batches for the Python API.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from deepworks.core.errors import DataError, RunError, did_you_mean
from deepworks.core.schema import Schema
from deepworks.core.task import has_tag, tagged
from deepworks.data.encoders import inputs_of
from deepworks.explain.attributions import METHODS

UNKNOWN_TOKENS = ("<unk>", "[UNK]", "<UNK>")


@dataclass
class Explanation:
    """Attributions of one or more inputs. ``attributions[method]`` is shaped like the encoded
    input (one score per token for text); ``delta`` is integrated gradients' completeness gap
    per input, relative to |F(x) − F(baseline)|."""

    inputs: list[Any]
    x: torch.Tensor  # the encoded inputs (pixels, standardized features, token ids)
    predictions: list[str]
    explained: list[str]  # the output each attribution explains (a class, or the value)
    attributions: dict[str, np.ndarray]
    delta: np.ndarray | None = None
    attention: np.ndarray | None = None  # (N, layers, L, L), averaged over heads
    tokens: list[list[str]] = field(default_factory=list)

    @staticmethod
    def concat(parts: list[Explanation]) -> Explanation:
        first = parts[0]
        join = lambda arrays: np.concatenate(arrays) if arrays[0] is not None else None  # noqa: E731
        attention = None
        if first.attention is not None:  # token widths differ between batches: pad to the widest
            width = max(p.attention.shape[-1] for p in parts)  # type: ignore[union-attr]
            attention = np.concatenate([_pad_square(p.attention, width) for p in parts])
        return Explanation(
            inputs=[i for p in parts for i in p.inputs],
            x=torch.cat([p.x for p in parts]),
            predictions=[i for p in parts for i in p.predictions],
            explained=[i for p in parts for i in p.explained],
            attributions={m: join([p.attributions[m] for p in parts]) for m in first.attributions},
            delta=join([p.delta for p in parts]),
            attention=attention,
            tokens=[t for p in parts for t in p.tokens],
        )


def _pad_square(a: np.ndarray, width: int) -> np.ndarray:
    pad = width - a.shape[-1]
    return np.pad(a, [(0, 0)] * (a.ndim - 2) + [(0, pad), (0, pad)])


class TaskScores(nn.Module):
    """The model as explanations see it: the task's explained scores of encoded inputs."""

    def __init__(self, model: nn.Module, task: Any) -> None:
        super().__init__()
        self.model, self.task = model, task

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.task.explained_scores(self.model, x)

    def cam_layer(self) -> nn.Module | None:
        return self.model.cam_layer()


def check_task(schema: Schema, run_id: str) -> None:
    if not has_tag(schema.task, "explainable"):
        raise RunError(
            f"run {run_id} is a {schema.task} model; explanations are for "
            f"{tagged('explainable')} runs"
        )


def target_index(schema: Schema, target: str | None) -> int | None:
    """The class to explain for every input (None: each input's own prediction)."""
    if target is None or not schema.classes:
        return None
    classes = schema.classes or []
    if str(target) not in classes:
        raise DataError(
            f"no class `{target}` to explain.{did_you_mean(str(target), classes)} "
            f"Classes: {', '.join(classes)}."
        )
    return classes.index(str(target))


def explain_batches(
    model: nn.Module,
    schema: Schema,
    ids: list[Any],
    batches: Iterable[torch.Tensor],
    methods: list[str],
    target: str | None = None,
    attention: bool = False,
) -> Iterator[Explanation]:
    """One Explanation per batch of encoded inputs."""
    from deepworks.core.task import get_task

    model.eval()
    scores = TaskScores(model, get_task(schema))
    chosen = target_index(schema, target)
    vocab: list[str] = (
        schema.encoder.get("vocab", []) if inputs_of(schema.encoder) == "tokens" else []
    )
    unk = next((vocab.index(t) for t in UNKNOWN_TOKENS if t in vocab), 1)
    device = next(model.parameters()).device
    start = 0
    for x in batches:
        x = x.to(device)
        with torch.no_grad():
            out = scores(x).float()
        if schema.classes:
            guess = out.argmax(-1).cpu()
            classes = schema.classes or []
            predictions = [classes[i] for i in guess.tolist()]
            targets = guess if chosen is None else torch.full_like(guess, chosen)
            explained = [classes[i] for i in targets.tolist()]
        else:  # regression: the (scaled) value itself
            mean, std = schema.target_scale or (0.0, 1.0)
            predictions = [f"{v * std + mean:.4g}" for v in out[:, 0].tolist()]
            targets = torch.zeros(len(x), dtype=torch.long)
            explained = ["value"] * len(x)
        targets = targets.to(device)
        attributions, delta = {}, None
        for name in methods:
            result = METHODS.get(name).attribute(scores, x, targets, unk)
            attributions[name] = result[0].detach().float().cpu().numpy()
            if len(result) > 1:  # relative completeness gap
                gap = _output_gap(scores, x, targets, unk)
                delta = (result[1].detach().abs() / gap.clamp_min(1e-6)).cpu().numpy()
        maps = None
        if attention and "attention" in model.tags:
            maps = model.attention_maps(x).detach().float().cpu().numpy()
        tokens = [[vocab[i] for i in row if i != 0] for row in x.tolist()] if vocab else []
        yield Explanation(
            inputs=ids[start : start + len(x)],
            x=x.cpu(),
            predictions=predictions,
            explained=explained,
            attributions=attributions,
            delta=delta,
            attention=maps,
            tokens=tokens,
        )
        start += len(x)


@torch.no_grad()
def _output_gap(model: nn.Module, x: torch.Tensor, target: torch.Tensor, unk: int) -> torch.Tensor:
    """|F(x) − F(baseline)| for the explained output: what the attributions must add up to."""
    from deepworks.explain.attributions import token_baseline

    base = token_baseline(x, unk) if x.dtype == torch.long else torch.zeros_like(x)
    pick = lambda out: out.float().gather(1, target[:, None])[:, 0]  # noqa: E731
    return (pick(model(x)) - pick(model(base))).abs()


def example_indices(labels: Any, n: int, length: int) -> list[int]:
    """``n`` test examples to show: the first of each class in turn, then the next ones."""
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.is_floating_point():
        return list(range(min(n, length)))
    firsts = {}
    for i, label in enumerate(labels.tolist()):
        firsts.setdefault(label, i)
    chosen = sorted(firsts.values())[:n]
    rest = [i for i in range(length) if i not in set(chosen)]
    return sorted(chosen + rest[: n - len(chosen)])
