"""Helper processes: work handed aside while this process goes on (a run's figures are laid
out and written by them while the run scores, explains and writes its report).

A helper is a plain ``python`` child, not a fork: forking a process whose torch and OpenMP
threads are running is unsafe. It runs its ``warm`` function as it starts — while this process
is still importing torch and training, when a core is left idle — then runs jobs: a function
(pickled by its name) and its pickled arguments. Jobs go to whichever helper is free; ``wait``
returns when every job is done and raises the first one's failure with the helper's traceback.
Standard library only, so they can start before anything heavy is imported.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepworks.core import cpus

MAX_HELPERS = 2  # a run draws a handful of figures; more processes would only cost start-up


class Helpers:
    """``count`` helper processes, each running ``warm`` first ("module:function", or a
    module to import)."""

    def __init__(self, count: int, warm: str) -> None:
        source = str(Path(__file__).resolve().parents[2])  # where this deepworks is imported from
        paths = [source, *filter(None, [os.environ.get("PYTHONPATH")])]
        env = os.environ | {"PYTHONPATH": os.pathsep.join(paths)}
        command = [sys.executable, "-m", "deepworks.core.helpers", warm]
        self._jobs: queue.Queue[bytes | None] = queue.Queue()
        self._failures: list[str] = []
        self._processes = [
            subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            for _ in range(count)
        ]
        self._feeders = [
            threading.Thread(target=self._feed, args=(p,), daemon=True, name="helper")
            for p in self._processes
        ]
        for feeder in self._feeders:
            feeder.start()
        cpus.helper_pids.update(p.pid for p in self._processes)

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` in a free helper. The arguments are pickled now, so the
        caller may change or close them as soon as this returns."""
        self._jobs.put(pickle.dumps((function, args), protocol=pickle.HIGHEST_PROTOCOL))

    def wait(self) -> None:
        """Return once every job submitted is done; raise if one failed."""
        self._jobs.join()
        if self._failures:
            failures, self._failures[:] = list(self._failures), []
            raise RuntimeError(f"a helper process failed:\n{failures[0]}")

    def close(self) -> None:
        for _ in self._feeders:
            self._jobs.put(None)
        for process in self._processes:
            process.wait()

    def _feed(self, process: subprocess.Popen) -> None:
        """One helper's side of the queue: send it a job, wait for its answer, repeat."""
        for job in iter(self._jobs.get, None):
            try:
                _send(process.stdin, job)
                answer = _receive(process.stdout).decode()
            except (OSError, EOFError):
                answer = f"helper process {process.pid} ended (exit status {process.poll()})"
            if answer:
                self._failures.append(answer)
            self._jobs.task_done()
        if process.stdin:
            process.stdin.close()  # the helper ends at the end of its input
        self._jobs.task_done()


_shared: Helpers | None = None
_shared_lock = threading.Lock()


def shared(warm: str) -> Helpers | None:
    """This process's helpers, started by the first call where a CPU is idle (none on a busy
    machine or a single CPU: there, working in this process is cheapest); None without."""
    global _shared
    with _shared_lock:
        if _shared is None and cpus.available_cpus() > 1 and cpus.idle_cpus() >= 1:
            _shared = Helpers(min(MAX_HELPERS, cpus.available_cpus()), warm)
            atexit.register(_shared.close)
        return _shared


def _send(pipe: Any, data: bytes) -> None:
    pipe.write(len(data).to_bytes(8, "little") + data)
    pipe.flush()


def _receive(pipe: Any) -> bytes:
    head = pipe.read(8)
    if len(head) < 8:
        raise EOFError
    return pipe.read(int.from_bytes(head, "little"))


def _serve(warm: str) -> None:
    """A helper's life: run ``warm``, then jobs until the input ends. The answer to each job
    is empty, or the traceback of its failure."""
    import importlib
    import traceback

    answers = os.fdopen(os.dup(1), "wb")  # the answers' own pipe; a stray print goes to stderr
    os.dup2(2, 1)
    module, _, function = warm.partition(":")
    loaded = importlib.import_module(module)
    if function:
        getattr(loaded, function)()
    while True:
        try:
            job = _receive(sys.stdin.buffer)
        except EOFError:
            os._exit(0)  # nothing to tidy: skip the interpreter's teardown
        try:
            function, args = pickle.loads(job)
            function(*args)
            answer = ""
        except Exception:
            answer = traceback.format_exc()
        _send(answers, answer.encode())


if __name__ == "__main__":
    _serve(sys.argv[1])
