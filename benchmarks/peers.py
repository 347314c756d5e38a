"""The same CNN on mnist-5k trained with deepworks, PyTorch Lightning and Keras 3 (torch backend).

Same split (deepworks' loader), same architecture (deepworks' `cnn`: two conv / batch-norm /
ReLU / max-pool blocks, dropout, a 128-unit dense layer; Keras rebuilt layer by layer with
PyTorch's batch-norm momentum and epsilon), same optimizer (Adam, lr 1e-3), epochs, batch size
and threads; validation every epoch; no progress output. Timed: `fit` alone, in this process,
alternating frameworks over the repeats. Scored: accuracy on the same test split.

    python benchmarks/peers.py --threads 2 --epochs 5 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported anywhere

import numpy as np
import torch
from common import fit_deepworks, machine, markdown_table, write_section

from deepworks.catalog import load_config
from deepworks.models import build_model
from deepworks.tasks import get_task, load_data

RAW = {
    "data": {"dataset": "mnist-5k", "batch_size": 64},
    "model": {"name": "cnn", "channels": [32, 64], "hidden": 128, "dropout": 0.25},
}


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y).float().mean())


def run_deepworks(bundle, cfg, seed: int) -> tuple[float, float]:
    torch.manual_seed(seed)
    model = build_model(cfg.model.name, cfg.model.params, bundle.schema)
    _, seconds = fit_deepworks(model, get_task(bundle.schema), bundle, cfg, seed)
    model.eval()
    with torch.inference_mode():
        return seconds, _accuracy(model(bundle.test.x), bundle.test.y)


def run_lightning(bundle, cfg, seed: int) -> tuple[float, float]:
    import lightning as L
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    net = build_model(cfg.model.name, cfg.model.params, bundle.schema)

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def training_step(self, batch, _):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def validation_step(self, batch, _):
            x, y = batch
            logits = self.net(x)
            self.log("valid_loss", F.cross_entropy(logits, y))
            self.log("valid_accuracy", _accuracy(logits, y))

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=cfg.train.optimizer.lr)

    train = DataLoader(
        TensorDataset(bundle.train.x, bundle.train.y), batch_size=cfg.data.batch_size, shuffle=True
    )
    valid = DataLoader(TensorDataset(bundle.valid.x, bundle.valid.y), batch_size=256)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = L.Trainer(
            max_epochs=cfg.train.epochs,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=tmp,  # it checkpoints every epoch, as deepworks does
        )
        start = time.perf_counter()
        trainer.fit(Module(), train, valid)
        seconds = time.perf_counter() - start
    net.eval()
    with torch.inference_mode():
        return seconds, _accuracy(net(bundle.test.x), bundle.test.y)


def run_keras(bundle, cfg, seed: int) -> tuple[float, float]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    p = cfg.model.params
    first = "channels_first"
    stack = [keras.Input(shape=tuple(bundle.schema.input_shape))]
    for width in p["channels"]:
        stack += [
            layers.Conv2D(width, 3, padding="same", data_format=first),
            layers.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5),
            layers.ReLU(),
            layers.MaxPooling2D(2, data_format=first),
        ]
    stack += [
        layers.Flatten(),
        layers.Dropout(p["dropout"]),
        layers.Dense(p["hidden"], activation="relu"),
        layers.Dropout(p["dropout"]),
        layers.Dense(len(bundle.schema.classes)),
    ]
    model = keras.Sequential(stack)
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.train.optimizer.lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x, y = bundle.train.x.numpy(), bundle.train.y.numpy()
    valid = (bundle.valid.x.numpy(), bundle.valid.y.numpy())
    start = time.perf_counter()
    model.fit(
        x, y, batch_size=cfg.data.batch_size, epochs=cfg.train.epochs, validation_data=valid,
        verbose=0,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    logits = np.asarray(model.predict(bundle.test.x.numpy(), batch_size=256, verbose=0))
    return seconds, float((logits.argmax(1) == bundle.test.y.numpy()).mean())


RUNNERS = {
    "deepworks": run_deepworks,
    "PyTorch Lightning": run_lightning,
    "Keras 3 (torch)": run_keras,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    raw = {**RAW, "train": {"epochs": args.epochs, "optimizer": {"name": "adam", "lr": 1e-3}}}
    cfg = load_config(raw)
    bundle = load_data(cfg.data, cfg.task, 0)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in RUNNERS}
    for repeat in range(args.repeats):  # alternate, so drifts in machine load hit all alike
        for name, runner in RUNNERS.items():
            results[name].append(runner(bundle, cfg, seed=repeat))
            print(f"{name:20s} repeat {repeat}: {results[name][-1][0]:.1f} s, "
                  f"test accuracy {results[name][-1][1]:.4f}", flush=True)  # fmt: skip
    ours = statistics.median(s for s, _ in results["deepworks"])
    rows = []
    for name, runs in results.items():
        seconds = statistics.median(s for s, _ in runs)
        accuracy = statistics.mean(a for _, a in runs)
        rows.append([name, f"{seconds:.1f}", f"{seconds / ours:.2f}", f"{accuracy:.4f}"])
    import keras
    import lightning

    table = markdown_table(["framework", "fit (s)", "relative to deepworks", "test accuracy"], rows)
    print(table)
    write_section(
        "peers",
        "## The same CNN with deepworks, PyTorch Lightning and Keras 3\n\n"
        f"`python benchmarks/peers.py --threads {args.threads} --epochs {args.epochs} "
        f"--repeats {args.repeats}` on {machine()}; Lightning {lightning.__version__}, Keras "
        f"{keras.__version__} on its torch backend. mnist-5k (3,500 training images), "
        f"{args.epochs} epochs, batch 64, Adam 1e-3, validation every epoch; deepworks and "
        "Lightning checkpoint every epoch, Keras does not. Seconds: median over repeats of "
        "`fit` alone; accuracy: mean over repeats (each repeat its own seed).\n\n" + table,
    )


if __name__ == "__main__":
    main()
