"""A search killed and continued: `deepworks tune examples/breast-cancer.yaml --trials 20`,
SIGKILLed once 8 trials have finished, then the same command again; prints what the study
holds afterwards (finished trials, distinct settings and runs, the interrupted one).

    python benchmarks/tune_resume.py [--runs-dir /tmp/tune-resume]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna

FINISHED = ("COMPLETE", "PRUNED")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs-dir", type=Path, default=Path("/tmp/tune-resume"))
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--kill-after", type=int, default=8)
    args = parser.parse_args()
    runs = args.runs_dir
    shutil.rmtree(runs, ignore_errors=True)
    cmd = [sys.executable, "-m", "deepworks.cli", "tune", "examples/breast-cancer.yaml",
           "--trials", str(args.trials), "--runs-dir", str(runs), "-q"]  # fmt: skip
    started = time.perf_counter()
    victim = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while len(list(runs.glob("*/run.json"))) <= args.kill_after:  # trial N+1 has begun
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{(runs / 'studies.sqlite').resolve()}"

    def trials():
        return optuna.load_study(study_name="breast-cancer-mlp", storage=storage).trials

    before = {t.number: t.params for t in trials() if t.state.name in FINISHED}
    subprocess.run(cmd, check=True, capture_output=True)
    after = trials()
    done = [t for t in after if t.state.name in FINISHED]
    print(f"killed with {len(before)} finished; afterwards {len(after)} trials: "
          f"{len(done)} finished ({len({json.dumps(t.params, sort_keys=True) for t in done})} "
          f"distinct settings, {len({t.user_attrs['run'] for t in done})} runs), "
          f"{sum(t.state.name == 'FAIL' for t in after)} interrupted; the earlier ones kept: "
          f"{all(t.params == before[t.number] for t in done if t.number in before)}; "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
