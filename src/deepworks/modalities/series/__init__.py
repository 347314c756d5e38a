"""Series: values over time to forecast, or labelled series to classify."""

from deepworks.modalities.series import augment, encoder, sources  # noqa: F401  (registers them)
