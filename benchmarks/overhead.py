"""Trainer overhead: deepworks' Trainer against a plain hand-written PyTorch loop.

Both train the same registry model from the same initial weights on the same data in the same
order (the permutation of each epoch is a function of (seed, epoch)), with the same optimizer,
and validate once per epoch. deepworks does what `deepworks run` does: checkpoints every epoch
(atomically), its per-epoch validation metrics, progress output. The loss curves
must match; the script prints them, the wall-time ratio, and writes the table into
docs/benchmarks.md.

    python benchmarks/overhead.py --threads 1 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fine_foods_slice, fit_deepworks, machine, markdown_table, write_section

from deepworks.catalog import load_config
from deepworks.data.datasets import epoch_permutation
from deepworks.models import build_model
from deepworks.tasks import get_task, load_data

MIN_SECONDS = 10.0

CASES = {
    "cnn / mnist-5k": {
        "data": {"dataset": "mnist-5k", "batch_size": 64},
        "model": {"name": "cnn", "channels": [32, 64], "hidden": 128},
    },
    "mlp / digits": {
        "data": {"dataset": "digits", "batch_size": 32},
        "model": {"name": "mlp", "hidden": [128, 64]},
    },
    "lstm / fine-foods (2,000 reviews)": {
        "data": fine_foods_slice(2000),
        "model": {"name": "lstm", "embed_dim": 64, "hidden": 64},
    },
}


def plain_loop(model, train, valid, epochs, batch_size, lr, seed, device="cpu") -> list[float]:
    """What one writes by hand: shuffle, step, log the epoch loss, validate."""
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = train.x, train.y
    losses = []
    for epoch in range(epochs):
        model.train()
        order = epoch_permutation(len(x), seed, epoch)
        total, seen = 0.0, 0
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            opt.zero_grad(set_to_none=True)
            xb, yb = x[idx].to(device, non_blocking=True), y[idx].to(device, non_blocking=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        losses.append(total / seen)
        model.eval()
        with torch.inference_mode():
            logits = torch.cat([model(v.to(device)) for v in valid.x.split(256)])
            target = valid.y.to(device)
            _ = (
                F.cross_entropy(logits, target).item(),
                (logits.argmax(1) == target).float().mean().item(),
            )
    return losses


def deepworks_loop(model, task, bundle, cfg, seed) -> list[float]:
    state, _ = fit_deepworks(model, task, bundle, cfg, seed, progress=True)
    return [r["train_loss"] for r in state.history]


def measure(
    name: str, raw: dict, epochs: int, repeats: int, seed: int = 0, device: str = "cpu"
) -> dict:
    train = {"epochs": epochs, "optimizer": {"name": "adam", "lr": 1e-3}, "device": device}
    raw = {**raw, "train": train}
    cfg = load_config(raw)
    bundle = load_data(cfg.data, cfg.task, seed)
    task = get_task(bundle.schema)

    def fresh():
        torch.manual_seed(seed)
        return build_model(cfg.model.name, cfg.model.params, bundle.schema)

    times: dict[str, list[float]] = {"plain": [], "deepworks": []}
    curves = {}
    done = 0
    # alternate, so drifts in machine load hit both alike; a case of under a second gets
    # repeats until each side has run MIN_SECONDS, so its median is not one noisy sample
    while done < repeats or sum(times["plain"]) < MIN_SECONDS:
        done += 1
        model = fresh()
        t = time.perf_counter()
        curves["plain"] = plain_loop(
            model, bundle.train, bundle.valid, epochs, cfg.data.batch_size, 1e-3, seed, device
        )
        times["plain"].append(time.perf_counter() - t)
        model = fresh()
        t = time.perf_counter()
        curves["deepworks"] = deepworks_loop(model, task, bundle, cfg, seed)
        times["deepworks"].append(time.perf_counter() - t)
    plain, ours = statistics.median(times["plain"]), statistics.median(times["deepworks"])
    diff = max(abs(a - b) for a, b in zip(curves["plain"], curves["deepworks"], strict=True))
    print(f"\n{name}: epoch losses")
    print("  plain     ", " ".join(f"{v:.6f}" for v in curves["plain"]))
    print("  deepworks ", " ".join(f"{v:.6f}" for v in curves["deepworks"]))
    print(
        f"  max |difference| {diff:.2e}; plain {plain:.2f}s, deepworks {ours:.2f}s, "
        f"ratio {ours / plain:.3f} (median of {done} repeats)"
    )
    return {"name": name, "plain": plain, "ours": ours, "diff": diff, "n": len(bundle.train),
            "repeats": done}  # fmt: skip


def overhead_table(results: list[dict]) -> str:
    rows = [
        [
            r["name"],
            str(r["n"]),
            f"{r['plain']:.2f}",
            f"{r['ours']:.2f}",
            f"{r['ours'] / r['plain']:.3f}",
            f"{r['diff']:.1e}",
            str(r["repeats"]),
        ]
        for r in results
    ]
    return markdown_table(
        [
            "model / data",
            "train rows",
            "plain loop (s)",
            "deepworks (s)",
            "ratio",
            "max loss diff",
            "repeats",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="Do not update docs/benchmarks.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = [measure(name, raw, args.epochs, args.repeats) for name, raw in CASES.items()]
    table = overhead_table(results)
    print("\n" + table)
    if not args.no_write:
        write_section(
            "overhead",
            f"## Trainer overhead against a plain PyTorch loop\n\n"
            f"`python benchmarks/overhead.py --threads {args.threads} --epochs {args.epochs} "
            f"--repeats {args.repeats}` — median of at least {args.repeats} alternating repeats "
            f"(more for a case whose plain loop takes under {MIN_SECONDS:.0f} s in all), "
            f"{args.epochs} epochs each, validation every epoch. deepworks also writes a "
            f"checkpoint at each epoch's end (within `train.checkpoint_budget`, written off the "
            f"training thread) and tracks five validation metrics (the plain loop: loss and "
            f"accuracy, no checkpoints). Target: ratio ≤ 1.05, loss curves identical.\n\n"
            f"Machine: {machine()}\n\n{table}\n",
        )


if __name__ == "__main__":
    main()
