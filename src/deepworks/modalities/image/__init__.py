"""Images: arrays or files in class subfolders, resized and normalized."""

from deepworks.modalities.image import augment, encoder, sources  # noqa: F401  (registers them)
