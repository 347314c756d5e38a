"""What each column of a table is, before it is encoded: a feature, free text, an ID, a date,
or dropped.

`data.columns` says it where the user knows (`{date: date, customer: id, notes: drop, zip:
categorical}`); otherwise it is detected on the training split: text that parses as dates is a
date, text of several words a cell that differs from row to row is free text, other text unique
in every row (or an integer column named like an id and unique) is an ID.
Dates become calendar features — year, month, day, day of week, day of year, and month and day
of week on a circle — which the numeric pipeline then scales; IDs and dropped columns never
reach the model. Every decision is kept in the encoder and said by the audit.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from deepworks.core.errors import DataError, did_you_mean
from deepworks.core.lazy import lazy_module
from deepworks.data.tables import looks_numeric

pd = lazy_module("pandas")  # imported on first use: most runs read no table

DATE_PARTS = (
    "year",
    "month",
    "day",
    "dayofweek",
    "dayofyear",
    "month_sin",
    "month_cos",
    "dayofweek_sin",
    "dayofweek_cos",
)
_MIN_ID_ROWS = 20  # fewer rows than this are too few to call a unique column an ID
_DATE_SHARE = 0.95  # of non-empty cells that must parse for a text column to be a date
_TEXT_WORDS = 4  # words in a typical cell of a column read as free text
_DATEISH = re.compile(r"\d{1,4}[-/.:]\d{1,2}")  # a date or a time has digits and a separator


def check_roles(roles: dict[str, str], columns: list[str], origin: str) -> None:
    for column in roles:
        if column not in columns:
            hint = did_you_mean(column, columns)
            raise DataError(f"{origin}: `data.columns` names `{column}`, not a column.{hint}")


def parse_dates(series: pd.Series) -> pd.Series:
    """Dates of a column (NaT where a cell is empty or not a date)."""
    with warnings.catch_warnings():  # "could not infer format": it falls back, cell by cell
        warnings.simplefilter("ignore")
        return pd.to_datetime(series, errors="coerce", format="mixed")


def looks_like_date(series: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    if looks_numeric(series):  # numbers with a stray word are numbers ("10.5" is no date)
        return False
    values = series.dropna().astype(str).head(500)
    if values.empty or not values.str.contains(_DATEISH).mean() >= _DATE_SHARE:
        return False
    return parse_dates(values).notna().mean() >= _DATE_SHARE


def looks_like_text(series: pd.Series) -> bool:
    """Free text (a description, a review): words, several of them in a typical cell, and
    mostly different from row to row: neither a category nor an ID."""
    if looks_numeric(series):
        return False
    values = series.dropna().astype(str).head(500)
    if len(values) < _MIN_ID_ROWS or values.nunique() < 0.5 * len(values):
        return False
    return float(values.str.count(r"\w+").mean()) >= _TEXT_WORDS


def looks_like_id(series: pd.Series, name: str) -> bool:
    """Unique in every row: text (a name, a code), or integers in a column named like an id."""
    values = series.dropna()
    if len(values) < _MIN_ID_ROWS or values.nunique() != len(series):
        return False
    if looks_numeric(series):  # numbers are measurements, unless integers named like an id
        named = re.search(r"(^|_|\b)id$|Id$|ID$|^rownames$|^index$|^Unnamed: 0$", name)
        return bool(named) and pd.api.types.is_integer_dtype(series)
    return True


def date_parts(frame: pd.DataFrame, dates: list[str]) -> pd.DataFrame:
    """``frame`` with each date column replaced by its calendar features."""
    if not dates:
        return frame
    out = frame.drop(columns=dates)
    for column in dates:
        when = parse_dates(frame[column])
        month, weekday = when.dt.month, when.dt.day_of_week
        parts = {
            "year": when.dt.year,
            "month": month,
            "day": when.dt.day,
            "dayofweek": weekday,
            "dayofyear": when.dt.day_of_year,
            "month_sin": np.sin(2 * np.pi * (month - 1) / 12),
            "month_cos": np.cos(2 * np.pi * (month - 1) / 12),
            "dayofweek_sin": np.sin(2 * np.pi * weekday / 7),
            "dayofweek_cos": np.cos(2 * np.pi * weekday / 7),
        }
        for part in DATE_PARTS:
            out[f"{column}.{part}"] = parts[part].astype("float64")
    return out


def assign_roles(
    frame: pd.DataFrame, roles: dict[str, str], origin: str
) -> tuple[dict[str, str], list[str], list[str]]:
    """(columns that are not features → why: "id" / "drop"; date columns; free-text columns),
    from what the user said and what the training split looks like."""
    check_roles(roles, [str(c) for c in frame.columns], origin)
    ignored: dict[str, str] = {}
    dates: list[str] = []
    texts: list[str] = []
    for column in frame.columns:
        name, role = str(column), roles.get(str(column))
        if role in ("id", "drop"):
            ignored[name] = role
        elif role == "date" or (role is None and looks_like_date(frame[column])):
            if role == "date" and parse_dates(frame[column]).notna().mean() < 0.5:
                raise DataError(
                    f"{origin}: `data.columns` says `{name}` is a date, but most of its cells "
                    f"do not read as dates (e.g. {frame[column].dropna().iloc[0]!r})"
                )
            dates.append(name)
        elif role == "text" or (role is None and looks_like_text(frame[column])):
            texts.append(name)
        elif role is None and looks_like_id(frame[column], name):
            ignored[name] = "id"
    return ignored, dates, texts
