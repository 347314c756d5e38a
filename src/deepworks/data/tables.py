"""Reading tables and their columns: what every table-shaped kind of data shares.

Every way a table file or a column can fail is a DataError naming the file, the column and,
where it helps, the row and the closest column name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepworks.config import DataConfig
from deepworks.core.errors import DataError, did_you_mean, require
from deepworks.core.lazy import lazy_module

pd = lazy_module("pandas")  # imported on first use: most runs read no table

# An object column is meant to be numeric when most of its values parse as numbers.
_NUMERIC_SHARE = 0.8


TABLE_SUFFIXES = {".csv", ".tsv", ".txt", ".parquet", ".pq", ".jsonl", ".ndjson"}


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; every way it can fail is a DataError naming the file."""
    if not path.exists():
        raise DataError(f"{path} does not exist; expected a .csv or .parquet file")
    if path.is_dir():
        raise DataError(f"{path} is a folder; expected a .csv or .parquet file")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty; expected a table with a header row")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(
            f"{path}: deepworks reads tables from {', '.join(sorted(TABLE_SUFFIXES))} files; "
            "save it as one of those (a spreadsheet: as CSV, UTF-8)"
        )
    try:
        if suffix in {".parquet", ".pq"}:
            require("pyarrow", "parquet", "reading Parquet files")
            frame = pd.read_parquet(path)
        elif suffix in {".jsonl", ".ndjson"}:
            frame = pd.read_json(path, lines=True)
        else:
            _refuse_duplicate_header(path)
            tabs = suffix == ".tsv"  # tab-separated: quotes are text (csv.QUOTE_NONE)
            frame = pd.read_csv(path, sep="\t" if tabs else ",", quoting=3 if tabs else 0)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} has no columns; expected a table with a header row") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path} is not a well-formed CSV: {exc}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; re-save it as UTF-8") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} cannot be read as a table: {exc}") from None
    if frame.empty:
        raise DataError(f"{path} has a header but no rows")
    return frame


def _refuse_duplicate_header(path: Path) -> None:
    """Two columns of one name: pandas would rename the second `name.1` without a word."""
    import csv

    try:
        with path.open(newline="", encoding="utf-8") as f:
            tabs = path.suffix.lower() == ".tsv"
            header = next(csv.reader(f, delimiter="\t" if tabs else ","), [])
    except (UnicodeDecodeError, csv.Error):
        return  # read_csv says what is wrong with it
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataError(f"{path}: two columns are named `{name}`; rename one")
        seen.add(name)


def need_path(cfg: DataConfig, what: str) -> Path:
    """``data.path``, which must exist; ``what`` says what it should be."""
    if cfg.path is None:
        raise DataError(f"data.dataset `{cfg.dataset}` needs `data.path`: the {what} to read")
    path = Path(cfg.path)
    if not path.exists():
        raise DataError(f"{path} does not exist; set `data.path` to your {what}")
    return path


def need_column(
    frame: pd.DataFrame, column: str, origin: str, role: str = "", fix: str = ""
) -> str:
    """``column`` if ``frame`` has it; else an error with the closest name and the columns."""
    if column not in frame.columns:
        columns = [str(c) for c in frame.columns]
        what = f"{role} column" if role else "column"
        raise DataError(
            f"{origin}: no {what} `{column}`.{did_you_mean(column, columns)} "
            f"Columns: {', '.join(columns)}." + (f" {fix}" if fix else "")
        )
    return column


def need_target(cfg: DataConfig, frame: pd.DataFrame, origin: str) -> str:
    if cfg.target is None:
        columns = ", ".join(str(c) for c in frame.columns)
        raise DataError(
            f"{origin}: set `data.target` to the column to predict (columns: {columns})"
        )
    return need_column(frame, cfg.target, origin, "target")


def numeric_column(frame: pd.DataFrame, column: str, origin: str) -> pd.Series:
    """The column as floats (empty cells NaN); a stray text value or an infinite number in a
    numeric column is an error naming it."""
    series = frame[column]
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        parsed = series.astype(float)
    else:
        parsed = pd.to_numeric(series, errors="coerce").astype(float)
        bad = parsed.isna() & series.notna() & (series.astype(str).str.strip() != "")
        if bad.any():
            first = series.index[bad.to_numpy()][0]  # the file's own row, not a split's position
            raise DataError(
                f"{origin}: column `{column}` is numeric but row {row_number(first)} holds "
                f"{series.loc[first]!r}. Fix the value, or leave the cell empty for a missing "
                "value."
            )
    infinite = np.isinf(parsed.to_numpy())
    if infinite.any():
        first = series.index[infinite][0]
        raise DataError(
            f"{origin}: column `{column}` row {row_number(first)} holds {series.loc[first]!r}, "
            "which is infinite. Give a finite number, or leave the cell empty for a missing value."
        )
    return parsed


def row_number(label: object) -> str:
    """A 1-based data row number (the header is not counted) for a default RangeIndex."""
    return str(label + 1) if isinstance(label, int | np.integer) else repr(label)


def looks_numeric(series: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return True
    values = series.dropna().astype(str).str.strip()
    values = values[values != ""]
    if values.empty:
        return True
    return pd.to_numeric(values, errors="coerce").notna().mean() >= _NUMERIC_SHARE


def origin_of(inputs: object) -> str:
    """How messages name the inputs: the file's path, or "input"."""
    return str(inputs) if isinstance(inputs, str | Path) else "input"


def frame_of(inputs: object, columns: list[str]) -> pd.DataFrame:
    """Rows as a DataFrame: a DataFrame, a table file, or a 2-d array of ``columns``."""
    if isinstance(inputs, pd.DataFrame):
        return inputs
    if isinstance(inputs, str | Path):
        return read_table(Path(inputs))
    array = np.asarray(inputs)
    if array.ndim != 2 or array.shape[1] != len(columns):
        raise DataError(
            f"an array of shape {array.shape} given; this model takes rows of "
            f"{len(columns)} columns ({', '.join(columns)}) — or pass a DataFrame or CSV"
        )
    return pd.DataFrame(array, columns=columns)
