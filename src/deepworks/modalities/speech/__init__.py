"""Speech: clips with what is said in them (speech recognition)."""

from deepworks.modalities.speech import augment, encoder, sources  # noqa: F401
