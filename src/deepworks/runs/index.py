"""A SQLite index of all runs under one runs directory, for `deepworks runs`.

Each run's own ``run.json`` is the source of truth; the index is a fast listing that
``rebuild`` can always recreate from the folders.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

COLUMNS = ("id", "created", "status", "task", "dataset", "model", "metric", "value", "path")
INDEX_FILE = "index.sqlite"


class RunIndex:
    def __init__(self, runs_dir: Path) -> None:
        self.path = Path(runs_dir) / INDEX_FILE

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        con.execute(
            "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, created TEXT, status TEXT, "
            "task TEXT, dataset TEXT, model TEXT, metric TEXT, value REAL, path TEXT)"
        )
        return con

    def upsert(self, record: dict[str, Any]) -> None:
        try:
            self._upsert(record)
        except sqlite3.DatabaseError:  # a damaged index: the folders are the truth
            self.rebuild()
            self._upsert(record)

    def _upsert(self, record: dict[str, Any]) -> None:
        row = tuple(record.get(c) for c in COLUMNS)
        with closing(self._connect()) as con, con:
            con.execute(
                f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in COLUMNS)})",
                row,
            )

    def all(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            self.rebuild()  # runs copied without their index, or an index deleted
            if not self.path.exists():
                return []
        try:
            return self._rows()
        except sqlite3.DatabaseError:  # a damaged index: rebuilt from the folders
            self.rebuild()
            return self._rows()

    def _rows(self) -> list[dict[str, Any]]:
        with closing(self._connect()) as con:
            rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM runs ORDER BY created").fetchall()
        return [dict(zip(COLUMNS, r, strict=True)) for r in rows]

    def rebuild(self) -> None:
        """A fresh index from every run folder's run.json (after copying runs between
        machines, or when the index is damaged); a damaged run.json is listed by its folder
        alone, so one bad run never hides the others."""
        self.path.unlink(missing_ok=True)
        for run_json in sorted(self.path.parent.glob("*/run.json")):
            folder = run_json.parent
            try:
                info = json.loads(run_json.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                info = {"id": folder.name, "status": "damaged"}
            self._upsert({**info, "id": info.get("id", folder.name), "path": str(folder.resolve())})
