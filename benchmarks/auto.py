"""`model: auto` and `deepworks tune` against the hand-written examples: each example run as
written and with `model: auto` (its data and training settings kept), compared on the same
test split; then the breast-cancer search's best trial against the example's own settings
(trial 0) on validation. Writes the tables into docs/benchmarks.md.

    python benchmarks/auto.py --threads 2 [--only breast-cancer digits fine-foods-lstm]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import yaml
from common import kept_rows, markdown_table, write_section

import deepworks

EXAMPLES = ("breast-cancer", "digits", "fine-foods-lstm")


def compare(example: str, threads: int, runs: Path) -> list[str]:
    config = yaml.safe_load(Path(f"examples/{example}.yaml").read_text())
    config.pop("tune", None)
    started = time.perf_counter()
    written = deepworks.run(config, runs_dir=runs, threads=threads, progress=False)
    mine = time.perf_counter() - started
    metric = written.info["metric"]
    auto = config | {"model": {"name": "auto"}, "name": f"{example}-auto"}
    started = time.perf_counter()
    chosen = deepworks.run(auto, runs_dir=runs, threads=threads, progress=False)
    seconds = time.perf_counter() - started
    tried = json.loads((chosen.path / "auto.json").read_text())["candidates"]
    listed = "; ".join(
        f"{'**' if c['chosen'] else ''}{c['model']}{'**' if c['chosen'] else ''} "
        f"{c[f'valid_{metric}']:.3f} / {c[metric]:.3f}"
        for c in tried
    )
    as_written = f"{config['model']['name']}: {written.metrics['test'][metric]:.4f}"
    auto_test = f"{chosen.metrics['test'][metric]:.4f}"
    return [example, as_written, auto_test, listed, f"{mine:.0f} / {seconds:.0f}"]


def search(threads: int, runs: Path, trials: int) -> str:
    started = time.perf_counter()
    result = deepworks.tune("examples/breast-cancer.yaml", trials=trials, runs_dir=runs,
                            threads=threads, progress=False)  # fmt: skip
    seconds = time.perf_counter() - started
    default = result.trials[0]
    best = deepworks.load(result.best_run)
    states = [t["state"] for t in result.trials]
    shown = {k: f"{v:.3g}" if isinstance(v, float) else v for k, v in result.best_params.items()}
    settings = ", ".join(f"{k}={v}" for k, v in shown.items())
    return (
        f"`deepworks tune examples/breast-cancer.yaml --trials {trials}`: {seconds:.0f} s, "
        f"{states.count('complete')} complete and {states.count('pruned')} pruned trials. "
        f"Validation accuracy: the example's own settings (trial 0) {default['value']:.4f}, "
        f"the best trial (#{best.info['trial']}) {result.best_value:.4f} "
        f"({settings}); its test accuracy {best.metrics['test']['accuracy']:.4f}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=list(EXAMPLES))
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for example in args.only:
            rows.append(compare(example, args.threads, Path(tmp)))
            print(" | ".join(rows[-1]), flush=True)
        tuned = search(args.threads, Path(tmp) / "tune", args.trials)
        print(tuned, flush=True)
    header = ["example", "as written (test)", "model: auto (test)",
              "candidates (valid / test; chosen in bold)", "seconds (written / auto)"]  # fmt: skip
    body = (
        f"`python benchmarks/auto.py --threads {args.threads}`: each example as written and "
        "with `model: auto` (its data and training settings kept), on the same split.\n\n"
        + markdown_table(header, kept_rows("auto", rows))
        + "\n\n"
        + tuned
    )
    write_section("auto", body)


if __name__ == "__main__":
    main()
