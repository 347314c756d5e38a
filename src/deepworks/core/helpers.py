"""Helper processes: work handed aside while this process goes on (a run's figures are laid
out and written by them while the run scores, explains and writes its report).

A helper is a plain ``python`` child, not a fork: forking a process whose torch and OpenMP
threads are running is unsafe. It runs its ``warm`` function as it starts — while this process
is still importing torch and training, when a core is left idle — then runs jobs: a function
(pickled by its name) and its pickled arguments. Jobs go to whichever helper is free; ``wait``
returns when every job is done and raises the first one's failure with the helper's traceback.
Helpers warm one at a time; one that cannot start, dies or is stopped leaves its jobs to this
process, which ``wait`` then runs. A ``nice`` helper takes only the CPU time others leave idle
(a run's baselines fit beside its training).
Standard library only, so they can start before anything heavy is imported.
"""

from __future__ import annotations

import atexit
import contextlib
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
from deepworks.core.garbage import collect_oldest_rarely

MAX_HELPERS = 2  # a run draws a handful of figures; more processes would only cost start-up


class Helpers:
    """``count`` helper processes, each running ``warm`` first ("module:function", or a
    module to import), at the scheduling priority ``nice`` (19: only what is idle)."""

    def __init__(self, count: int, warm: str, nice: int = 0) -> None:
        source = str(Path(__file__).resolve().parents[2])  # where this deepworks is imported from
        paths = [source, *filter(None, [os.environ.get("PYTHONPATH")])]
        self._env = os.environ | {"PYTHONPATH": os.pathsep.join(paths)}
        self._command = [sys.executable, "-m", "deepworks.core.helpers", warm, str(nice)]
        self._jobs: queue.Queue[bytes | None] = queue.Queue()
        self._failures: list[str] = []
        self._orphans: list[bytes] = []  # jobs a helper that ended could not take
        self._processes: list[subprocess.Popen] = []
        self._warm = [threading.Event() for _ in range(count)]
        self._stopped = threading.Event()
        self._feeders = [
            threading.Thread(target=self._feed, args=(i,), daemon=True, name="helper")
            for i in range(count)
        ]
        for feeder in self._feeders:
            feeder.start()

    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``function(*args, **kwargs)`` in a free helper. The arguments are pickled now,
        so the caller may change or close them as soon as this returns."""
        job = pickle.dumps((function, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        self._jobs.put(job)

    def wait(self) -> None:
        """Return once every job submitted is done; raise if one failed."""
        self._jobs.join()
        while self._orphans:  # here, as the function itself (not a wrapper that hands it on)
            function, args, kwargs = pickle.loads(self._orphans.pop(0))
            getattr(function, "__wrapped__", function)(*args, **kwargs)
        if self._failures:
            first = self._failures[0]
            self._failures.clear()  # told once, not again at the next wait
            raise RuntimeError(f"a helper process failed:\n{first}")

    def ready(self) -> bool:
        """Whether every helper is past warming (or could not start)."""
        return all(event.is_set() for event in self._warm)

    def stop(self) -> None:
        """End the helpers now: the jobs they had not finished are left to this process
        (``wait`` runs them), a job's own work half done is lost."""
        self._stopped.set()
        for process in self._processes:
            process.kill()

    def close(self) -> None:
        for _ in self._feeders:
            self._jobs.put(None)
        for feeder in self._feeders:
            feeder.join()
        for process in self._processes:
            process.wait()

    def _feed(self, index: int) -> None:
        """One helper's side of the queue: start it once the one before is warm (warming one
        at a time leaves this process a core of its own), then send it a job, wait for its
        answer, repeat."""
        if index:
            self._warm[index - 1].wait()
        process = None
        if not self._stopped.is_set():
            process = subprocess.Popen(
                self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self._env
            )
            self._processes.append(process)
            cpus.helper_pids.add(process.pid)
            if self._stopped.is_set():  # stopped while it was starting
                process.kill()
            with contextlib.suppress(EOFError):  # one that could not start leaves its jobs here
                _receive(process.stdout)  # it is warm
        self._warm[index].set()
        for job in iter(self._jobs.get, None):
            try:
                if process is None or self._stopped.is_set():
                    raise EOFError
                _send(process.stdin, job)
                answer = _receive(process.stdout).decode()
            except (OSError, EOFError):  # it ended: the job is left to this process
                self._orphans.append(job)
                answer = ""
            if answer:
                self._failures.append(answer)
            self._jobs.task_done()
        if process is not None:
            with contextlib.suppress(OSError):  # one that ended already: nothing to tell it
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


def _serve(warm: str, nice: int) -> None:
    """A helper's life: run ``warm``, then jobs until the input ends. The answer to each job
    is empty, or the traceback of its failure."""
    import importlib
    import traceback

    os.nice(nice)  # before anything: its threads (OpenMP's, joblib's) inherit it
    collect_oldest_rarely()
    answers = os.fdopen(os.dup(1), "wb")  # the answers' own pipe; a stray print goes to stderr
    os.dup2(2, 1)
    module, _, function = warm.partition(":")
    loaded = importlib.import_module(module)
    if function:
        getattr(loaded, function)()
    _send(answers, b"")  # warm
    while True:
        try:
            job = _receive(sys.stdin.buffer)
        except EOFError:
            os._exit(0)  # nothing to tidy: skip the interpreter's teardown
        try:
            function, args, kwargs = pickle.loads(job)
            function(*args, **kwargs)
            answer = ""
        except Exception:
            answer = traceback.format_exc()
        _send(answers, answer.encode())


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
