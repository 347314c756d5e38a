"""Class folders: one subfolder per class, holding that class's files (images, WAVs, texts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepworks.core.errors import DataError
from deepworks.data.splits import natural_key


def class_folders(
    root: Path, suffixes: set[str], what: str, order=natural_key
) -> tuple[list[Path], np.ndarray, list[str]]:
    """The files with ``suffixes`` in each class subfolder of ``root``: (paths, labels,
    classes); fewer than two classes or an empty class folder is an error naming it."""
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; expected one subfolder of {what} per class")
    classes = sorted(
        (p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=order
    )
    if len(classes) < 2:
        raise DataError(f"{root}: found {len(classes)} class subfolder(s); need at least 2")
    paths: list[Path] = []
    labels: list[int] = []
    for i, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in suffixes)
        if not files:
            raise DataError(
                f"{root / name}: class folder has no {what} ({', '.join(sorted(suffixes))}); "
                "add some or remove the folder"
            )
        paths += files
        labels += [i] * len(files)
    return paths, np.asarray(labels), classes


def file_paths(inputs: object, suffixes: set[str], kind: str) -> list[Path] | None:
    """Files from a path (a file, or a folder searched for ``suffixes``) or a list of paths;
    None when ``inputs`` is neither."""
    if isinstance(inputs, str | Path):
        path = Path(inputs)
        if not path.exists():
            raise DataError(f"{path} does not exist")
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes)
            if not files:
                raise DataError(f"{path}: no {kind} files ({', '.join(sorted(suffixes))})")
            return files
        return [path]
    if isinstance(inputs, list | tuple) and inputs and isinstance(inputs[0], str | Path):
        return [Path(p) for p in inputs]
    return None


def batched(items: list, size: int, encode) -> object:
    """``encode`` applied to consecutive chunks of ``items`` (a generator of batches)."""
    for start in range(0, len(items), size):
        yield encode(items[start : start + size])
