"""Helper processes: work handed aside while this process goes on (a run's figures are laid
out and written by them while the run scores, explains and writes its report).

A helper is a plain ``python`` child, not a fork: forking a process whose torch and OpenMP
threads are running is unsafe. It runs its ``warm`` function as it starts — while this process
is still importing torch and training, when a core is left idle — then runs jobs: a function
(pickled by its name) and its pickled arguments. Jobs go to whichever helper is free; ``wait``
returns when every job is done and raises the first one's failure with the helper's traceback.
Helpers warm one at a time, pool after pool; one that cannot start, dies or is stopped leaves
its jobs to this process, which ``wait`` then runs.
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
    module to import); the first starts once ``after`` is set (another pool's ``warmed``)."""

    def __init__(self, count: int, warm: str, after: threading.Event | None = None) -> None:
        source = str(Path(__file__).resolve().parents[2])  # where this deepworks is imported from
        paths = [source, *filter(None, [os.environ.get("PYTHONPATH")])]
        self._env = os.environ | {"PYTHONPATH": os.pathsep.join(paths)}
        self._command = [sys.executable, "-m", "deepworks.core.helpers", warm]
        self._jobs: queue.Queue[bytes | None] = queue.Queue()
        self._failures: list[str] = []
        self._orphans: list[bytes] = []  # jobs a helper that ended could not take
        self._processes: list[subprocess.Popen] = []
        self._warm = [threading.Event() for _ in range(count)]
        self._after = after
        self.warmed = self._warm[-1]  # the last helper is past warming (they warm in turn)
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

    def stopped(self) -> bool:
        return self._stopped.is_set()

    def stop(self) -> None:
        """End the helpers now: the jobs they had not finished are left to this process
        (``wait`` runs them), a job's own work half done is lost."""
        self._stopped.set()
        for process in self._processes:
            process.kill()
        for event in self._warm:  # none will warm now: a pool chained after this one goes on
            event.set()

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
        before = self._warm[index - 1] if index else self._after
        while before is not None and not before.wait(0.05) and not self._stopped.is_set():
            pass  # a stopped pool starts no helper, whatever it was waiting for
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


_shared: dict[str, Helpers] = {}  # by what they warm
_shared_lock = threading.Lock()
_idle: bool | None = None  # whether a CPU was idle when this process first asked


def shared(warm: str, count: int = MAX_HELPERS) -> Helpers | None:
    """This process's helpers that run ``warm``, started by the first call where a CPU is
    idle (judged at the process's first call: none on a busy machine or a single CPU, where
    working in this process is cheapest); None without. Each pool starts warming after the
    pools asked for before it, one helper at a time; a stopped pool is started anew."""
    global _idle
    with _shared_lock:
        if _idle is None:
            _idle = cpus.available_cpus() > 1 and cpus.idle_cpus() >= 1
        pool = _shared.get(warm)
        if _idle and (pool is None or pool.stopped()):
            before = next((p for w, p in reversed(_shared.items()) if w != warm), None)
            count = min(count, cpus.available_cpus())
            pool = _shared[warm] = Helpers(count, warm, after=before and before.warmed)
            atexit.register(pool.close)
        return pool


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
    _serve(sys.argv[1])
