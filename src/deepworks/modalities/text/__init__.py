"""Text: a text column (or files) with labels, or text alone for language models."""

from deepworks.modalities.text import augment, encoder, sources  # noqa: F401  (registers them)
