"""Adversarial training: the task steps two optimizers, the discriminator's then the generator's.

Losses are the non-saturating ones of Goodfellow et al. (2014). A GAN's losses say little about
its samples, so quality is judged instead: the model's *judge*, a logistic regression fit on the
real training images before the GAN starts, classifies generated samples.

- ``classifier_score``: exp E[KL(p(y|x) ‖ p(y))] under the judge — the Inception Score with the
  judge as the network. High when each sample is clearly one class and all classes appear;
  at most the number of classes.
- ``recognized`` (conditional only): the share of samples the judge assigns to the class they
  were generated for.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.batch import Batch
from deepworks.core.errors import DataError
from deepworks.core.task import Task, register_task

if TYPE_CHECKING:
    from torchmetrics import Metric
from deepworks.data.datasets import first_rows

# The judge is fit on at most this many training images.
JUDGE_SAMPLE = 5000
GRID_PER_CLASS = 8  # samples per class (conditional) in the per-epoch grids; 64 otherwise


@register_task("gan")
class Adversarial(Task):
    """Learn to generate images like the training set (labels only judge the samples)."""

    main_metric = "classifier_score"
    final_metric_names = ("judge_accuracy_real",)
    generates = "images"
    automatic_optimization = False
    reads_data_as = "auto"  # labels only judge the samples (a conditional GAN's condition)
    epoch_metrics = frozenset({"classifier_score", "recognized"})

    conditional = False  # both players also see the class

    # -- training -----------------------------------------------------------------------
    def on_fit_start(self, model: nn.Module, total_steps: int, train: Any = None) -> None:
        if not bool(model.judge_fitted):  # a resumed run keeps its judge
            fit_judge(model, train, self.schema.classes or [])

    def configure_optimizers(self, model, build):
        return [build(model.generator.parameters()), build(model.discriminator.parameters())]

    def training_step(self, model: nn.Module, batch: Batch) -> float:
        x, y = batch
        opt_g, opt_d = self.optimizers
        real, fake_target = x.new_ones(len(x)), x.new_zeros(len(x))
        fake = model(model.noise(len(x)), y)

        opt_d.zero_grad(set_to_none=True)
        d_loss = F.binary_cross_entropy_with_logits(model.critic(x, y), real)
        d_loss = d_loss + F.binary_cross_entropy_with_logits(
            model.critic(fake.detach(), y), fake_target
        )
        d_loss.backward()
        opt_d.step()

        opt_g.zero_grad(set_to_none=True)
        g_loss = F.binary_cross_entropy_with_logits(model.critic(fake, y), real)
        g_loss.backward()
        opt_g.step()
        return d_loss.item() + g_loss.item()

    # -- evaluation ---------------------------------------------------------------------
    def evaluation_step(self, model: nn.Module, batch: Batch):
        """As many samples as real images in the batch (of the same classes, if conditional);
        the loss is the generator's: how far it is from fooling the discriminator."""
        x, y = batch
        seed = zlib.crc32(x.cpu().numpy().tobytes())  # the same samples every time for a batch
        fake = model(model.noise(len(x), torch.Generator().manual_seed(seed)), y)
        loss = F.binary_cross_entropy_with_logits(
            model.critic(fake, y), torch.ones(len(x), device=x.device)
        )
        return loss, model.judge_proba(fake), y

    def metric_factories(self) -> dict[str, Callable[[], Metric]]:
        from torchmetrics.classification import MulticlassAccuracy

        from deepworks.metrics.streams import ClassifierScore

        factories: dict[str, Callable[[], Metric]] = {"classifier_score": ClassifierScore}
        if self.conditional:
            k = len(self.schema.classes or [])
            factories["recognized"] = lambda: MulticlassAccuracy(k, average="micro")
        return factories

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        """How good the judge itself is, on real images of each split."""
        out = {}
        for split in ("valid", "test"):
            x, y = first_rows(getattr(bundle, split))
            with torch.inference_mode():
                guess = model.judge_proba(x).argmax(1)
            out[split] = {"judge_accuracy_real": float((guess == y).float().mean())}
        return out

    # -- generation ---------------------------------------------------------------------
    @torch.inference_mode()
    def sample(
        self,
        model: nn.Module,
        n: int,
        label: int | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` images in [0, 1] (N, C, H, W), and the labels they were generated for."""
        model.eval()
        k = len(self.schema.classes or [])
        if label is not None:
            labels = torch.full((n,), label, dtype=torch.long)
        elif self.conditional:  # classes in turn
            labels = torch.arange(n) % k
        else:
            labels = torch.zeros(n, dtype=torch.long)
        images = model(model.noise(n, generator), labels.to(model.mean.device))
        return model.to_pixels(images).cpu(), labels

    def epoch_figures(self, model: nn.Module, epoch: int, folder: Path) -> None:
        """A grid of samples from the same fixed noise every epoch, so epochs compare."""
        from torchvision.utils import save_image

        was_training = model.training
        k = len(self.schema.classes or [])
        per_row = GRID_PER_CLASS if self.conditional else 8
        n = min(k, 10) * per_row if self.conditional else 64
        images, _ = self.sample(model, n, generator=torch.Generator().manual_seed(0))
        if self.conditional:  # one row per class
            images = images.view(per_row, -1, *images.shape[1:]).transpose(0, 1).flatten(0, 1)
        folder.mkdir(exist_ok=True)
        save_image(images, folder / f"epoch_{epoch:03d}.png", nrow=per_row, padding=1)
        model.train(was_training)

    def plots(self, model: nn.Module, bundle: Any, folder: Path, metrics: dict) -> None:
        """The final sample grid, and the judge's view of a larger set of samples."""
        from deepworks import plots

        grids = sorted((folder / "samples").glob("epoch_*.png"))
        if grids:
            (folder / "samples.png").write_bytes(grids[-1].read_bytes())
        classes = self.schema.classes or []
        images, labels = self.sample(
            model, 100 * len(classes), generator=torch.Generator().manual_seed(1)
        )
        with torch.inference_mode():
            norm = (images.to(model.mean.device) - model.mean) / model.std
            guess = model.judge_proba(norm).argmax(1).cpu().numpy()
        plots.judged_samples(
            guess, labels.numpy() if self.conditional else None, classes, folder / "gan_judge.png"
        )


@register_task("conditional-gan")
class ConditionalAdversarial(Adversarial):
    """Learn to generate images of a requested class."""

    main_metric = "recognized"
    conditional = True


def fit_judge(model: nn.Module, train: Any, classes: list[str]) -> None:
    """Multinomial logistic regression on the real training images, copied into ``model.judge``."""
    from sklearn.linear_model import LogisticRegression

    if len(classes) < 2:
        raise DataError(
            "a GAN's samples are judged by a classifier of the training classes: the image data "
            f"needs at least 2 classes (found {len(classes)})"
        )
    x, y = first_rows(train, JUDGE_SAMPLE)
    judge = LogisticRegression(max_iter=300, C=0.1).fit(x.flatten(1).numpy(), y.numpy())
    coef, intercept = judge.coef_, judge.intercept_
    if len(classes) == 2:  # scikit-learn keeps one row for binary: make it two logits
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-1, 1]) * intercept / 2
    with torch.no_grad():
        model.judge.weight.copy_(torch.as_tensor(coef, dtype=torch.float32))
        model.judge.bias.copy_(torch.as_tensor(intercept, dtype=torch.float32))
    model.judge_fitted.fill_(True)
