"""Speech recognition on the built-in spoken-sentences: each example trained as `deepworks
run` trains it, its test clips (voices never heard in training) scored by WER and CER —
greedy and by a beam over the training words — beside pocketsphinx on the same clips, overall
and per kind of sentence. Writes the table into docs/benchmarks.md.

    python benchmarks/speech.py --threads 2
    python benchmarks/speech.py --tabulate RUN... [--rescore]   # from finished runs
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import kept_rows, machine, markdown_table, write_section

import deepworks

EXAMPLES = ("spoken-sentences", "spoken-sentences-transformer")


def measure(example: str, threads: int, runs: Path) -> tuple[list[str], list[dict]]:
    return tabulate(deepworks.run(f"examples/{example}.yaml", runs_dir=runs, threads=threads))


def rescore(path: Path) -> deepworks.Run:
    """A finished run's valid and test splits decoded again with today's decoder (its
    beam's settings), the run's metrics.json updated: the same weights, no retraining."""
    import json

    from deepworks.catalog import load_config
    from deepworks.tasks import load_data

    run = deepworks.load(path)
    cfg = load_config(run.folder.config)
    bundle = load_data(cfg.data, cfg.task, cfg.seed)
    metrics = json.loads(run.folder.metrics_json.read_text())
    for split, values in run.task.final_metrics(run.model, bundle, cfg.seed).items():
        metrics[split].update(values)
    run.folder.metrics_json.write_text(json.dumps(metrics, indent=1))
    return deepworks.load(path)


def tabulate(run) -> tuple[list[str], list[dict]]:
    """A run's row: the beam's and greedy decoding's rates, pocketsphinx's, by kind."""
    t = run.metrics["test"]
    seconds = sum(r["seconds"] for r in run.history())
    kinds = t["groups"].get("kind", {})
    rate = lambda p: f"{t[p + 'wer']:.3f} / {t[p + 'cer']:.3f}" if p + "wer" in t else "–"  # noqa: E731
    by_kind = lambda system: " / ".join(  # noqa: E731
        f"{kinds[k][system]:.3f}" for k in ("digits", "command") if system in kinds.get(k, {})
    )
    row = [
        run.info["name"],
        f"{run.folder.read_json(run.path / 'model.json')['model']}, {len(run.history())} ep",
        rate(""),
        by_kind("beam"),
        rate("greedy_"),
        by_kind("greedy"),
        rate("pocketsphinx_"),
        by_kind("pocketsphinx"),
        f"{seconds:.0f}",
    ]
    print(" | ".join(row), run.path, flush=True)
    return row, t["examples"][:3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=EXAMPLES, action="append")
    parser.add_argument("--runs-dir", type=Path, help="Keep the runs here (default: a temp dir)")
    parser.add_argument(
        "--tabulate", type=Path, nargs="+", help="Write the table from these finished runs"
    )
    parser.add_argument(
        "--rescore", action="store_true", help="--tabulate: decode their splits again first"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.runs_dir or Path(tmp)
        reread = rescore if args.rescore else deepworks.load
        measured = (
            [tabulate(reread(path)) for path in args.tabulate]
            if args.tabulate
            else [measure(e, args.threads, runs) for e in args.only or EXAMPLES]
        )
    table = markdown_table(
        ["example", "model", "beam WER / CER", "beam WER digits / commands", "greedy WER / CER",
         "greedy WER digits / commands", "pocketsphinx WER / CER",
         "pocketsphinx digits / commands", "training s"],
        kept_rows("speech", [row for row, _ in measured]),
    )  # fmt: skip
    samples = "\n".join(
        f"- {row[1].split(',')[0]}: `{e['clip'].rsplit('/', 2)[-2]}` said `{e['reference']}`: "
        f"beam `{e.get('beam')}`, greedy `{e['greedy']}`, pocketsphinx `{e.get('pocketsphinx')}`"
        for row, examples in measured
        for e in examples[:2]
    )
    print(table)
    write_section(
        "speech",
        f"## Speech recognition\n\n`python benchmarks/speech.py --threads {args.threads}` on "
        f"{machine()}: word and character error rates (torchmetrics, normalized text) on the "
        "1,120 test clips of spoken-sentences, read by 14 voices never heard in training; "
        "beam: the word beam (width 16, word score -3), greedy: the best character per "
        "frame. A run made before a decoder change is decoded again, the same weights, by "
        "`--tabulate RUN... --rescore` (its training seconds are the run's own).\n\n"
        + table
        + "\n\nTest clips, transcribed:\n\n"
        + samples,
    )


if __name__ == "__main__":
    main()
