"""Models: a registry and one file per family. Importing this package registers them all."""

from deepworks.models import (  # noqa: F401  (registers the families)
    agent,
    autoencoder,
    bert,
    cnn,
    conv1d,
    crnn,
    crnn_ctc,
    detector,
    gan,
    mlp,
    pretrained_seq2seq,
    rcnn,
    recommender,
    recurrent,
    rnn_seq2seq,
    segmenter,
    som,
    ssdlite,
    transformer,
    transformer_ctc,
    transformer_seq2seq,
    vision,
    wav2vec2_ctc,
)
from deepworks.models.registry import MODELS, build_model, register_model

__all__ = ["MODELS", "build_model", "register_model"]
