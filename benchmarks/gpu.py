"""The CUDA paths, on a GPU machine: precision, compile, channels-last and DDP against fp32,
and the trainer's overhead against a plain loop on the GPU.

One prepared script, so a short lease on a GPU machine runs every CUDA path at once:

    python benchmarks/gpu.py            # writes the gpu section of docs/benchmarks.md

Each variant trains the CNN on mnist-5k from the same initial weights in the same data order;
the table gives its epoch losses' largest relative difference from the fp32 run, its
validation accuracy, and its seconds. DDP runs as one process in an NCCL process group, so the
DistributedDataParallel wrapper, its gradient all-reduce and the CUDA device placement are all
on the path. Without a GPU the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fit_deepworks, machine, markdown_table, write_section
from overhead import CASES, measure, overhead_table

from deepworks.catalog import load_config
from deepworks.models import build_model
from deepworks.tasks import get_task, load_data

VARIANTS = {
    "fp32": {},
    "bf16 autocast": {"precision": "bf16"},
    "fp16 autocast + grad scaler": {"precision": "fp16"},
    "channels_last": {"channels_last": True},
    "torch.compile": {"compile": True},
    "bf16 + channels_last + compile": {"precision": "bf16", "channels_last": True, "compile": True},
    "DDP (1 process, NCCL)": {"ddp": True},
}


def train_variant(options: dict, epochs: int, seed: int = 0) -> dict:
    options = dict(options)
    ddp = options.pop("ddp", False)
    raw = {
        "data": {"dataset": "mnist-5k", "batch_size": 64},
        "model": {"name": "cnn", "channels": [32, 64], "hidden": 128},
        "train": {"epochs": epochs, "device": "cuda", "optimizer": {"name": "adam", "lr": 1e-3}}
        | options,
    }
    cfg = load_config(raw)
    bundle = load_data(cfg.data, cfg.task, seed)
    task = get_task(bundle.schema)
    torch.manual_seed(seed)
    model = build_model(cfg.model.name, cfg.model.params, bundle.schema)
    if ddp:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29533")
        torch.distributed.init_process_group("nccl", rank=0, world_size=1)
    try:
        torch.cuda.synchronize()
        state, seconds = fit_deepworks(model, task, bundle, cfg, seed)
        torch.cuda.synchronize()
    finally:
        if ddp:
            torch.distributed.destroy_process_group()
    return {
        "losses": [r["train_loss"] for r in state.history],
        "accuracy": state.history[-1]["valid_accuracy"],
        "seconds": seconds,
    }


def variants_table(epochs: int) -> str:
    results = {}
    for name, options in VARIANTS.items():
        start = time.perf_counter()
        results[name] = train_variant(options, epochs)
        print(f"{name}: {time.perf_counter() - start:.1f}s {results[name]}", flush=True)
    reference = results["fp32"]["losses"]
    rows = []
    for name, r in results.items():
        diff = max(abs(a - b) / abs(b) for a, b in zip(r["losses"], reference, strict=True))
        rows.append(
            [
                name,
                " ".join(f"{v:.4f}" for v in r["losses"]),
                f"{diff:.1e}",
                f"{r['accuracy']:.4f}",
                f"{r['seconds']:.1f}",
            ]
        )
    header = ["variant", "epoch losses", "max rel. diff vs fp32", "valid accuracy", "fit (s)"]
    return markdown_table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="Do not update docs/benchmarks.md")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device here: nothing to measure (run this on a GPU machine)")
        return
    gpu = torch.cuda.get_device_name()
    variants = variants_table(args.epochs)
    print("\n" + variants, flush=True)
    overhead = overhead_table(
        [
            measure(name, raw, args.epochs, args.repeats, device="cuda")
            for name, raw in CASES.items()
        ]
    )
    print("\n" + overhead, flush=True)
    if not args.no_write:
        write_section(
            "gpu",
            f"## On a GPU: precision, compile, channels-last, DDP and the trainer's overhead\n\n"
            f"`python benchmarks/gpu.py --epochs {args.epochs} --repeats {args.repeats}` on "
            f"{gpu}; {machine()}. The CNN on mnist-5k ({args.epochs} epochs, batch 64, Adam "
            f"1e-3) from the same initial weights in the same data order under each CUDA path; "
            f"the loss difference is the largest over epochs, relative to the fp32 run. "
            f"Seconds include torch.compile's compilation.\n\n{variants}\n\n"
            f"The trainer against a plain PyTorch loop on the same GPU (as in the CPU table "
            f"above: median of {args.repeats} alternating repeats, a checkpoint and the "
            f"validation metrics every epoch):\n\n{overhead}\n",
        )


if __name__ == "__main__":
    main()
