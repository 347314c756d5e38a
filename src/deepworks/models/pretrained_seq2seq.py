"""`pretrained-seq2seq`: a pretrained Hugging Face encoder–decoder (Marian / opus-mt, T5, BART,
mBART ...) fine-tuned on the pairs.

``pretrained:`` is a folder saved with ``save_pretrained`` or a hub name (the internet once);
the folder must hold the model's ``tokenizer.json`` (a fast tokenizer: T5, BART, mBART and
NLLB ship one), which the config then uses for both sides of the data. deepworks' ids differ
from the model's in three places only — padding is always id 0, and ``<bos>`` / ``<eos>`` frame
every target — so one lookup table (``to_hf``) maps ids in, and the same table picks the
logits' columns on the way out: decoding, beam search and the metrics see a deepworks model.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from deepworks.core.errors import ModelError, require
from deepworks.core.schema import Schema
from deepworks.models.registry import register_model
from deepworks.models.seq2seq import Memory, Seq2Seq
from deepworks.models.transfer import hugging_face_model


@dataclass
class PretrainedSeq2SeqParams:
    pretrained: str = ""  # a folder or a Hugging Face hub name


def tokenizer_source(params: dict) -> str:
    """The model's own tokenizer: the data must be tokenized with it."""
    if not params.get("pretrained"):
        raise ValueError(
            "model `pretrained-seq2seq` needs `pretrained:` (a folder saved with "
            "save_pretrained, or a Hugging Face name such as google-t5/t5-small)"
        )
    return params["pretrained"]


class PretrainedSeq2Seq(Seq2Seq):
    tags = frozenset({"attention"})

    def __init__(self, schema: Schema, net: nn.Module) -> None:
        super().__init__(schema)
        self.net = net
        config = net.config
        side = schema.encoder["source"]  # one vocabulary: the model's own
        swap = side.get("pad_swap", 0)  # the model's padding id traded places with id 0
        to_hf = [swap if i == 0 else 0 if i == swap else i for i in range(len(side["vocab"]))]
        to_hf[0], to_hf[self.eos] = config.pad_token_id, config.eos_token_id
        to_hf[self.bos] = config.decoder_start_token_id
        self.register_buffer("to_hf", torch.as_tensor(to_hf), persistent=False)
        # transformers 5 renames the key/value cache, argument and output: past_key_values → cache
        forward = inspect.signature(net.forward).parameters
        self.cache_name = "cache" if "cache" in forward else "past_key_values"

    def encode(self, src: torch.Tensor, trim: bool = True) -> Memory:
        if trim:
            src = src[:, : max(int((src != 0).sum(1).max()), 1)]
        mask = (src != 0).long()
        hidden = self.net.get_encoder()(input_ids=self.to_hf[src], attention_mask=mask)
        return {"hidden": hidden.last_hidden_state, "mask": mask}

    def _run(self, memory: Memory, prefix: torch.Tensor, **how: Any) -> Any:
        return self.net(
            encoder_outputs=(memory["hidden"],),
            attention_mask=memory["mask"],
            decoder_input_ids=self.to_hf[prefix],
            **how,
        )

    def decode(self, memory: Memory, prefix: torch.Tensor, attention: bool = False):
        if not attention:
            out = self._run(memory, prefix, decoder_attention_mask=(prefix != 0).long())
            return out.logits[..., self.to_hf], None
        fused = self.net.config._attn_implementation
        self.net.set_attn_implementation("eager")  # the fused kernels return no weights
        try:
            out = self._run(memory, prefix, output_attentions=True)
        finally:
            self.net.set_attn_implementation(fused)
        return out.logits[..., self.to_hf], out.cross_attentions[-1].mean(1)

    def start(self, memory: Memory) -> Memory:
        return {}  # the first step fills the cache

    def step(self, memory: Memory, state: Memory, token: torch.Tensor):
        how = {self.cache_name: _cache(state), "use_cache": True}
        out = self._run(memory, token[:, None], **how)
        return out.logits[:, -1][..., self.to_hf], _state(getattr(out, self.cache_name))

    def exported_part(self) -> nn.Module:
        raise ModelError(
            "pretrained-seq2seq cannot be exported by deepworks yet; Hugging Face's `optimum` "
            "exports these models to ONNX, or serve this run in PyTorch (`deepworks serve`)"
        )


# The model's key/value cache as the dict of batch-first tensors the decoders reorder by beam.
def _state(cache: Any) -> Memory:
    state, sides = {}, {"self": cache.self_attention_cache, "cross": cache.cross_attention_cache}
    for side, part in sides.items():
        for i, layer in enumerate(part.layers):
            state[f"{side}.{i}.k"], state[f"{side}.{i}.v"] = layer.keys, layer.values
    return state


def _cache(state: Memory) -> Any:
    from transformers import DynamicCache, EncoderDecoderCache

    def side(name: str) -> Any:
        layers = sum(k.startswith(f"{name}.") for k in state) // 2  # a key and a value each
        pairs = [(state[f"{name}.{i}.k"], state[f"{name}.{i}.v"]) for i in range(layers)]
        return DynamicCache(pairs) if pairs else DynamicCache()

    return EncoderDecoderCache(side("self"), side("cross"))


def build(schema: Schema, p: PretrainedSeq2SeqParams) -> nn.Module:
    transformers = require("transformers", "text", "pretrained encoder–decoders")
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    source = tokenizer_source({"pretrained": p.pretrained})
    own_tokens = schema.encoder["source"].get("level") == "pretrained"
    if schema.encoder.get("target") is not None or not own_tokens:  # before loading weights
        raise ModelError(
            "pretrained-seq2seq reads its own tokens: leave `data.tokenizer` unset (the "
            "model's tokenizer is used for both sides)"
        )
    auto = transformers.AutoModelForSeq2SeqLM
    net = hugging_face_model(auto, source, p.pretrained, "a Hugging Face encoder–decoder")
    return PretrainedSeq2Seq(schema, net)


register_model(
    "pretrained-seq2seq",
    PretrainedSeq2SeqParams,
    ("parallel",),
    "pretrained Hugging Face encoder–decoder (Marian, T5, BART ...), fine-tuned",
    tasks=("translation",),
    tokenizer=tokenizer_source,
)(build)
