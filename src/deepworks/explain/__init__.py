"""Interpretability: Captum attributions (``attributions``), batched over inputs
(``explainer``), drawn for people (``render``)."""

from deepworks.explain.attributions import METHODS, available, check_methods
from deepworks.explain.explainer import Explanation, explain_batches
from deepworks.explain.render import WRITERS

__all__ = ["METHODS", "WRITERS", "Explanation", "available", "check_methods", "explain_batches"]
