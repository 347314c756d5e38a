"""Start-up: the wall time of whole `deepworks` processes beside `python -c "import torch"`.

Each command runs `--repeats` times as a fresh process; the table keeps the median. A tiny
iris run and a one-epoch digits CNN are trained first, for the `predict` of one table row and
of one image.

    python benchmarks/startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import machine, markdown_table, user_env, write_section
from PIL import Image
from sklearn.datasets import load_digits

BIN = Path(sys.executable).with_name("deepworks")


def walls(commands: dict[str, list[str]], repeats: int) -> dict[str, float]:
    """The median wall time of each command, run in turns (one of each, then again), so a
    drift in the machine's load hits them all alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=user_env())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        trained = subprocess.run(
            [str(BIN), "run", "examples/iris.yaml", "--runs-dir", str(runs), "-q",
             "--set", "evaluate.explain=0", "--set", "evaluate.baselines=false"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        run = trained.stdout.strip().splitlines()[-1]
        cnn = subprocess.run(
            [str(BIN), "run", "examples/digits.yaml", "--runs-dir", str(runs), "-q",
             "--set", "train.epochs=1", "--set", "evaluate.explain=0",
             "--set", "evaluate.baselines=false"],
            check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        image = Path(tmp) / "digit.png"
        digit = load_digits().images[0] * (255 / 16)
        Image.fromarray(digit.astype(np.uint8)).save(image)
        row = Path(tmp) / "row.csv"
        row.write_text(
            "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n"
            "5.1,3.5,1.4,0.2\n"
        )
        commands = {
            'python -c "import torch"': [sys.executable, "-c", "import torch"],
            "deepworks --help": [str(BIN), "--help"],
            "deepworks runs": [str(BIN), "runs", "--runs-dir", str(runs)],
            "deepworks predict (one table row)": [
                str(BIN), "predict", run, str(row), "-o", str(Path(tmp) / "p.csv")
            ],
            "deepworks predict (one image)": [
                str(BIN), "predict", cnn, str(image), "-o", str(Path(tmp) / "q.csv")
            ],
        }  # fmt: skip
        seconds = walls(commands, args.repeats)
    torch_s = seconds['python -c "import torch"']
    table = markdown_table(
        ["process", "seconds (median)", "× import torch"],
        [[f"`{name}`", f"{s:.2f}", f"{s / torch_s:.2f}"] for name, s in seconds.items()],
    )
    print(table)
    write_section(
        "startup",
        "## Start-up\n\n"
        f"`python benchmarks/startup.py --repeats {args.repeats}` on {machine()}: whole "
        "processes run in turns, the median of the repeats. `--help` and `runs` import no "
        "torch; `predict` of a table row imports torch and the run's own pieces, not "
        "torchvision, torchmetrics or scikit-learn (a test holds it so); an image adds "
        "torchvision's transforms.\n\n" + table,
    )


if __name__ == "__main__":
    main()
