"""One run = one self-contained folder. Everything in it is data (YAML, JSON, safetensors).

<runs-dir>/<run-id>/
    config.yaml       the resolved experiment
    run.json          id, status, task, data, model, main metric
    model.json        how to rebuild the model: name, parameters, data schema
    model.safetensors the final weights
    metrics.jsonl     one line per epoch
    metrics.json      {"valid": {...}, "test": {...}}
    checkpoints/      last.pt (+ last.json) for resume
    *.png             learning curves, confusion matrix
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from deepworks.core.errors import RunError, did_you_mean
from deepworks.runs.index import RunIndex
from deepworks.train.checkpoint import write_json, write_text

LOCK = ".lock"  # held by the process writing the folder


class RunFolder:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # the files
    config = property(lambda self: self.path / "config.yaml")
    run_json = property(lambda self: self.path / "run.json")
    model_json = property(lambda self: self.path / "model.json")
    weights = property(lambda self: self.path / "model.safetensors")
    metrics_jsonl = property(lambda self: self.path / "metrics.jsonl")
    metrics_json = property(lambda self: self.path / "metrics.json")
    checkpoints = property(lambda self: self.path / "checkpoints")

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def runs_dir(self) -> Path:
        return self.path.parent

    @classmethod
    def create(cls, runs_dir: Path, name: str) -> RunFolder:
        runs_dir = Path(runs_dir)
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
            (runs_dir / ".write-test").touch()
            (runs_dir / ".write-test").unlink()
        except OSError as exc:
            raise RunError(
                f"cannot write run folders in {runs_dir} ({exc.strerror}); give a writable "
                "folder with --runs-dir"
            ) from None
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
        for n in range(1000):
            path = runs_dir / (f"{stamp}-{safe}" + (f"-{n}" if n else ""))
            try:
                path.mkdir()
                return cls(path)
            except FileExistsError:
                continue
        raise RunError(f"cannot create a run folder in {runs_dir}")

    @classmethod
    def open(cls, ref: str | Path, runs_dir: Path | str = "runs") -> RunFolder:
        """A run by folder path, or under ``runs_dir`` by id, unique id prefix, or name (the
        newest run of exactly that name; never a run whose name merely ends with it)."""
        path = Path(ref)
        if (path / "run.json").is_file():
            return cls(path)
        runs_dir = Path(runs_dir)
        known = sorted(p for p in runs_dir.glob("*") if (p / "run.json").is_file())
        matches = [p for p in known if p.name.startswith(str(ref))]
        names = {} if matches else {p: cls(p).name for p in known}  # read once, when needed
        if not matches:  # a run's name: its newest run (ids start with their timestamp)
            matches = [p for p in known if names[p] == str(ref)][-1:]
        if len(matches) > 1:
            names = ", ".join(p.name for p in matches[:5])
            raise RunError(f"`{ref}` matches several runs ({names}); give more of the id")
        if not matches:
            choices = [p.name for p in known] + sorted(set(names.values()))
            hint = did_you_mean(str(ref), choices)
            raise RunError(
                f"no run `{ref}` (not a run folder, nor a run id or name in {runs_dir}).{hint} "
                "List runs with `deepworks runs`."
            )
        return cls(matches[0])

    @property
    def name(self) -> str:
        """The run's name: what its config called it (its id without the timestamp)."""
        stamp = re.match(r"\d{8}-\d{6}-", self.id)
        default = self.id[stamp.end() :] if stamp else self.id
        try:
            return str(json.loads(self.run_json.read_text(encoding="utf-8")).get("name", default))
        except (OSError, ValueError):
            return default

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's lock while writing it (run, resume, export): a second writer gets
        a clear error naming the holder. The lock dies with its process, so a killed run
        leaves none behind."""
        path = self.path / LOCK
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held until released
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunError(
                f"run {self.id} is being written by process {holder} (a run, resume or export "
                "in progress); wait for it to finish, or stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    # reading and writing
    def read_json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(
                f"run {self.path} has no {path.name}; it may not have finished"
            ) from None
        except (ValueError, UnicodeDecodeError):
            raise RunError(
                f"{path} is damaged (not JSON); the run cannot be read. Restore the file from "
                "a copy, or remove the run folder"
            ) from None

    def info(self) -> dict[str, Any]:
        info = self.read_json(self.run_json)
        if info.get("status") == "running" and not _alive(info.get("pid")):
            info["status"] = "killed"
        return info

    def update_info(self, **fields: Any) -> dict[str, Any]:
        info = self.read_json(self.run_json) if self.run_json.exists() else {}
        info.update(fields)
        write_json(self.run_json, info)
        RunIndex(self.runs_dir).upsert(info)
        return info

    def write_config(self, config: dict[str, Any]) -> None:
        write_text(self.config, yaml.safe_dump(config, sort_keys=False))

    def append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.metrics_jsonl, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def rewrite_metrics(self, records: list[dict[str, Any]]) -> None:
        write_text(self.metrics_jsonl, "".join(json.dumps(r) + "\n" for r in records))

    def history(self) -> list[dict[str, Any]]:
        if not self.metrics_jsonl.exists():
            return []
        lines = self.metrics_jsonl.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
