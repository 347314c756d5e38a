"""Environments to act in: Gymnasium ids and board games (loaded when a run asks)."""

from deepworks.modalities.environment import encoder, sources  # noqa: F401
