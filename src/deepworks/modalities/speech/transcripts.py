"""Clips and what is said in them: a transcripts table (CSV / TSV / JSONL with a path and a
text column) or a folder holding `clip.txt` beside each `clip.wav`. Every mistake is one error
naming the file (and row) and how to fix it."""

from __future__ import annotations

from pathlib import Path

from deepworks.core.errors import DataError, did_you_mean
from deepworks.core.lazy import lazy_module
from deepworks.data.tables import TABLE_SUFFIXES, read_table
from deepworks.modalities.audio.encoder import WAV_SUFFIXES

pd = lazy_module("pandas")  # imported on first use: most runs read no table


def transcript_frame(
    frame: pd.DataFrame, origin: Path, audio: str = "path", text: str = "text"
) -> pd.DataFrame:
    """The table checked: both columns there, every transcript non-empty, every clip found.
    Paths become absolute (relative ones are relative to the table's folder); the columns are
    renamed `path` and `text`, any others kept (a speaker column for per-speaker scores)."""
    for column, role in ((audio, "data.audio"), (text, "data.transcript")):
        if column not in frame.columns:
            hint = did_you_mean(column, [str(c) for c in frame.columns])
            raise DataError(
                f"{origin}: no column `{column}` ({role}: the clips' "
                f"{'paths' if role == 'data.audio' else 'transcripts'}).{hint}"
            )
    if frame.empty:
        raise DataError(f"{origin} holds no rows; expected one clip and its transcript a row")
    texts = frame[text].fillna("").astype(str)
    empty = texts.str.strip() == ""
    if empty.any():
        row = int(empty.to_numpy().nonzero()[0][0])
        raise DataError(
            f"{origin}: the transcript in row {row + 2} (`{text}`) is empty; write what is "
            "said in the clip, or remove the row"
        )
    if frame[audio].isna().any():
        row = int(frame[audio].isna().to_numpy().nonzero()[0][0])
        raise DataError(f"{origin}: no clip path in row {row + 2} (`{audio}`)")
    paths = [Path(p) if Path(p).is_absolute() else origin.parent / p for p in frame[audio]]
    missing = [(i, p) for i, p in enumerate(paths) if not p.is_file()]
    if missing:
        row, first = missing[0]
        raise DataError(
            f"{origin}: {len(missing)} transcript(s) name no clip that exists, first row "
            f"{row + 2}: {first}. Fix the paths (relative ones are read from {origin.parent})"
        )
    out = frame.rename(columns={audio: "path", text: "text"}).reset_index(drop=True)
    out["path"], out["text"] = [str(p) for p in paths], texts.to_numpy()
    return out


def folder_transcripts(root: Path) -> pd.DataFrame:
    """A folder (searched recursively) of clips, each with `<clip>.txt` holding its words."""
    clips = sorted(p for p in root.rglob("*") if p.suffix.lower() in WAV_SUFFIXES)
    if not clips:
        raise DataError(f"{root}: no .wav clips found (searched its subfolders too)")
    rows = []
    for clip in clips:
        txt = clip.with_suffix(".txt")
        if not txt.is_file():
            raise DataError(
                f"{clip}: no transcript beside it; write what is said into {txt.name}, or give "
                "a transcripts table (path,text)"
            )
        rows.append({"path": str(clip), "text": txt.read_text(encoding="utf-8").strip()})
    return transcript_frame(pd.DataFrame(rows), root / "transcripts")


def read_transcripts(path: Path, audio: str = "path", text: str = "text") -> pd.DataFrame:
    """A transcripts table or a folder of clips with .txt transcripts, checked."""
    if not path.exists():
        raise DataError(f"{path} does not exist; give a transcripts table or a folder of clips")
    if path.is_dir():
        return folder_transcripts(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(
            f"{path}: expected a transcripts table ({', '.join(sorted(TABLE_SUFFIXES))}) with "
            "columns path,text, or a folder of clips with .txt transcripts"
        )
    return transcript_frame(read_table(path), path, audio, text)
