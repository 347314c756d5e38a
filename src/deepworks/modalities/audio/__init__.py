"""Audio: WAV clips with labels, as log-mel spectrograms."""

from deepworks.modalities.audio import (  # noqa: F401  (registers them)
    augment,
    encoder,
    sources,
    spoken_digits,
)
