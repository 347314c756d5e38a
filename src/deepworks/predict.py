"""Reload a finished run and use it: predict on new data, evaluate on new labelled data.

Loading reads JSON and safetensors only; nothing from the run folder is unpickled or executed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_model

from deepworks.core.errors import DataError, RunError
from deepworks.core.schema import Schema
from deepworks.data.audio import WAV_SUFFIXES, AudioEncoder, class_folders
from deepworks.data.datasets import TensorData
from deepworks.data.encoders import ImageEncoder, TableEncoder, encoder_from_dict
from deepworks.data.ratings import RatingsEncoder
from deepworks.data.series import SeriesEncoder, SeriesSetEncoder
from deepworks.data.sources import IMAGE_SUFFIXES, read_table
from deepworks.data.text import TextEncoder, check_texts, chunk_texts
from deepworks.metrics.evaluator import evaluate
from deepworks.models import build_model
from deepworks.runs.folder import RunFolder
from deepworks.tasks import Task, get_task
from deepworks.train.trainer import make_loader

Inputs = pd.DataFrame | np.ndarray | torch.Tensor | str | Path | Sequence[str | Path]


class Run:
    """A trained model with its data schema: ``predict`` takes raw inputs as the data came."""

    def __init__(self, folder: RunFolder, model: torch.nn.Module, schema: Schema) -> None:
        self.folder, self.model, self.schema = folder, model.eval(), schema
        self.task: Task = get_task(schema)
        self.encoder = encoder_from_dict(schema.encoder)
        self.batch_size = 256

    @property
    def path(self) -> Path:
        return self.folder.path

    @cached_property  # read once: predict consults it (temperature, thresholds) every call
    def metrics(self) -> dict[str, Any]:
        return self.folder.read_json(self.folder.metrics_json)

    @property
    def info(self) -> dict[str, Any]:
        return self.folder.info()

    @property
    def audit(self) -> list[dict[str, str]]:
        """What the data audit found before training (check, severity, message)."""
        return self.folder.read_json(self.folder.path / "audit.json")["findings"]

    @property
    def leaderboard(self) -> pd.DataFrame:
        """The deep model and the baselines trained on the same split, best first."""
        board = self.folder.read_json(self.folder.path / "leaderboard.json")
        return pd.DataFrame(board["rows"])

    def history(self) -> list[dict[str, Any]]:
        return self.folder.history()

    # ------------------------------------------------------------------------- predict
    def predict(self, inputs: Inputs) -> pd.DataFrame:
        """One row per input: the prediction, and for classifiers one probability per class.

        >>> run = deepworks.load("runs/my-run")  # doctest: +SKIP
        >>> run.predict(pd.read_csv("new_rows.csv"))  # doctest: +SKIP
        """
        if self.task.generates:
            raise RunError(
                f"run {self.folder.id} is a {self.schema.task} model: it generates "
                f"{self.task.generates} (`deepworks generate {self.folder.id}`) rather than "
                "predicting"
            )
        ids, batches = self._encode(inputs)
        parts = [self._forward(x) for x in batches]
        out = {k: torch.cat([p[k] for p in parts]) for k in parts[0]} if parts else {}
        return self.task.prediction_frame(ids, out, self.metrics)

    def embed(self, inputs: Inputs) -> pd.DataFrame:
        """The learned code of each input: an autoencoder's code, or a pretrained model's
        features (what its head sees). Columns code_0, code_1, ..."""
        if "embeds" in self.task.tags:
            embed = lambda x: self.task.codes(self.model, x)  # noqa: E731
        elif "embeds" in self.model.tags:
            embed = self.model.pooled_features
        else:
            raise RunError(
                f"run {self.folder.id} is a {self.schema.task} model; autoencoder runs and "
                "pretrained models (bert, resnet18, efficientnet_lite0, ...) embed their inputs"
            )
        ids, batches = self._encode(inputs)
        codes = torch.cat([embed(x) for x in batches]).numpy()
        frame = pd.DataFrame(codes, columns=[f"code_{i}" for i in range(codes.shape[1])])
        frame.insert(0, "input", ids)
        return frame

    # ------------------------------------------------------------------------- explain
    def explain(
        self,
        inputs: Inputs,
        methods: list[str] | None = None,
        target: str | None = None,
        batch_size: int = 16,
    ):
        """Why the model decided as it did: Captum attributions for each input (every method
        that fits the model when ``methods`` is None), with integrated gradients' completeness
        gap; attention maps for transformers. ``target`` explains one class for every input
        (default: each input's own prediction).

        >>> e = deepworks.load("runs/digits").explain("digit.png")  # doctest: +SKIP
        >>> e.attributions["integrated-gradients"].shape, e.delta  # doctest: +SKIP
        """
        from deepworks.explain import Explanation

        parts = list(self._explanations(inputs, methods, target, batch_size))
        if not parts:
            raise DataError("no inputs to explain")
        return Explanation.concat(parts)

    def explain_to(
        self,
        inputs: Inputs,
        folder: str | Path,
        methods: list[str] | None = None,
        target: str | None = None,
        batch_size: int = 16,
        limit: int | None = None,
    ) -> list[Path]:
        """``explain`` a batch at a time, writing the pictures (overlays PNG, tokens.html,
        feature bars) and explanations.csv into ``folder``; returns the files written."""
        from deepworks.explain import WRITERS

        writer = WRITERS.get(self.schema.modality)(Path(folder), self.schema)
        for part in self._explanations(inputs, methods, target, batch_size, limit):
            writer.add(part)
        return writer.close()

    def _explanations(
        self,
        inputs: Inputs,
        methods: list[str] | None,
        target: str | None,
        batch_size: int,
        limit: int | None = None,
    ) -> Iterator[Any]:
        from deepworks.explain import check_methods, explain_batches
        from deepworks.explain.explainer import check_task

        check_task(self.schema, self.folder.id)
        if batch_size < 1:
            raise DataError(f"batch size {batch_size}; give at least 1")
        methods = check_methods(self.model, self.schema.modality, methods)
        ids, batches = self._encode(inputs, batch_size)
        if limit is not None:  # only the first `limit` inputs
            ids = ids[:limit]
            batches = _first(batches, limit)
        attention = "attention" in self.model.tags
        yield from explain_batches(
            self.model, self.schema, ids, batches, methods, target, attention
        )

    @torch.inference_mode()
    def _forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.task.predict(self.model, x)

    def _encode(
        self, inputs: Inputs, batch_size: int | None = None
    ) -> tuple[list[Any], Iterator[torch.Tensor]]:
        size = batch_size or self.batch_size
        if isinstance(self.encoder, SeriesEncoder):  # forecast after the series' last window
            values = self.encoder.values(self._as_frame(inputs), _origin(inputs))
            if len(values) < self.encoder.window:
                raise DataError(
                    f"{_origin(inputs)}: {len(values)} rows given; the model needs the last "
                    f"{self.encoder.window} values of the series to forecast from"
                )
            window = self.encoder.scale(values[-self.encoder.window :])[None]
            return [len(values)], iter([window])
        if isinstance(self.encoder, SeriesSetEncoder):  # one prediction per series
            ids, values = self.encoder.arrays(self._as_frame(inputs), _origin(inputs))
            if values.shape[1] != self.encoder.length:
                raise DataError(
                    f"{_origin(inputs)}: series of {values.shape[1]} steps given; this model "
                    f"takes {self.encoder.length}"
                )
            return ids, iter(self.encoder.tensor(values).split(size))
        if isinstance(self.encoder, RatingsEncoder):  # (user, item) pairs
            frame = self._as_frame(inputs)
            pairs = self.encoder.pairs(frame, _origin(inputs))
            return list(frame.index), iter(pairs.split(size))
        if isinstance(self.encoder, TextEncoder):
            texts = self._texts(inputs)
            return list(range(len(texts))), iter(self.encoder.encode(texts).split(size))
        if isinstance(self.encoder, TableEncoder):
            frame = self._as_frame(inputs)
            x = self.encoder.transform(frame, _origin(inputs))
            return list(frame.index), iter(x.split(size))
        if isinstance(self.encoder, AudioEncoder):  # WAV files → log-mel features
            audio: AudioEncoder = self.encoder
            clips = _file_paths(inputs, WAV_SUFFIXES, "audio")
            if clips is None:
                raise DataError("give a WAV file, a folder of them, or a list of their paths")

            def features() -> Iterator[torch.Tensor]:
                for start in range(0, len(clips), size):
                    chunk = clips[start : start + size]
                    yield audio.features(torch.stack([audio.load(p) for p in chunk]))

            return [str(p) for p in clips], features()
        paths = _file_paths(inputs)
        if paths is None:  # arrays of images in [0, 1]
            x = torch.as_tensor(np.asarray(inputs), dtype=torch.float32)
            if x.dim() == 3:
                x = x.unsqueeze(1) if self.schema.input_shape[0] == 1 else x.unsqueeze(0)
            if tuple(x.shape[1:]) != tuple(self.schema.input_shape):
                raise DataError(
                    f"images of shape {tuple(x.shape[1:])} given; this model takes "
                    f"{tuple(self.schema.input_shape)} (C, H, W) — or pass image files"
                )
            x = self.encoder.normalize(x)
            return list(range(len(x))), iter(x.split(size))
        encoder: ImageEncoder = self.encoder  # type: ignore[assignment]

        def batches() -> Iterator[torch.Tensor]:
            for start in range(0, len(paths), size):
                yield torch.stack([encoder.encode_file(p) for p in paths[start : start + size]])

        return [str(p) for p in paths], batches()

    def _texts(self, inputs: Inputs) -> list[str]:
        """Texts from a list of strings, a DataFrame, or a CSV / JSONL file with the text column."""
        if isinstance(inputs, list | tuple) and all(isinstance(t, str) for t in inputs):
            return check_texts(pd.Series(list(inputs), dtype=object), "input", "text")
        frame = inputs if isinstance(inputs, pd.DataFrame) else self._as_frame(inputs)
        return self.encoder.texts_of(frame, _origin(inputs))

    def _as_frame(self, inputs: Inputs) -> pd.DataFrame:
        if isinstance(inputs, pd.DataFrame):
            return inputs
        if isinstance(inputs, str | Path):
            return read_table(Path(inputs))
        array = np.asarray(inputs)
        columns = self.encoder.columns  # type: ignore[union-attr]
        if array.ndim != 2 or array.shape[1] != len(columns):
            raise DataError(
                f"an array of shape {array.shape} given; this model takes rows of "
                f"{len(columns)} columns ({', '.join(columns)}) — or pass a DataFrame or CSV"
            )
        return pd.DataFrame(array, columns=columns)

    # ------------------------------------------------------------------------ generate
    def generate(
        self,
        prompt: str = "",
        length: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
    ) -> str:
        """Continue ``prompt`` with ``length`` sampled tokens (language-model runs).

        >>> deepworks.load("runs/chars").generate("this tea ", temperature=0.7)  # doctest: +SKIP
        """
        if self.task.generates != "text":
            raise RunError(
                f"run {self.folder.id} is a {self.schema.task} model; only language-model runs "
                "generate text"
            )
        if length < 1 or temperature <= 0 or (top_k is not None and top_k < 1):
            raise DataError("generate needs length ≥ 1, temperature > 0 and top-k ≥ 1")
        encoder: TextEncoder = self.encoder  # type: ignore[assignment]
        eos = encoder.eos_id(encoder.vocab)
        ids = encoder.token_ids(prompt) or [eos]  # an empty prompt starts a new text
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        out = self.task.generate(
            self.model, ids, length, temperature, top_k, generator, encoder.blocked_ids
        )
        text = encoder.detokenize(out).replace("<eos>", "\n")
        return prompt + ("" if encoder.level == "char" or not prompt else " ") + text

    def generate_images(
        self, n: int = 64, label: str | None = None, seed: int | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """``n`` new images (N, C, H, W) in [0, 1] from a GAN run, and the class each was asked
        to be (conditional GANs: ``label``, or the classes in turn; otherwise empty strings).

        >>> run = deepworks.load("runs/digits-cgan")  # doctest: +SKIP
        >>> images, labels = run.generate_images(16, "3")  # doctest: +SKIP
        """
        if self.task.generates != "images":
            raise RunError(
                f"run {self.folder.id} is a {self.schema.task} model; only GAN runs generate images"
            )
        if n < 1:
            raise DataError(f"asked for {n} images; ask for at least 1")
        classes = self.schema.classes or []
        index = None
        if label is not None:
            if not self.task.conditional:
                raise DataError(
                    f"run {self.folder.id} is an unconditional GAN: it cannot be asked for a "
                    "class. Drop the label, or train with `task: conditional-gan`"
                )
            if str(label) not in classes:
                from deepworks.core.errors import did_you_mean

                raise DataError(
                    f"no class `{label}` in run {self.folder.id}."
                    f"{did_you_mean(str(label), classes)} Classes: {', '.join(classes)}."
                )
            index = classes.index(str(label))
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        images, labels = self.task.sample(self.model, n, index, generator)
        names = [classes[i] for i in labels.tolist()] if self.task.conditional else [""] * n
        return images.numpy(), names

    def recommend(self, user: str | int, k: int = 10) -> pd.DataFrame:
        """The ``k`` items a recommendation run ranks highest for ``user``, leaving out what the
        user rated in training: rank, item, title (if known), pick probability, rating.

        >>> deepworks.load("runs/movielens-ncf").recommend(15, k=10)  # doctest: +SKIP
        """
        if "recommends" not in self.task.tags:
            raise RunError(
                f"run {self.folder.id} is a {self.schema.task} model; only recommendation runs "
                "recommend"
            )
        if k < 1:
            raise DataError(f"asked for {k} recommendations; ask for at least 1")
        encoder: RatingsEncoder = self.encoder  # type: ignore[assignment]
        user_index = int(encoder.index(pd.Series([user]), "user", f"user {user}")[0])
        items, picks = self.task.recommend(self.model, user_index, k, encoder.seen[user_index - 1])
        frame = pd.DataFrame({"rank": range(1, len(items) + 1)})
        frame["item"] = [encoder.items[i - 1] for i in items]
        if encoder.titles:
            frame["title"] = [encoder.titles[i - 1] for i in items]
        frame["pick_probability"] = picks
        pairs = torch.tensor([[user_index, i] for i in items], dtype=torch.long)
        frame["predicted_rating"] = self._forward(pairs)["rating"].numpy() if items else []
        return frame

    # ------------------------------------------------------------------------ evaluate
    def evaluate(self, data: str | Path | None = None) -> dict[str, Any]:
        """Metrics on the run's own test split, or on a labelled CSV / image folder."""
        if data is None:
            from deepworks.catalog import load_config
            from deepworks.tasks import load_data

            cfg = load_config(self.folder.config)
            dataset = load_data(cfg.data, cfg.task, cfg.seed).test
        else:
            dataset = self._labelled(Path(data))
        return evaluate(self.model, self.task, make_loader(dataset, self.batch_size))

    def _labelled(self, path: Path) -> TensorData:
        if not path.exists():
            raise DataError(f"{path} does not exist")
        if isinstance(self.encoder, RatingsEncoder):
            frame = read_table(path)
            if self.schema.target not in frame.columns:
                raise DataError(f"{path}: no rating column `{self.schema.target}` to evaluate")
            ratings = pd.to_numeric(frame[self.schema.target], errors="coerce")
            if ratings.isna().any():
                raise DataError(f"{path}: column `{self.schema.target}` must hold numbers only")
            pairs = self.encoder.pairs(frame, str(path))
            return TensorData(pairs, torch.as_tensor(ratings.to_numpy(np.float32)))
        if isinstance(self.encoder, SeriesEncoder):  # every window of the given series
            enc, horizon = self.encoder, self.schema.n_outputs
            values = enc.values(read_table(path), str(path))
            ends = range(enc.window, len(values) - horizon + 1)
            if len(ends) == 0:
                raise DataError(
                    f"{path}: {len(values)} rows; evaluating needs at least window + horizon = "
                    f"{enc.window + horizon}"
                )
            x, y = enc.windows(enc.scale(values), values[:, 0], horizon, ends)
            return TensorData(x, y)
        if isinstance(self.encoder, SeriesSetEncoder):
            frame = read_table(path)
            if self.schema.target not in frame.columns:
                raise DataError(
                    f"{path}: no label column `{self.schema.target}` to evaluate against"
                )
            ids, values = self.encoder.arrays(frame, str(path))
            labels = self.encoder.labels(frame, self.schema.target, ids, str(path))
            return TensorData(self.encoder.tensor(values), self._targets(labels, str(path)))
        if isinstance(self.encoder, TextEncoder) and self.schema.task == "language-model":
            texts = self.encoder.texts_of(read_table(path), str(path))
            return chunk_texts(self.encoder, texts, str(path))
        if isinstance(self.encoder, TextEncoder):
            frame = read_table(path)
            if self.schema.target not in frame.columns:
                raise DataError(
                    f"{path}: no label column `{self.schema.target}` to evaluate against"
                )
            x = self.encoder.encode(self.encoder.texts_of(frame, str(path)))
            return TensorData(x, self._targets(frame[self.schema.target].to_numpy(), str(path)))
        if isinstance(self.encoder, TableEncoder):
            frame = read_table(path)
            target = self.schema.target
            if target not in frame.columns:
                raise DataError(f"{path}: no target column `{target}` to evaluate against")
            x = self.encoder.transform(frame.drop(columns=[target]), str(path))
            return TensorData(x, self._targets(frame[target].to_numpy(), str(path)))
        if isinstance(self.encoder, AudioEncoder):
            clips, labels, classes = class_folders(path)
            audio: AudioEncoder = self.encoder
            x = audio.features(torch.stack([audio.load(p) for p in clips]))
            return TensorData(x, self._targets(np.asarray(classes)[labels], str(path)))
        if not path.is_dir():
            raise DataError(f"{path}: expected an image folder with one subfolder per class")
        paths, labels = [], []
        for folder in sorted(p for p in path.iterdir() if p.is_dir()):
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            paths += files
            labels += [folder.name] * len(files)
        if not paths:
            raise DataError(f"{path}: no images found in class subfolders")
        x = torch.stack([self.encoder.encode_file(p) for p in paths])  # type: ignore[union-attr]
        return TensorData(x, self._targets(np.asarray(labels), str(path)))

    def _targets(self, values: np.ndarray, origin: str) -> torch.Tensor:
        if self.schema.task == "regression":
            return torch.as_tensor(values.astype(np.float32))
        lookup = {c: i for i, c in enumerate(self.schema.classes or [])}
        unknown = sorted({str(v) for v in values} - set(lookup))
        if unknown:
            raise DataError(
                f"{origin}: label(s) {', '.join(unknown[:5])} were not seen in training "
                f"(known: {', '.join(lookup)})"
            )
        return torch.as_tensor([lookup[str(v)] for v in values])


def _first(batches: Iterator[torch.Tensor], n: int) -> Iterator[torch.Tensor]:
    """The batches cut after ``n`` rows."""
    for x in batches:
        if n <= 0:
            return
        yield x[:n]
        n -= len(x)


def _origin(inputs: Inputs) -> str:
    return str(inputs) if isinstance(inputs, str | Path) else "input"


def _file_paths(
    inputs: Inputs, suffixes: set[str] = IMAGE_SUFFIXES, kind: str = "image"
) -> list[Path] | None:
    """Files from a path (a file, or a folder searched for ``suffixes``) or a list of paths."""
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


def load(run_ref: str | Path, runs_dir: str | Path = "runs") -> Run:
    """Load a finished run from its folder (or id): JSON and safetensors only."""
    folder = RunFolder.open(run_ref, runs_dir)
    spec = folder.read_json(folder.model_json)
    if not folder.weights.is_file():
        status = folder.info().get("status")
        raise RunError(
            f"run {folder.id} has no trained weights yet (status: {status}); "
            f"resume it with `deepworks resume {folder.id}`"
        )
    schema = Schema.from_dict(spec["schema"])
    model = build_model(spec["model"], spec["params"], schema, pretrained=False)
    load_model(model, str(folder.weights))
    return Run(folder, model, schema)
