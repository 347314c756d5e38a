"""Evaluation memory as the evaluation set grows: streaming metrics against keeping outputs.

An MLP classifier (20 features, 10 classes) is evaluated on 10k, 100k and 1M rows, each size in
a fresh process: deepworks' `evaluate` (torchmetrics updated batch by batch, ROC AUC from 200
fixed thresholds) against the usual alternative — collect every output, then score with
scikit-learn. Reported: the process's peak memory growth during evaluation alone (the data
itself is allocated before the baseline is taken).

    python benchmarks/eval_memory.py
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from common import machine, markdown_table, write_section

SIZES = (10_000, 100_000, 1_000_000)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def measure(n: int, how: str) -> dict:
    import torch

    from deepworks.core.schema import Schema
    from deepworks.data.datasets import TensorData
    from deepworks.metrics.evaluator import evaluate
    from deepworks.models import build_model
    from deepworks.tasks import get_task
    from deepworks.train.loader import make_loader

    torch.set_num_threads(1)
    torch.manual_seed(0)
    schema = Schema("table", "classification", (20,), "y", classes=[str(i) for i in range(10)])
    model = build_model("mlp", {"hidden": [64]}, schema).eval()
    data = TensorData(torch.randn(n, 20), torch.randint(0, 10, (n,)))
    from sklearn.metrics import roc_auc_score

    def score(data: TensorData) -> float:
        loader = make_loader(data, 1024)
        if how == "deepworks":
            return evaluate(model, get_task(schema), loader)["roc_auc"]
        with torch.inference_mode():  # keep every probability, then score
            proba = torch.cat([model(x).softmax(-1) for x, _ in loader]).numpy()
        return roc_auc_score(data.y.numpy(), proba, multi_class="ovr")

    score(TensorData(data.x[:2048], data.y[:2048]))  # imports and first-call costs, not growth
    before = peak_mb()
    start = time.perf_counter()
    auc = score(data)
    return {"growth_mb": peak_mb() - before, "seconds": time.perf_counter() - start, "auc": auc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", nargs=2, metavar=("N", "HOW"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(int(args.child[0]), args.child[1])))
        return
    rows = []
    for n in SIZES:
        for how in ("deepworks", "keep outputs + scikit-learn"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(n), how],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append([f"{n:,}", how, f"{r['growth_mb']:.1f}", f"{r['seconds']:.2f}",
                         f"{r['auc']:.4f}"])  # fmt: skip
            print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(
        ["rows", "evaluation", "peak memory growth (MB)", "seconds", "ROC AUC"], rows
    )
    print(table)
    write_section(
        "eval-memory",
        "## Evaluation memory as the evaluation set grows\n\n"
        f"`python benchmarks/eval_memory.py` on {machine()}. Each row is a fresh process; the "
        "growth is measured after the data is in memory. (The model is untrained: ROC AUC "
        "near 0.5 is expected; the two columns agree up to the threshold grid.)\n\n" + table,
    )


if __name__ == "__main__":
    main()
