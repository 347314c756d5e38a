"""Helper processes (deepworks.core.helpers) and the figures they write (plots.written_aside);
the quick exit of the `deepworks` executable."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deepworks import plots
from deepworks.core import cpus
from deepworks.core.helpers import Helpers


@pytest.fixture
def helpers():
    pool = Helpers(2, plots.WARM)
    yield pool
    pool.close()


def _draw(tmp_path: Path, name: str) -> Path:
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 50, size=(4, 4)).tolist()
    return plots.confusion_matrix(matrix, list("abcd"), tmp_path / name, "test")


def test_figures_written_aside_equal_those_written_here(tmp_path, helpers):
    here = _draw(tmp_path, "here.png")
    with plots.written_aside(helpers):
        aside = _draw(tmp_path, "aside.png")
        history = [{"epoch": e, "train_loss": 1 / e, "valid_loss": 1.2 / e} for e in (1, 2, 3)]
        curves = plots.learning_curves(history, tmp_path / "curves.png", "accuracy")
    # on leaving, every figure is on disk, byte for byte what this process writes
    assert aside.read_bytes() == here.read_bytes()
    assert curves.stat().st_size > 1000
    assert plots.base._aside is None  # figures after the block are written here again


def test_a_relative_path_is_this_processs_not_the_helpers(tmp_path, helpers, monkeypatch):
    monkeypatch.chdir(tmp_path)  # after the helpers started elsewhere
    with plots.written_aside(helpers):
        written = _draw(Path("."), "relative.png")
    assert written == tmp_path / "relative.png" and written.is_file()


def test_a_failed_job_is_raised_with_the_helpers_traceback(helpers):
    helpers.submit(int, "not a number")  # what the helper runs is named by reference
    with pytest.raises(RuntimeError, match=r"(?s)a helper process failed.*ValueError: invalid"):
        helpers.wait()
    helpers.submit(print, "a stray print goes to stderr, not into the answers")
    helpers.wait()  # the helpers go on after a failure


def test_helpers_that_cannot_start_leave_their_jobs_to_this_process(tmp_path):
    broken = Helpers(2, "no_such_module_to_warm")
    try:
        with plots.written_aside(broken):
            written = [_draw(tmp_path, f"{i}.png") for i in range(3)]
        assert all(path.stat().st_size > 1000 for path in written)
    finally:
        broken.close()


def test_a_stopped_helper_leaves_its_jobs_here(tmp_path):
    """Once stopped, a helper's process ends and what it had not done is done here."""
    pool = Helpers(1, plots.WARM)
    try:
        while not pool.ready():
            time.sleep(0.05)
        (process,) = pool._processes
        pool.stop()
        with plots.written_aside(pool):
            written = _draw(tmp_path, "after.png")
        assert written.stat().st_size > 1000 and process.wait(timeout=10) == -9
    finally:
        pool.close()


def test_pools_warm_one_after_another_and_a_stopped_one_is_started_anew(monkeypatch):
    """A process's pools (by what they warm) start in turn: the second waits for the first to
    be warm, so start-up work takes one idle core, not all; a stopped pool, asked for again,
    is a new one."""
    from deepworks.core import helpers

    monkeypatch.setattr(helpers, "_shared", {})
    monkeypatch.setattr(helpers, "_idle", True)
    monkeypatch.setattr(cpus, "available_cpus", lambda: 2)
    first = helpers.shared("signal:pause", count=1)  # never warm: it waits for a signal
    second = helpers.shared(plots.WARM, count=1)
    assert first is not None and second is not None
    try:
        time.sleep(1.0)
        assert len(first._processes) == 1 and second._processes == []  # waiting its turn
        first.stop()
        second.submit(sum, [1, 2])
        second.wait()
        assert len(second._processes) == 1 and second.ready()
        assert helpers.shared(plots.WARM) is second
        again = helpers.shared("signal:pause", count=1)
        assert again is not first and not again.stopped()
        again.stop()
    finally:
        for pool in helpers._shared.values():
            pool.close()
        first.close()


def test_the_helpers_work_is_not_counted_as_a_competitors(helpers):
    """The default thread count follows the CPUs other processes leave idle: this process's
    own helpers are not others."""
    before = cpus._own_cpu_seconds()
    helpers.submit(sum, range(30_000_000))  # about a CPU-second in a helper
    helpers.wait()
    assert {p.pid for p in helpers._processes} <= cpus.helper_pids
    assert cpus._own_cpu_seconds() - before > 0.2


def test_the_executable_exits_quickly_with_the_commands_status(tmp_path):
    """`deepworks` skips the interpreter's teardown but keeps what an exit owes: its status,
    its output flushed, its exit handlers run."""
    script = tmp_path / "exit.py"
    script.write_text(
        "import atexit, sys\n"
        "from deepworks import cli\n"
        "atexit.register(lambda: print('handler ran'))\n"
        "sys.argv = ['deepworks', 'run', 'missing.yaml']\n"
        "print('before', end='')\n"
        "cli.command()\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stdout == "beforehandler ran\n"
    assert "missing.yaml" in done.stderr and "Traceback" not in done.stderr
