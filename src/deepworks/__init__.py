"""deepworks: build, train, evaluate and reuse deep-learning models.

>>> import deepworks
>>> run = deepworks.run("examples/digits.yaml")           # doctest: +SKIP
>>> deepworks.load(run.path).predict("some_digit.png")    # doctest: +SKIP
"""

from deepworks.config import ExperimentConfig, load_config
from deepworks.data import load_data
from deepworks.errors import DeepworksError
from deepworks.estimators import DeepClassifier, DeepRegressor
from deepworks.experiment import resume, run
from deepworks.models import build_model
from deepworks.predict import Run, load

__version__ = "0.1.0"

__all__ = [
    "DeepClassifier",
    "DeepRegressor",
    "DeepworksError",
    "ExperimentConfig",
    "Run",
    "build_model",
    "load",
    "load_config",
    "load_data",
    "resume",
    "run",
]


def evaluate(run_ref, data=None, runs_dir="runs"):
    """Metrics of a finished run on its test split, or on new labelled data."""
    return load(run_ref, runs_dir).evaluate(data)
