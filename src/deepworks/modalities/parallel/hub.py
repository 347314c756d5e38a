"""`hf-pairs`: sentence pairs from a Hugging Face dataset — a hub name (``load_dataset``, the
internet once, then its cache) or a folder written by ``save_to_disk``.

Pairs are read from two text columns, or from the ``translation`` column of dicts keyed by
language that OPUS-style datasets hold (``data.source: en``, ``data.target: fr``). A split
named ``test`` is kept as the test split; the others are pooled for training and validation.
"""

from __future__ import annotations

from pathlib import Path

from deepworks.config import DataConfig
from deepworks.core.errors import DataError, did_you_mean, require
from deepworks.core.lazy import lazy_module

pd = lazy_module("pandas")  # imported on first use: most runs read no table

TRANSLATION = "translation"  # the OPUS layout: one column of {language: sentence}


def load_hub_dataset(cfg: DataConfig) -> dict[str, pd.DataFrame]:
    """Each split as a DataFrame; any failure to load is one clear error."""
    datasets = require("datasets", "translation", "Hugging Face datasets")
    datasets.disable_progress_bars()
    if cfg.path is None:
        raise DataError(
            "data.dataset `hf-pairs` needs `data.path`: a Hugging Face dataset name "
            "(e.g. Helsinki-NLP/opus_books, with `data.subset: en-fr`) or a folder saved with "
            "save_to_disk"
        )
    name = str(cfg.path)
    try:
        if Path(name).is_dir():
            loaded = datasets.load_from_disk(name)
        else:
            loaded = datasets.load_dataset(name, cfg.subset)
    except Exception as exc:  # hub, network and format errors come as many types
        hint = "" if Path(name).exists() else " Offline? Use a folder saved with save_to_disk."
        raise DataError(
            f"cannot load Hugging Face dataset `{name}`"
            + (f" (subset `{cfg.subset}`)" if cfg.subset else "")
            + f": {str(exc).splitlines()[0][:200]}.{hint}"
        ) from None
    splits = loaded if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}
    return {split: _flat(part.to_pandas()) for split, part in splits.items()}


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """A ``translation`` column of dicts becomes a column per language."""
    if TRANSLATION not in frame.columns or not len(frame):
        return frame
    languages = pd.DataFrame(frame[TRANSLATION].tolist(), index=frame.index)
    return pd.concat([frame.drop(columns=TRANSLATION), languages], axis=1)


def pick_splits(
    splits: dict[str, pd.DataFrame], cfg: DataConfig, origin: str
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(training pool, the dataset's own test split or None), both checked for the columns."""
    test = splits.get("test")
    pool = [f for name, f in splits.items() if name != "test"]
    if not pool:
        raise DataError(f"{origin}: only a test split; deepworks needs pairs to train on")
    frame = pd.concat(pool, ignore_index=True)
    for role, column in (("source", cfg.source), ("target", cfg.target)):
        if column is None or column not in frame.columns:
            columns = [str(c) for c in frame.columns]
            hint = did_you_mean(str(column), columns) if column else ""
            raise DataError(
                f"{origin}: set `data.{role}` to one of its text columns ({', '.join(columns)})"
                + (f"; no column `{column}`.{hint}" if column else "")
            )
    return frame, test
