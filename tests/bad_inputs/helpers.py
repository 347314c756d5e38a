"""What the bad-input sweep shares: small files to spoil, and the checks every case makes."""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import CLIResult, assert_user_error


def refused(result: CLIResult, *fragments: str) -> None:
    """Exit 2, one `error:` line naming what is wrong, no traceback."""
    assert_user_error(result, *fragments)
    assert len(result.err.strip().splitlines()) == 1, result.err


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file of a folder and its hash: what a refused command must leave as it was."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def table(path: Path, n: int = 120, changes: dict | None = None) -> Path:
    """A small table: two numeric columns and a category, a price to regress, a kind to
    classify. ``changes`` spoils cells: {(row, column): value}."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "size": rng.normal(10, 2, n),
            "weight": rng.normal(5, 1, n),
            "colour": rng.choice(["red", "green", "blue"], n),
        }
    )
    frame["price"] = 3 * frame["size"] + frame["weight"] + rng.normal(0, 0.1, n)
    frame["kind"] = np.where(frame["size"] > 10, "big", "small")
    for (row, column), value in (changes or {}).items():
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
    frame.to_csv(path, index=False)
    return path


def table_config(folder: Path, data: Path, target: str = "price", extra: str = "") -> Path:
    config = folder / f"{data.stem}.yaml"
    config.write_text(
        f"data: {{dataset: csv, path: '{data}', target: {target}, batch_size: 32}}\n"
        "model: {name: mlp, hidden: [16]}\n"
        "train: {epochs: 2}\n"
        "evaluate: {baselines: false, explain: 0}\n" + extra
    )
    return config


def image_folder(root: Path, per_class: int = 12) -> Path:
    from PIL import Image

    for name, shade in (("dark", 30), ("light", 220)):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("L", (8, 8), shade + i).save(root / name / f"{i}.png")
    return root


def bomb(path: Path, side: int = 30000) -> Path:
    """A PNG whose header claims side × side pixels in a file of well under a megabyte."""
    from PIL import Image

    Image.new("1", (side, side)).save(path, optimize=True)
    return path


def wav(path: Path, seconds: float = 0.1, rate: int = 16000, tone: float = 440.0) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (np.sin(2 * np.pi * tone * t) * 20000).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(samples.tobytes())
    return path


def wav_folder(root: Path, per_class: int = 6) -> Path:
    for name, tone in (("low", 220.0), ("high", 1760.0)):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            wav(root / name / f"{i}.wav", tone=tone + 10 * i)
    return root


def texts(path: Path, n: int = 40) -> Path:
    rows = [("lovely fresh tea", "good"), ("stale bland tea", "bad")] * (n // 2)
    pd.DataFrame(rows, columns=["review", "label"]).to_csv(path, index=False)
    return path
