"""What generative and ranking runs make: text from a language model, images from a GAN, a
user's top items from a recommender."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepworks.core.errors import DataError, RunError, did_you_mean
from deepworks.core.lazy import lazy_module

pd = lazy_module("pandas")  # imported on first use: most runs read no table


class Generating:
    """``Run.generate``, ``Run.generate_images`` and ``Run.recommend``."""

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
        encoder = self.encoder
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
                raise DataError(
                    f"no class `{label}` in run {self.folder.id}."
                    f"{did_you_mean(str(label), classes)} Classes: {', '.join(classes)}."
                )
            index = classes.index(str(label))
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        images, labels = self.task.sample(self.model, n, index, generator)
        names = [classes[i] for i in labels.tolist()] if self.task.conditional else [""] * n
        return images.numpy(), names

    def translate(
        self, texts: Any, beam: int | None = None, length_penalty: float | None = None
    ) -> Any:
        """The translation of a text (a string), of a list of texts (a list), or of a file or
        DataFrame — a CSV / TSV / JSONL with the source column, or a .txt with a sentence a
        line — (a DataFrame of input and translation). ``beam`` 1 decodes greedily; by default
        the task's beam search (beam 5, length penalty 0.6).

        >>> run = deepworks.load("runs/numbers-fr")  # doctest: +SKIP
        >>> run.translate("three hundred and twelve")  # doctest: +SKIP
        'trois cent douze'
        """
        if "translates" not in self.task.tags:
            raise RunError(
                f"run {self.folder.id} is a {self.schema.task} model; only translation runs "
                "translate"
            )
        if (beam is not None and beam < 1) or (length_penalty is not None and length_penalty < 0):
            raise DataError("translate needs a beam of at least 1 and a length penalty ≥ 0")
        sources = self.encoder.texts_in([texts] if isinstance(texts, str) else texts)
        x = self.encoder.encode_sources(sources)
        out = self.task.translations(self.model, x, beam=beam, alpha=length_penalty)
        if isinstance(texts, str | list | tuple):
            return out[0] if isinstance(texts, str) else out
        return pd.DataFrame({"input": sources, "translation": out})

    def transcribe(self, clips: Any, beam: int | None = None, timestamps: bool = False) -> Any:
        """What is said in a WAV clip (a path: its text) or in clips (a folder or a list of
        paths: a DataFrame of input and transcript). By default a beam search of 16
        hypotheses over the training transcripts' words; ``beam`` sets its width, 0 reads
        greedily; ``timestamps`` adds each word's start and end in seconds.

        >>> deepworks.load("runs/spoken-sentences").transcribe("clip.wav")  # doctest: +SKIP
        'turn the kitchen lights off'
        """
        if "transcribes" not in self.task.tags:
            raise RunError(
                f"run {self.folder.id} is a {self.schema.task} model; only speech-recognition "
                "runs transcribe"
            )
        if beam is not None and beam < 0:
            raise DataError(f"beam {beam}; give 0 (greedy) or a width of at least 1")
        ids, batches = self.encoder.batches(clips, 16, self.schema)
        decoded = [d for x in batches for d in self.task.transcribe(self.model, x, beam)]
        texts = [self.encoder.decode(d.ids) for d in decoded]
        if isinstance(clips, str | Path) and Path(clips).is_file():
            return texts[0]
        frame = pd.DataFrame({"input": ids, "transcript": texts})
        if timestamps:
            step = self.encoder.frame_seconds
            frame["words"] = [
                " ".join(f"{w}@{a * step:.2f}-{(b + 1) * step:.2f}" for w, a, b in d.words)
                for d in decoded
            ]
        return frame

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
        encoder = self.encoder
        user_index = int(encoder.index(pd.Series([user]), "user", f"user {user}")[0])
        items, picks = self.task.recommend(self.model, user_index, k, encoder.seen[user_index - 1])
        frame = pd.DataFrame({"rank": range(1, len(items) + 1)})
        frame["item"] = [encoder.items[i - 1] for i in items]
        if encoder.titles:
            frame["title"] = [encoder.titles[i - 1] for i in items]
        frame["pick_probability"] = picks
        pairs = torch.tensor([[user_index, i] for i in items], dtype=torch.long)
        frame["predicted_rating"] = self.forward(pairs)["rating"].numpy() if items else []
        return frame
