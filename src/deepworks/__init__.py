"""deepworks: build, train, evaluate and reuse deep-learning models.

>>> import deepworks
>>> run = deepworks.run("examples/digits.yaml")           # doctest: +SKIP
>>> deepworks.load(run.path).predict("some_digit.png")    # doctest: +SKIP

The public names are imported on first use (PEP 562), so `import deepworks` and the CLI's
start-up do not pay for torch, torchvision and scikit-learn until something needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

from deepworks.core import cpus  # noqa: F401  (its first look at the CPUs, before torch loads)

__version__ = "0.1.0"

_PUBLIC = {
    "DeepClassifier": "deepworks.estimators",
    "DeepRegressor": "deepworks.estimators",
    "DeepworksError": "deepworks.core.errors",
    "ExperimentConfig": "deepworks.config",
    "Run": "deepworks.predict",
    "build_model": "deepworks.models",
    "load": "deepworks.predict",
    "load_config": "deepworks.catalog",
    "load_data": "deepworks.tasks",
    "resume": "deepworks.experiment",
    "run": "deepworks.experiment",
    "tune": "deepworks.tuning",
}
__all__ = [*sorted(_PUBLIC), "evaluate"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'deepworks' has no attribute {name!r}")


def evaluate(run_ref, data=None, runs_dir="runs"):
    """Metrics of a finished run on its test split, or on new labelled data."""
    from deepworks.predict import load

    return load(run_ref, runs_dir).evaluate(data)
