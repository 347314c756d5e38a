"""From a trained run to a small, fast, served model: export (``export``), compression
(``compress``), the deployment card (``card``) and the REST server (``server``)."""

from deepworks.deploy.card import build_card
from deepworks.deploy.export import FORMATS, ExportedModel, export_network

__all__ = ["FORMATS", "ExportedModel", "build_card", "export_network"]
