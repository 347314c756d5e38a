"""Data loading against the model step: is the input pipeline what limits training?

For mnist-5k held in memory and the same images as PNG files in class folders (decoded per
batch, with 0 / 2 loader workers), the deepworks training loader alone (samples/s), the CNN's
training step alone on batches already in memory, and whole epochs of both together.

    python benchmarks/data_loading.py --threads 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from common import machine, markdown_table, write_section
from PIL import Image

from deepworks.catalog import load_config
from deepworks.data.datasets import EpochSampler
from deepworks.models import build_model
from deepworks.tasks import get_task, load_data
from deepworks.train.loader import make_loader
from deepworks.train.optim import build_optimizer

BATCH = 64


def write_png_folder(bundle, root: Path) -> Path:
    """The training images as PNGs, one folder per class (what `image-folder` reads)."""
    images = bundle.train.x * torch.tensor(bundle.schema.encoder["std"]).view(1, -1, 1, 1)
    images = images + torch.tensor(bundle.schema.encoder["mean"]).view(1, -1, 1, 1)
    pixels = (images.clamp(0, 1) * 255).to(torch.uint8).numpy()
    for i, (image, label) in enumerate(zip(pixels, bundle.train.y.tolist(), strict=True)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0]).save(folder / f"{i:05d}.png")
    return root


def loader_rate(dataset, workers: int) -> float:
    loader = make_loader(dataset, BATCH, workers, EpochSampler(len(dataset), seed=0))
    start = time.perf_counter()
    n = sum(len(y) for _, y in loader)
    return n / (time.perf_counter() - start)


def step_rate(model, task, x: torch.Tensor, y: torch.Tensor) -> float:
    optimizer = build_optimizer(model.parameters(), load_config(_raw()).train.optimizer)
    batches = list(zip(x.split(BATCH), y.split(BATCH), strict=True))
    model.train()
    start = time.perf_counter()
    for xb, yb in batches:
        optimizer.zero_grad()
        task.training_step(model, (xb, yb)).backward()
        optimizer.step()
    return len(x) / (time.perf_counter() - start)


def epoch_rate(model, task, dataset, workers: int) -> float:
    optimizer = build_optimizer(model.parameters(), load_config(_raw()).train.optimizer)
    loader = make_loader(dataset, BATCH, workers, EpochSampler(len(dataset), seed=0))
    model.train()
    start = time.perf_counter()
    n = 0
    for xb, yb in loader:
        optimizer.zero_grad()
        task.training_step(model, (xb, yb)).backward()
        optimizer.step()
        n += len(yb)
    return n / (time.perf_counter() - start)


def _raw(path: Path | None = None) -> dict:
    folder = {"dataset": "image-folder", "path": str(path), "image_size": 28, "channels": 1}
    data = folder if path else {"dataset": "mnist-5k"}
    return {"data": {**data, "batch_size": BATCH}, "model": {"name": "cnn"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(_raw())
    memory = load_data(cfg.data, cfg.task, 0)
    task = get_task(memory.schema)
    torch.manual_seed(0)
    model = build_model("cnn", {}, memory.schema)
    steps = step_rate(model, task, memory.train.x, memory.train.y)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_png_folder(memory, Path(tmp) / "mnist")
        files = load_data(load_config(_raw(folder)).data, "classification", 0)
        # image-folder splits its own 70 / 15 / 15: its training split is a share of the PNGs
        cases = [("in memory (tensors)", memory.train, 0)]
        cases += [(f"PNG files, {w} worker(s)", files.train, w) for w in (0, 2)]
        for label, dataset, workers in cases:
            loading = loader_rate(dataset, workers)
            epoch = epoch_rate(model, task, dataset, workers)
            rows.append(
                [
                    label,
                    str(len(dataset)),
                    f"{loading:,.0f}",
                    f"{steps:,.0f}",
                    f"{epoch:,.0f}",
                    f"{steps / loading:.3f}",
                ]
            )
            print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(
        [
            "training data",
            "images",
            "loader alone (img/s)",
            "CNN step alone (img/s)",
            "epoch (img/s)",
            "step / loader",
        ],
        rows,
    )
    write_section(
        "data-loading",
        "## Data loading against the model step\n\n"
        f"`python benchmarks/data_loading.py --threads {args.threads}` on {machine()}; the "
        "digits-size CNN (`cnn` defaults) on 28×28 mnist-5k, batch 64. *step / loader* below 1 "
        "means the model step, not the data, limits an epoch.\n\n" + table,
    )
    print(table)


if __name__ == "__main__":
    main()
