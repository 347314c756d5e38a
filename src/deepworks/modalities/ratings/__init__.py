"""Ratings: users' ratings of items, for recommendation."""

from deepworks.modalities.ratings import encoder, sources  # noqa: F401  (registers them)
