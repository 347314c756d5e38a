"""Language modelling: predict every next token; sample new text with temperature and top-k.

Perplexity is read against a unigram model (each token drawn by its training frequency, no
context), scored on the same tokens: how much the context the model learned is worth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.task import Task, register_task

if TYPE_CHECKING:
    from torchmetrics import Metric


@register_task("language-model")
class LanguageModel(Task):
    """Predict the next token at every position of a text."""

    main_metric = "perplexity"
    own_baselines = ("unigram",)
    generates = "text"
    data_hint = (
        "a language model learns from text: set `data.text` to the text column (CSV / JSONL) "
        "or use a text dataset"
    )
    tags = frozenset({"supervised"})
    lower_is_better = frozenset({"loss", "perplexity", "unigram_perplexity"})
    epoch_metrics = frozenset({"perplexity", "accuracy"})

    @classmethod
    def upgrade_schema(cls, schema):
        """Runs saved before the schema said `outputs` and `per_position`: a score for every
        token of the vocabulary, at every position."""
        if schema.outputs is None:
            schema.outputs, schema.per_position = len(schema.encoder["vocab"]), True
        return schema

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1))

    def metric_factories(self) -> dict[str, Callable[[], Metric]]:
        from torchmetrics.classification import MulticlassAccuracy
        from torchmetrics.text import Perplexity
        from torchmetrics.wrappers import LambdaInputTransformer

        from deepworks.metrics.streams import UnigramPerplexity

        vocab = self.schema.n_outputs
        return {
            "perplexity": Perplexity,
            "accuracy": lambda: LambdaInputTransformer(
                MulticlassAccuracy(vocab, average="micro"),
                transform_pred=lambda p: p.reshape(-1, vocab),
                transform_target=lambda t: t.reshape(-1),
            ),
            "unigram_perplexity": lambda: UnigramPerplexity(self.schema.encoder["counts"]),
        }

    def postprocess(self, output: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"next_token_proba": output[:, -1].softmax(-1)}

    @torch.inference_mode()
    def generate(
        self,
        model: nn.Module,
        prompt: list[int],
        length: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        blocked: list[int] | tuple[int, ...] = (0, 1),
    ) -> list[int]:
        """Sample ``length`` tokens after ``prompt``, one at a time, from the model's scores."""
        model.eval()
        context = self.schema.input_shape[0]
        ids = list(prompt)
        for _ in range(length):
            window = torch.as_tensor([ids[-context:]], dtype=torch.long)
            logits = model(window)[0, -1] / max(temperature, 1e-6)
            logits[list(blocked)] = float("-inf")  # never <pad> or <unk>
            if top_k:
                kth = logits.topk(min(top_k, logits.numel())).values[-1]
                logits[logits < kth] = float("-inf")
            ids.append(int(torch.multinomial(logits.softmax(-1), 1, generator=generator)))
        return ids[len(prompt) :]
