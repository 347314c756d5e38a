"""Learning from 100 labelled images: pretrained vs from scratch, augmentation vs none.

Every row trains on the same 100-image stratified slice of mnist-5k's training split and is
scored on the same whole test split (750 images), so the rows compare directly.

    python benchmarks/small_data.py --threads 2      # ~10 min on 2 cores
"""

from __future__ import annotations

import argparse
import tempfile
import time

from common import machine, markdown_table, write_section

import deepworks

TRANSFER = "examples/mnist-transfer.yaml"
SMALL_CNN = [
    "data.dataset=mnist-5k",
    "data.train_size=100",
    "data.batch_size=16",
    "train.epochs=40",
]
ROWS: list[tuple[str, str, list[str]]] = [
    ("EfficientNet-Lite0, from scratch", TRANSFER, ["model.pretrained=null"]),
    ("EfficientNet-Lite0, ImageNet, fine-tuned", TRANSFER, []),
    ("EfficientNet-Lite0, ImageNet, frozen features", TRANSFER, ["model.strategy=features"]),
    ("CNN, no augmentation", "examples/mnist.yaml", SMALL_CNN),
    (
        "CNN, rotate 10° + crop 0.8",
        "examples/mnist.yaml",
        [*SMALL_CNN, "data.augment.rotate=10", "data.augment.crop=0.8"],
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        for label, config, overrides in ROWS:
            start = time.perf_counter()
            run = deepworks.run(
                config, runs_dir=runs, threads=args.threads, overrides=overrides, progress=False
            )
            seconds = time.perf_counter() - start
            accuracy = run.metrics["test"]["accuracy"]
            rows.append([label, f"{accuracy:.3f}", f"{seconds:.0f}"])
            print(f"{label:48s} test accuracy {accuracy:.3f}  ({seconds:.0f} s)", flush=True)
    table = markdown_table(["100 training images of mnist-5k", "test accuracy", "seconds"], rows)
    write_section(
        "small-data",
        "## Learning from 100 labelled images\n\n"
        f"`python benchmarks/small_data.py --threads {args.threads}` on {machine()}. "
        "The same 100-image slice trains every row (`data.train_size: 100`); all are scored on "
        "the same 750 test images.\n\n" + table,
    )


if __name__ == "__main__":
    main()
