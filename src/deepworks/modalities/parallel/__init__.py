"""Parallel text: sentence pairs (a text and its translation) for sequence-to-sequence tasks."""

from deepworks.modalities.parallel import encoder, sources  # noqa: F401  (registers them)
