"""Scenes: images with where things are — boxes (detection) and class masks (segmentation)."""

from deepworks.modalities.scenes import augment, encoder, sources  # noqa: F401
