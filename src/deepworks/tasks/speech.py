"""Speech recognition: an acoustic model learns to write what is said, trained with CTC.

The model scores every character (and CTC's blank) at every output frame; CTC's loss sums
over every way of spelling the transcript along the frames. Clips are read by a beam search
restricted to the training transcripts' words (greedily without flashlight-text) and scored
by word and character error rate (torchmetrics, on normalized text): each epoch on the
validation clips, so early stopping follows WER, and wherever a run is evaluated (`evaluate
--data`, the deployment card). After training, greedy decoding is scored beside it
(`greedy_wer` / `greedy_cer`), and the test split beside pocketsphinx (CMU's traditional
recognizer, its own US-English acoustic and language models) on the same clips, by voice and
by kind of sentence where the data names them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.batch import Batch
from deepworks.core.task import Task, register_task
from deepworks.tasks.ctc import Decoded, LexiconBeam, greedy_words

log = logging.getLogger("deepworks")

SCORES = ("wer", "cer")
GROUPS = ("voice", "speaker", "kind")  # columns per-group WER is reported by, when present


@register_task("speech-recognition")
class SpeechRecognition(Task):
    """Write what is said in a clip (CTC): word and character error rates."""

    main_metric = "wer"
    lower_is_better = frozenset({"loss", *SCORES})
    own_baselines = ("pocketsphinx",)
    tags = frozenset({"supervised", "transcribes", "draws-explanations"})
    epoch_metrics = frozenset(SCORES)
    final_metric_names = (
        *(f"{d}{s}" for d in ("", "greedy_", "pocketsphinx_") for s in SCORES),
        "pocketsphinx_seconds",
        "groups",
        "examples",
    )
    data_hint = (
        "speech recognition learns from clips and their transcripts: a table with a path and "
        "a text column (`data.audio`, `data.transcript`), `data.dataset: speech-folder` "
        "(clip.wav + clip.txt), or the built-in spoken-sentences"
    )
    beam: ClassVar[int] = 16
    # Added per word the beam writes; below 0 it keeps a word from being split into short
    # ones (spoken-sentences' validation clips: WER 0.058 at 0, 0.047 at -3, flat to -5).
    word_score: ClassVar[float] = -3.0

    def __init__(self, schema) -> None:
        super().__init__(schema)
        from deepworks.modalities.speech.encoder import SpeechEncoder

        self.encoder = SpeechEncoder.from_dict(schema.encoder)
        self._beam: tuple[int | None, LexiconBeam | None] = (None, None)  # (width, search)

    # -- training -----------------------------------------------------------------------
    def loss(self, log_probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """CTC over every output frame (padding is silence: blanks spell it)."""
        n, frames, _ = log_probs.shape
        return F.ctc_loss(
            log_probs.float().transpose(0, 1),
            target,
            torch.full((n,), frames, dtype=torch.long),
            (target != 0).sum(1),
            blank=0,
            zero_infinity=True,  # a clip too short for its transcript adds nothing, not NaN
        )

    def evaluation_step(self, model: nn.Module, batch: Batch):
        x, y = batch
        log_probs = model(x)
        hypotheses = [self.encoder.decode(d.ids) for d in self.read(log_probs)]
        references = [self.encoder.decode(row) for row in y.tolist()]
        return self.loss(log_probs, y), hypotheses, references

    def metric_factories(self) -> dict[str, Callable[[], Any]]:
        from torchmetrics.text import CharErrorRate, WordErrorRate

        return {"wer": WordErrorRate, "cer": CharErrorRate}

    # -- whole test split ---------------------------------------------------------------
    def log_probs(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        model.eval()
        device = next(model.parameters(), x).device  # an exported graph has no parameters
        with torch.inference_mode():
            return model(x.to(device)).float().cpu()

    def transcribe(
        self, model: nn.Module, x: torch.Tensor, beam: int | None = None
    ) -> list[Decoded]:
        """What is said in a batch of clips' features: a beam search of width ``beam``
        (default the task's 16) over the training transcripts' words, or greedy (``beam`` 0,
        or without flashlight-text)."""
        return self.read(self.log_probs(model, x), beam)

    def read(self, log_probs: torch.Tensor, beam: int | None = None) -> list[Decoded]:
        """Frame scores (N, T, V) → what they write: the word beam of width ``beam`` (default
        the task's), or greedy (0, or without flashlight-text)."""
        scores = log_probs.detach().float().cpu()
        search = self.word_beam(self.beam if beam is None else beam)
        return search(scores) if search else greedy_words(scores, self.encoder.alphabet)

    def word_beam(self, width: int) -> LexiconBeam | None:
        """The beam search over the training words; None for greedy decoding (width 0, or
        flashlight-text missing: said once)."""
        from deepworks.core.errors import MissingDependencyError

        if width == 0:
            return None
        if self._beam[0] != width:  # built once per width
            try:
                search = LexiconBeam(self.encoder.alphabet, self.encoder.words, width,
                                     self.word_score)  # fmt: skip
                self._beam = (width, search)
            except MissingDependencyError as exc:
                log.warning("%s; decoding greedily instead", exc)
                self._beam = (width, None)
        return self._beam[1]

    def decode_split(self, model: nn.Module, data: Any) -> tuple[list[str], list[str] | None]:
        """A split's transcripts, greedy and by beam (None without flashlight-text)."""
        greedy, beamed = [], []
        beam = self.word_beam(self.beam)
        for start in range(0, len(data), 32):
            x, _ = data.__getitems__(list(range(start, min(start + 32, len(data)))))
            scores = self.log_probs(model, x)
            greedy += [
                self.encoder.decode(d.ids) for d in greedy_words(scores, self.encoder.alphabet)
            ]
            if beam is not None:
                beamed += [self.encoder.decode(d.ids) for d in beam(scores)]
        return greedy, beamed if beam is not None else None

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        """WER / CER of the beam search over the training words (greedy decoding's beside,
        as `greedy_`), on valid and test; on test, pocketsphinx on the same clips, and every
        system per voice (or speaker) and kind of sentence."""
        from deepworks.modalities.speech.encoder import normalize
        from deepworks.tasks.speech_baselines import pocketsphinx_transcripts

        out: dict[str, dict] = {}
        said: dict[str, tuple[list[str], list[str] | None]] = {}
        for split in ("valid", "test"):
            references = [normalize(t) for t in bundle.raw_rows[split]["text"]]
            greedy, beamed = said[split] = self.decode_split(model, getattr(bundle, split))
            out[split] = {f"greedy_{k}": v for k, v in error_rates(greedy, references).items()}
            out[split] |= error_rates(beamed or greedy, references)
        rows = bundle.test_rows
        references = [normalize(t) for t in rows["text"]]
        greedy, beamed = said["test"]
        started, sphinx = time.perf_counter(), None
        if self.scores_baseline("pocketsphinx"):
            sphinx = pocketsphinx_transcripts(rows["path"].tolist(), self.encoder.sample_rate)
            out["test"]["pocketsphinx_seconds"] = round(time.perf_counter() - started, 1)
        if sphinx is not None:
            scores = error_rates(sphinx, references)
            out["test"] |= {f"pocketsphinx_{k}": v for k, v in scores.items()}
        systems = {"beam": beamed, "greedy": greedy, "pocketsphinx": sphinx}
        out["test"]["groups"] = group_rates(rows, systems, references)
        spread = range(0, len(references), max(len(references) // 20, 1))
        out["test"]["examples"] = [
            {"clip": rows["path"][i], "reference": references[i], "greedy": greedy[i]}
            | {name: said[i] for name, said in (("beam", beamed), ("pocketsphinx", sphinx))
               if said is not None}
            for i in list(spread)[:20]
        ]  # fmt: skip
        return out

    # -- outputs ------------------------------------------------------------------------
    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
        return {"transcript": [self.encoder.decode(d.ids) for d in self.transcribe(model, x)]}

    def prediction_frame(self, ids: list[Any], out: dict[str, Any], metrics: dict):
        import pandas as pd

        return pd.DataFrame({"input": ids, "transcript": out["transcript"]})

    def word_saliency(self, model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
        """For one clip's features (1, 1, mels, T): the greedy transcript and, per written
        word, how strongly each input frame moves the scores of that word's characters on
        the frames that wrote them (|gradient|, summed over mel bands, each word's peak 1)."""
        model.eval()
        x = x.detach().clone().requires_grad_(True)
        log_probs = model(x)
        decoded = greedy_words(log_probs.detach(), self.encoder.alphabet)[0]
        path = log_probs[0].argmax(-1)
        rows = []
        for _, first, last in decoded.words:
            frames = torch.arange(first, last + 1)
            (grad,) = torch.autograd.grad(log_probs[0, frames, path[frames]].sum(), x,
                                          retain_graph=True)  # fmt: skip
            strength = grad[0, 0].abs().sum(0)
            rows.append((strength / strength.max().clamp_min(1e-12)).tolist())
        return {
            "transcript": self.encoder.decode(decoded.ids),
            "words": [w for w, _, _ in decoded.words],
            "saliency": rows,
            "spectrogram": x[0, 0].detach().numpy(),
            "seconds": self.encoder.hop / self.encoder.sample_rate,
        }

    def plots(self, model: nn.Module, bundle: Any, folder: Path, metrics: dict) -> None:
        """saliency.png: what drove each word of two test clips."""
        from deepworks.plots import word_saliency

        picked = sorted({0, len(bundle.test) // 2})
        items = [self.word_saliency(model, bundle.test.__getitems__([i])[0]) for i in picked]
        word_saliency(items, folder / "saliency.png")

    def explain_to(
        self, model: nn.Module, inputs: Any, folder: Path, limit: int | None = None
    ) -> list[Path]:
        """Per clip a picture of its spectrogram and of the frames that drove each written
        word (saliency), and explanations.csv: each clip, its transcript, and per word where
        in the clip (seconds) its evidence peaked."""
        import pandas as pd

        from deepworks.plots import word_saliency

        ids, batches = self.encoder.batches(inputs, 1, self.schema)
        files, rows = [], []
        for n, (clip, x) in enumerate(zip(ids[:limit], batches, strict=False)):
            item = self.word_saliency(model, x)
            files.append(word_saliency([item], folder / f"saliency_{n + 1}.png"))
            peaks = [max(range(len(s)), key=s.__getitem__) * item["seconds"]
                     for s in item["saliency"]]  # fmt: skip
            rows.append({
                "input": clip,
                "transcript": item["transcript"],
                "peaks": " ".join(f"{w}@{t:.2f}s" for w, t in zip(item["words"], peaks,
                                                                   strict=True)),
            })  # fmt: skip
        pd.DataFrame(rows).to_csv(folder / "explanations.csv", index=False)
        return [*files, folder / "explanations.csv"]


def error_rates(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Corpus WER and CER (torchmetrics: edit operations over reference words / characters)."""
    from torchmetrics.functional.text import char_error_rate, word_error_rate

    return {
        "wer": float(word_error_rate(hypotheses, references)),
        "cer": float(char_error_rate(hypotheses, references)),
    }


def group_rates(rows: Any, systems: dict[str, list[str] | None], references: list[str]) -> dict:
    """{column: {value: {system: WER}}} for the grouping columns the test rows have."""
    out: dict[str, dict] = {}
    for column in (c for c in GROUPS if c in rows.columns):
        out[column] = {}
        for value, index in rows.groupby(column).indices.items():
            refs = [references[i] for i in index]
            out[column][str(value)] = {
                name: round(float(error_rates([hyps[i] for i in index], refs)["wer"]), 4)
                for name, hyps in systems.items()
                if hyps is not None
            }
    return out
