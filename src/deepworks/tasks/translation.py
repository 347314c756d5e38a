"""Translation: an encoder–decoder learns to write a text's translation from sentence pairs.

Training is teacher-forced cross-entropy with label smoothing; every epoch a fixed sample of
the validation sentences (``epoch_sample``, spread over the split) is translated greedily and
scored (BLEU), so early stopping and the best checkpoint follow the real goal. The test split
is translated with beam search and scored with sacrebleu against the references as written,
beside greedy decoding and two baselines on the same sentences: the source copied, and a
word-by-word dictionary learned from the training pairs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.batch import Batch
from deepworks.core.task import Task, register_task
from deepworks.tasks.decoding import beam_search, greedy

SCORES = ("bleu", "chrf", "exact_match")


@register_task("translation")
class Translation(Task):
    """Translate a text into another language (sentence pairs)."""

    main_metric = "bleu"
    own_baselines = ("copy", "dictionary")
    tags = frozenset({"supervised", "translates", "draws-explanations"})
    epoch_metrics = frozenset({"bleu", "accuracy"})
    epoch_sample = 1000  # sentences decoded each epoch: BLEU to steer by, not an epoch's cost
    final_metric_names = (
        *SCORES,
        *(f"{d}_{s}" for d in ("greedy", "copy", "dictionary") for s in SCORES),
        "dictionary_fit_seconds",
        "examples",
    )
    data_hint = (
        "translation learns from sentence pairs: set `data.source` and `data.target` to the "
        "two text columns of a CSV / TSV / JSONL, use `data.dataset: text-pairs` with "
        "`data.path` and `data.target_path`, or a built-in corpus such as numbers-fr"
    )
    label_smoothing: ClassVar[float] = 0.1
    # Decoding: Marian's and GNMT's defaults; `deepworks translate` may say otherwise.
    beam: ClassVar[int] = 5
    alpha: ClassVar[float] = 0.6

    def __init__(self, schema) -> None:
        super().__init__(schema)
        from deepworks.modalities.parallel.encoder import PairEncoder

        self.pairs = PairEncoder.from_dict(schema.encoder)

    def max_length(self, src: torch.Tensor) -> int:
        """How long a translation may grow: twice the source and ten tokens, within the
        vocabulary's length."""
        longest = int((src != 0).sum(1).max()) if src.numel() else 1
        return min(2 * longest + 10, self.pairs.tgt.max_length + 1)

    # -- training -----------------------------------------------------------------------
    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            target.reshape(-1),
            ignore_index=0,
            label_smoothing=self.label_smoothing,
        )

    def training_step(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        src, tgt = _trimmed(batch)
        return self.loss(model(src, tgt[:, :-1]), tgt[:, 1:])

    def evaluation_step(self, model: nn.Module, batch: Batch):
        src, tgt = _trimmed(batch)
        logits = model(src, tgt[:, :-1])
        written = greedy(model, src, self.pairs.bos, self.pairs.eos, self.max_length(src))
        width = self.pairs.tgt.max_length + 2  # one width for every batch (states concatenate)
        written = F.pad(written, (0, width - written.shape[1]))[:, :width]
        gold = F.pad(tgt[:, 1:], (0, width - tgt.shape[1] + 1))[:, :width]
        return self.loss(logits, tgt[:, 1:]), (logits, written), (tgt[:, 1:], gold)

    def metric_factories(self) -> dict[str, Callable[[], Any]]:
        from deepworks.metrics.translation import TokenAccuracy, TranslationScore

        decode, lowercase = self.pairs.decode, self.pairs.lowercase
        return {
            "accuracy": TokenAccuracy,
            **{s: (lambda s=s: TranslationScore(s, decode, lowercase)) for s in SCORES},
        }

    # -- whole test split ---------------------------------------------------------------
    def translate(
        self,
        model: nn.Module,
        src: torch.Tensor,
        beam: int | None = None,
        alpha: float | None = None,
    ) -> torch.Tensor:
        """Target ids for a batch of sources: beam search (``beam`` > 1) or greedy."""
        model.eval()
        beam = self.beam if beam is None else beam
        bos, eos, longest = self.pairs.bos, self.pairs.eos, self.max_length(src)
        if beam == 1:
            return greedy(model, src, bos, eos, longest)
        alpha = self.alpha if alpha is None else alpha
        return beam_search(model, src, bos, eos, longest, beam, alpha)

    def translations(self, model: nn.Module, x: torch.Tensor, size: int = 128, **how) -> list[str]:
        device = next(model.parameters(), x).device  # an exported graph has no parameters
        return [
            self.pairs.decode(row)
            for chunk in x.split(size)
            for row in self.translate(model, chunk.to(device), **how).tolist()
        ]

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        """Test scores against the references as written: beam search, greedy, and the
        baselines."""
        from deepworks.metrics.translation import corpus_scores
        from deepworks.tasks.translation_baselines import WordDictionary

        rows, raw = bundle.test_rows, bundle.raw_rows["train"]
        source, target = rows.columns[0], rows.columns[1]
        sources, references = rows[source].astype(str).tolist(), rows[target].astype(str).tolist()
        lowercase = self.pairs.lowercase
        x = bundle.test.x
        beamed = self.translations(model, x)
        out = corpus_scores(beamed, references, lowercase)
        greedy_scores = corpus_scores(self.translations(model, x, beam=1), references, lowercase)
        out |= {f"greedy_{k}": v for k, v in greedy_scores.items()}
        out |= {f"copy_{k}": v for k, v in corpus_scores(sources, references, lowercase).items()}
        started = time.perf_counter()
        dictionary = WordDictionary().fit(
            raw[source].astype(str).tolist(), raw[target].astype(str).tolist(), lowercase
        )
        out["dictionary_fit_seconds"] = round(time.perf_counter() - started, 3)
        word_by_word = [dictionary.translate(s) for s in sources]
        out |= {
            f"dictionary_{k}": v
            for k, v in corpus_scores(word_by_word, references, lowercase).items()
        }
        spread = range(0, len(sources), max(len(sources) // 20, 1))  # 20 across the split
        out["examples"] = [
            {"source": sources[i], "reference": references[i], "translation": beamed[i]}
            for i in list(spread)[:20]
        ]
        return {"test": out}

    # -- outputs ------------------------------------------------------------------------
    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
        return {"translation": [self.pairs.decode(r) for r in self.translate(model, x).tolist()]}

    def prediction_frame(self, ids: list[Any], out: dict[str, Any], metrics: dict):
        import pandas as pd

        return pd.DataFrame({"input": ids, "translation": out["translation"]})

    def attention(self, model: nn.Module, texts: list[str]) -> list[dict[str, Any]]:
        """Per text: its source tokens, the translation's tokens and the attention of each
        written token over the source (the last decoder layer's cross-attention, or the RNN's
        attention)."""
        src = self.pairs.encode_sources(texts)
        written = self.translate(model, src)
        out = []
        with torch.inference_mode():
            for i in range(len(texts)):
                ids = [t for t in written[i].tolist() if t != 0]
                prefix = torch.tensor([[self.pairs.bos, *ids]])
                row = src[i : i + 1, : int((src[i] != 0).sum())]
                weights = model.decode(model.encode(row), prefix, attention=True)[1]
                out.append({
                    "translation": self.pairs.decode(ids),
                    "source": [self.pairs.src.vocab[t] for t in row[0].tolist()],
                    "written": [self.pairs.tgt.vocab[t] for t in ids],
                    "weights": weights[0, : len(ids)].tolist(),
                })  # fmt: skip
        return out

    def explain_to(
        self, model: nn.Module, inputs: Any, folder: Path, limit: int | None = None
    ) -> list[Path]:
        """Attention heatmaps, four sentences a picture, and explanations.csv (each input, its
        translation, the source token each written token attended to most)."""
        import pandas as pd

        from deepworks.plots import attention_maps

        texts = self.pairs.texts_in(inputs)[:limit]
        files, rows = [], []
        for start in range(0, len(texts), 4):
            items = self.attention(model, texts[start : start + 4])
            files.append(attention_maps(items, folder / f"attention_{start // 4 + 1}.png"))
            for text, item in zip(texts[start : start + 4], items, strict=True):
                looked = [
                    item["source"][max(range(len(w)), key=w.__getitem__)] for w in item["weights"]
                ]
                rows.append({
                    "input": text,
                    "translation": item["translation"],
                    "attended": " ".join(map("←".join, zip(item["written"], looked, strict=True))),
                })  # fmt: skip
        pd.DataFrame(rows).to_csv(folder / "explanations.csv", index=False)
        return [*files, folder / "explanations.csv"]

    def plots(self, model: nn.Module, bundle: Any, folder: Path, metrics: dict) -> None:
        """Attention heatmaps of the first test sentences."""
        from deepworks.plots import attention_maps

        texts = bundle.test_rows.iloc[:4, 0].astype(str).tolist()
        attention_maps(self.attention(model, texts), folder / "attention.png")


def _trimmed(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Sources and targets cut to the batch's longest (padding is all that is dropped)."""
    src, tgt = batch
    src = src[:, : max(int((src != 0).sum(1).max()), 1)]
    return src, tgt[:, : int((tgt != 0).sum(1).max())]
