"""`wav2vec2-ctc`: a pretrained wav2vec2-style speech encoder (wav2vec2, HuBERT, WavLM ...)
from Hugging Face, with a new character head for CTC.

``pretrained:`` is a hub name (e.g. ``facebook/wav2vec2-base``; needs the internet once) or a
folder saved with ``save_pretrained``. The model reads the waveform itself — the config sets
``data.audio_features: waveform`` — each clip scaled to zero mean and unit variance, as the
encoder was pretrained; its convolutional feature encoder (20 ms frames at 16 kHz) stays frozen
by default, as in the wav2vec2 paper's fine-tuning, and its own time masking regularizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepworks.core.errors import ModelError, require
from deepworks.core.schema import Schema
from deepworks.models.acoustic import AcousticModel, CharacterHead
from deepworks.models.registry import register_model
from deepworks.models.transfer import hugging_face_model


@dataclass
class Wav2Vec2Params:
    pretrained: str | None = None
    freeze_feature_encoder: bool = True
    dropout: float = 0.1


class Wav2Vec2CTC(AcousticModel):
    def __init__(self, body: nn.Module, outputs: int, p: Wav2Vec2Params) -> None:
        super().__init__()
        self.body = body
        if p.freeze_feature_encoder:
            body.freeze_feature_encoder()
        self.head = CharacterHead(body.config.hidden_size, outputs, p.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.body(input_values=x.flatten(1)).last_hidden_state  # (N, frames, d)
        return self.head(hidden)


def build(schema: Schema, p: Wav2Vec2Params) -> nn.Module:
    if not p.pretrained:
        raise ModelError(
            "model `wav2vec2-ctc` needs `pretrained:` — a Hugging Face name such as "
            "facebook/wav2vec2-base, or a folder saved with save_pretrained"
        )
    transformers = require("transformers", "text", "the pretrained wav2vec2 encoder")
    body = hugging_face_model(transformers.AutoModel, p.pretrained, p.pretrained,
                              "a wav2vec2-style speech encoder")  # fmt: skip
    if not callable(getattr(body, "freeze_feature_encoder", None)):
        raise ModelError(
            f"pretrained `{p.pretrained}` is a {type(body).__name__}, not a wav2vec2-style "
            "speech encoder (wav2vec2, HuBERT, WavLM, data2vec-audio)"
        )
    return Wav2Vec2CTC(body, schema.n_outputs, p)


register_model(
    "wav2vec2-ctc", Wav2Vec2Params, ("speech",),
    "pretrained wav2vec2-style encoder (Hugging Face) + a new character head, CTC",
    tasks=("speech-recognition",), data_needs={"audio_features": "waveform"},
)(build)  # fmt: skip
