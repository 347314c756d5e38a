"""Busy machines: training time alone and beside two busy competitor processes.

The demo's CNN on digits trains in a fresh process for each setting — `--threads 1`, `2` and
the default (the CPUs this process may use — affinity and cgroup quota — less those
other processes keep busy) — first alone, then
while two Python spin loops compete for the cores. With C cores and T threads against two
single-thread competitors, a fair scheduler gives the run C·T/(T+2) cores' worth of time, so
proportional degradation is a slowdown of (T+2)/C when T ≤ C; the table sets each measured
slowdown beside that bound.

    python benchmarks/busy.py --epochs 5
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from common import machine, markdown_table, write_section

from deepworks.core.cpus import available_cpus

WORKER = """
import json, sys
sys.path.insert(0, "benchmarks")
from common import fit_deepworks
from deepworks.catalog import load_config
from deepworks.models import build_model
from deepworks.runtime import set_threads
from deepworks.tasks import get_task, load_data
import torch
threads = json.loads(sys.argv[1])
set_threads(threads)
raw = {{"data": {{"dataset": "digits", "batch_size": 32}},
       "model": {{"name": "cnn", "channels": [32, 64], "hidden": 128}},
       "train": {{"epochs": {epochs}, "optimizer": {{"name": "adam", "lr": 1e-3}}}}}}
cfg = load_config(raw)
bundle = load_data(cfg.data, cfg.task, 0)
torch.manual_seed(0)
model = build_model(cfg.model.name, cfg.model.params, bundle.schema)
_, seconds = fit_deepworks(model, get_task(bundle.schema), bundle, cfg, 0)
print(json.dumps({{"seconds": seconds, "threads": torch.get_num_threads()}}))
"""


def train(threads: int | None, epochs: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", WORKER.format(epochs=epochs), json.dumps(threads)],
        check=True,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def competing(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="Do not update docs/benchmarks.md")
    args = parser.parse_args()
    cores = available_cpus()
    rows = []
    for threads in (1, 2, None):
        alone = train(threads, args.epochs)
        spinners = competing(2)
        time.sleep(0.5)
        try:
            busy = train(threads, args.epochs)
        finally:
            for p in spinners:
                p.kill()
        t, shared = alone["threads"], busy["threads"]
        # The cores it used alone over the cores' worth a fair scheduler gives it when busy.
        bound = max(1.0, t / (cores * shared / (shared + 2))) if t <= cores else None
        slowdown = busy["seconds"] / alone["seconds"]
        label = f"--threads {threads}" if threads else f"default ({t} alone, {shared} busy)"
        rows.append(
            [
                label,
                f"{alone['seconds']:.1f}",
                f"{busy['seconds']:.1f}",
                f"{slowdown:.2f}×",
                f"{bound:.2f}×" if bound else "",
            ]
        )
        print(rows[-1], flush=True)
    table = markdown_table(
        ["threads", "alone (s)", "beside 2 busy processes (s)", "slowdown", "proportional"],
        rows,
    )
    print(table)
    if not args.no_write:
        write_section(
            "busy",
            "## Busy machines\n\n"
            f"`python benchmarks/busy.py --epochs {args.epochs}` on {machine()}: the demo's "
            f"CNN on digits ({args.epochs} epochs), each setting in a fresh process, alone and "
            "beside two single-thread Python spin loops. The default thread count is the CPUs "
            "the process may use (affinity, then a cgroup CPU quota), less those other "
            "processes keep busy (sampled from /proc/stat while torch loads). `proportional` "
            "is the slowdown a fair share of the cores would give: the threads it ran alone "
            "over the cores' worth a fair scheduler grants its threads beside two competitors "
            "(T ÷ (cores·T′/(T′+2)); (T+2) ÷ cores when the count is fixed).\n\n" + table,
        )


if __name__ == "__main__":
    main()
