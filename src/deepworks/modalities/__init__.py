"""The kinds of data, one folder each: its sources, its encoder, its bundle builders and its
augmentation, registered into the shared registries of ``deepworks.data`` when imported."""

from deepworks.modalities import (  # noqa: F401  (registers every kind of data)
    audio,
    environment,
    image,
    parallel,
    ratings,
    scenes,
    series,
    speech,
    table,
    text,
)
