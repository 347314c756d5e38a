"""Detection, instance segmentation and semantic segmentation on `digit-scenes`.

Each example in `examples/` is trained as `deepworks run` trains it (2 threads) and scored on
the test scenes, whose handwriting training never saw; beside it, the traditional pipeline the
task scores on the same test scenes. Writes the table into docs/benchmarks.md and pictures of
the detections and the class masks into docs/images/.

    python benchmarks/scenes.py --threads 2
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import kept_rows, machine, markdown_table, write_section

import deepworks

# example → (the test metrics shown, the baseline's prefix)
CASES = {
    "digit-scenes-detection": (("map_50", "map"), "components"),
    "digit-scenes-faster-rcnn": (("map_50", "map"), "components"),
    "digit-scenes-detection-lite0": (("map_50", "map"), "components"),
    "digit-scenes-ssdlite": (("map_50", "map"), "components"),
    "digit-scenes-instances": (("mask_map_50", "mask_map", "map_50"), "components"),
    "digit-scenes-segmentation": (("mean_iou", "dice", "pixel_accuracy"), "pixel_logistic"),
}


def measure(example: str, threads: int, runs: Path) -> list[str]:
    names, baseline = CASES[example]
    run = deepworks.run(f"examples/{example}.yaml", runs_dir=runs, threads=threads)
    test = run.metrics["test"]
    seconds = sum(r["seconds"] for r in run.history())
    pictures = {"digit-scenes-detection": "detections", "digit-scenes-segmentation": "masks"}
    if example in pictures:  # the README shows them
        name = pictures[example]
        shutil.copy(run.path / f"{name}.png", f"docs/images/digit-scenes-{name}.png")
    ours = ", ".join(f"{n} {test[n]:.3f}" for n in names)
    theirs = ", ".join(
        f"{n} {test[f'{baseline}_{n}']:.3f}" for n in names if f"{baseline}_{n}" in test
    )
    model = run.folder.read_json(run.path / "model.json")
    print(f"{example}: {ours} | {theirs} | {seconds:.0f} s | {run.path}", flush=True)
    described = f"{model['model']}, {len(run.history())} epochs"
    return [example, described, ours, theirs, f"{seconds:.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=list(CASES), action="append")
    parser.add_argument("--runs-dir", type=Path, help="Keep the runs here (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.runs_dir or Path(tmp)
        rows = [measure(e, args.threads, runs) for e in args.only or CASES]
    table = markdown_table(
        ["example", "model", "test (unseen handwriting)", "traditional pipeline, same test",
         "training s"],
        kept_rows("scenes", rows),
    )  # fmt: skip
    print(table)
    write_section(
        "scenes",
        f"## Detection and segmentation on digit-scenes\n\n`python benchmarks/scenes.py "
        f"--threads {args.threads}` on {machine()}: each example trained as `deepworks run` "
        "trains it; COCO mAP as pycocotools computes it (by faster-coco-eval, its C++ port: "
        "the same figures), mean IoU with the background. Rows left out of "
        "a run (`--only`) keep their earlier figures; some of those ran beside other work, "
        "which shows in their seconds.\n\n" + table,
    )


if __name__ == "__main__":
    main()
