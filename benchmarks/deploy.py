"""Eager PyTorch against ONNX and int8 ONNX: the deployment cards of three small models.

Trains an MLP (mnist-5k), a CNN (digits) and a BiLSTM (a slice of fine-foods), then runs
`deepworks export` on each: file size, batch-1 latency p50 / p99, batch-64 throughput, test
accuracy and its change, parity — all in the same process, on the same thread count.

    python benchmarks/deploy.py --threads 1
"""

from __future__ import annotations

import argparse
import tempfile

from common import fine_foods_slice, machine, markdown_table, write_section

import deepworks
from deepworks.deploy import build_card

QUIET = {"baselines": False, "explain": 0}
MODELS = {
    "MLP 784-256-128-10 / mnist-5k": {
        "data": {"dataset": "mnist-5k", "batch_size": 64},
        "model": {"name": "mlp", "hidden": [256, 128]},
        "train": {"epochs": 5, "optimizer": {"name": "adam", "lr": 0.001}},
    },
    "CNN / digits": {"config": "examples/digits.yaml"},
    "BiLSTM / fine-foods (3,000 reviews)": {
        "data": fine_foods_slice(3000),
        "model": {"name": "lstm", "embed_dim": 64, "hidden": 64},
        "train": {"epochs": 4, "optimizer": {"name": "adamw", "lr": 0.003}},
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        for label, spec in MODELS.items():
            config = spec.get("config") or {**spec, "evaluate": QUIET}
            overrides = (
                ["evaluate.baselines=false", "evaluate.explain=0"] if "config" in spec else []
            )
            run = deepworks.run(
                config, runs_dir=runs, threads=args.threads, overrides=overrides, progress=False
            )
            card = build_card(run, ["onnx"], True, None, args.threads)
            eager = card["rows"][0]
            for r in card["rows"]:
                rows.append(
                    [
                        label,
                        r["format"],
                        f"{r['size_bytes'] / 1e3:.0f} kB",
                        f"{eager['size_bytes'] / r['size_bytes']:.2f}×",
                        f"{r['p50_ms']:.3f}",
                        f"{r['p99_ms']:.3f}",
                        f"{eager['p50_ms'] / r['p50_ms']:.2f}×",
                        f"{r['throughput']:.0f}",
                        f"{r['metric']:.4f}",
                        f"{r['change']:+.4f}",
                        "" if r["parity"] is None else f"{r['parity']:.1e}",
                    ]
                )
                print(" | ".join(rows[-1]), flush=True)
    header = [
        "model",
        "form",
        "file",
        "smaller",
        "p50 ms",
        "p99 ms",
        "faster (p50)",
        "rows/s @64",
        "test accuracy",
        "change",
        "parity",
    ]
    write_section(
        "deploy",
        "## Eager, ONNX and int8: deployment cards\n\n"
        f"`python benchmarks/deploy.py --threads {args.threads}` on {machine()}. Each model is "
        "trained, then `deepworks export` measures every form in the same process: batch-1 "
        "latency over 200 calls after 20 warm-up calls, batch-64 throughput, accuracy on the "
        "whole test split. int8 is onnxruntime's dynamic quantization (weights int8, "
        "activations quantized on the fly).\n\n" + markdown_table(header, rows),
    )


if __name__ == "__main__":
    main()
