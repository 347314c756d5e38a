"""Translation on the built-in corpora: numbers-fr (Transformer and attention-GRU) and
reviews-es (Transformer), each example trained as `deepworks run` trains it, scored on its
test sentences with sacrebleu — beam search and greedy — beside the copy and word-by-word
dictionary baselines on the same sentences. Writes the table into docs/benchmarks.md.

    python benchmarks/translation.py --threads 2
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import kept_rows, machine, markdown_table, write_section

import deepworks

EXAMPLES = ("reviews-es", "numbers-fr", "numbers-fr-gru")  # the long one first


def measure(example: str, threads: int, runs: Path) -> tuple[list[str], list[dict]]:
    run = deepworks.run(f"examples/{example}.yaml", runs_dir=runs, threads=threads)
    t = run.metrics["test"]
    seconds = sum(r["seconds"] for r in run.history())
    scores = lambda p: f"{t[p + 'bleu']:.1f} / {t[p + 'chrf']:.1f} / {t[p + 'exact_match']:.3f}"  # noqa: E731
    row = [
        example,
        f"{run.folder.read_json(run.path / 'model.json')['model']}, {len(run.history())} ep",
        scores(""),
        scores("greedy_"),
        scores("dictionary_"),
        scores("copy_"),
        f"{seconds:.0f}",
    ]
    print(" | ".join(row), run.path, flush=True)
    return row, t["examples"][:3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=EXAMPLES, action="append")
    parser.add_argument("--runs-dir", type=Path, help="Keep the runs here (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.runs_dir or Path(tmp)
        measured = [measure(e, args.threads, runs) for e in args.only or EXAMPLES]
    table = markdown_table(
        ["example", "model", "beam 5: BLEU / chrF / exact", "greedy", "dictionary baseline",
         "copy baseline", "training s"],
        kept_rows("translation", [row for row, _ in measured]),
    )  # fmt: skip
    samples = "\n".join(
        f"- `{e['source']}` → `{e['translation']}` (reference: `{e['reference']}`)"
        for _, examples in measured
        for e in examples[:2]
    )
    print(table)
    write_section(
        "translation",
        f"## Translation\n\n`python benchmarks/translation.py --threads {args.threads}` on "
        f"{machine()}: sacrebleu BLEU and chrF (13a), exact match, on each corpus's test "
        "sentences (numbers-fr: hundreds never seen in training).\n\n"
        + table
        + "\n\nTest sentences, translated:\n\n"
        + samples,
    )


if __name__ == "__main__":
    main()
