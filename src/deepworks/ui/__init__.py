"""The dashboard (`deepworks ui`): runs side by side, a run's page, trying a model, studies."""

from deepworks.ui.app import create_app

__all__ = ["create_app"]
