"""Where data comes from: built-in datasets and the user's own files, by registered name.

Each kind of data (``modalities/<kind>/``) registers its built-in datasets and the sources that
read a user's files into its ``Source``; ``bundle.build_bundle`` then splits a source and fits
its encoder. A table file (CSV, Parquet, JSON lines) is read once here and handed to the kind
of data whose column roles the config names (`data.text`, `data.audio`, `data.ratings`,
`data.series.layout`), or read as a plain table.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from deepworks.config import DataConfig
from deepworks.core.errors import DataError
from deepworks.core.lazy import lazy_module
from deepworks.core.registry import Registry
from deepworks.data.tables import need_path, read_table

pd = lazy_module("pandas")  # imported on first use: most runs read no table


class Source:
    """Raw data of one kind, before splitting. ``modality`` picks the bundle builder;
    ``natural_task`` is the task `task: auto` means for it (None: inferred from the target)."""

    modality: ClassVar[str] = ""
    natural_task: ClassVar[str | None] = None
    origin: str


DATASETS: Registry[Callable[[DataConfig], Source]] = Registry(
    "dataset", DataError, plugins="deepworks.datasets"
)


def register_dataset(
    name: str,
    task: str | None,
    modality: str,
    help: str = "",
    builtin: bool = True,
    make: Callable[[], str] | None = None,
):
    """Register a data source. ``task`` is its natural task (None: inferred from the data);
    ``builtin`` sources ship their data, the others read the user's files (`data.path`);
    ``make()`` synthesizes a built-in made rather than shipped, and says what it made."""
    return DATASETS.register(
        name, help=help, task=task, modality=modality, builtin=builtin, make=make
    )


def data_home() -> Path:
    """Where data made on this machine lives: $DEEPWORKS_DATA, or ~/.cache/deepworks."""
    return Path(os.environ.get("DEEPWORKS_DATA", Path.home() / ".cache" / "deepworks"))


@dataclass
class TableSource(Source):
    """A table with a target column (and, for a forecast, a natural season)."""

    modality: ClassVar[str] = "table"
    frame: pd.DataFrame
    target: str
    origin: str
    season: int | None = None  # a series' natural season (12 for monthly data)


# A kind of data that reads a table file when the config names its columns: (claims(cfg),
# make(frame, cfg, origin path)); the first that claims the config reads the table.
TableReader = Callable[["pd.DataFrame", DataConfig, Any], Source]
TABLE_READERS: list[tuple[Callable[[DataConfig], bool], TableReader]] = []


def reads_tables(claims: Callable[[DataConfig], bool]):
    """Register ``make(frame, cfg, path)`` for the table files whose config ``claims``."""

    def decorator(make: TableReader) -> TableReader:
        TABLE_READERS.append((claims, make))
        return make

    return decorator


def table_file(cfg: DataConfig) -> Source:
    """A CSV, Parquet or JSON-lines table, read as the kind of data its config names."""
    from deepworks.data.tables import need_target

    path = need_path(cfg, "table file")
    frame = read_table(path)
    for claims, make in TABLE_READERS:
        if claims(cfg):
            return make(frame, cfg, path)
    return TableSource(frame, need_target(cfg, frame, str(path)), str(path))


for _name, _help in [
    ("csv", "your CSV file: data.path, data.target [, data.text or data.source]"),
    ("tsv", "your tab-separated file: data.path, data.target [, data.text or data.source]"),
    ("parquet", "your Parquet file: data.path, data.target"),
    ("jsonl", "your JSON-lines file: data.path, data.target [, data.text or data.source]"),
]:
    register_dataset(_name, None, "table/text", _help, builtin=False)(table_file)
