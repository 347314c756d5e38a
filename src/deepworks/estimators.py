"""scikit-learn estimators on the same machinery: registry models, Tasks and the Trainer.

They follow scikit-learn's contract (``__init__`` only stores arguments, ``fit`` returns self,
learned attributes end in ``_``), so they work in ``Pipeline``, ``GridSearchCV`` and
``cross_val_score``. 2-D ``X`` is a table; 4-D ``X`` is images (N, C, H, W) in [0, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from deepworks.config import OptimizerConfig, TrainConfig
from deepworks.core.errors import DataError
from deepworks.core.lazy import lazy_module
from deepworks.core.schema import Schema
from deepworks.data.datasets import TensorData
from deepworks.modalities.image.encoder import ImageEncoder
from deepworks.modalities.table.encoder import TableEncoder
from deepworks.models import build_model
from deepworks.runtime import seed_everything, set_threads
from deepworks.tasks import get_task
from deepworks.train.trainer import Trainer

pd = lazy_module("pandas")  # imported on first use: most runs read no table


class _DeepEstimator(BaseEstimator):
    _task = ""

    def __init__(
        self,
        model: str = "mlp",
        model_params: dict[str, Any] | None = None,
        epochs: int = 30,
        batch_size: int = 32,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        random_state: int = 0,
        threads: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.model = model
        self.model_params = model_params
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.threads = threads
        self.verbose = verbose

    def _encode_x(self, X: Any, fit: bool, y: Any = None) -> tuple[torch.Tensor, Any]:
        """X (and y when fitting) checked as scikit-learn checks them (2-D tables or 4-D
        images, finite, dense, at least one sample), then encoded as deepworks encodes."""
        checks: dict[str, Any] = {"dtype": np.float32, "allow_nd": True, "accept_sparse": False}
        if fit:
            numeric = self._task == "regression"
            x, y = validate_data(self, X, y, y_numeric=numeric, **checks)
        else:
            check_is_fitted(self, "model_")
            width = check_array(X, **checks).shape[1]
            if width != self.n_features_in_:
                raise DataError(
                    f"X has {width} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input (it was fit on "
                    f"{self.n_features_in_} features)"
                )
            x = validate_data(self, X, reset=False, **checks)
        if x.ndim not in (2, 4):
            raise DataError(f"X must be 2-D (rows × features) or 4-D images, got shape {x.shape}")
        if fit and len(x) < 2:  # batch norm, and any notion of a split, needs two
            raise DataError(f"{type(self).__name__} needs at least 2 samples to fit; got 1 sample")
        if fit:
            if x.ndim == 2:
                columns = [f"x{i}" for i in range(x.shape[1])]
                self.encoder_ = TableEncoder.fit(pd.DataFrame(x, columns=columns), "X")
            else:
                self.encoder_ = ImageEncoder(size=x.shape[2:], channels=x.shape[1])
                self.encoder_.fit_stats(torch.from_numpy(x))
        if isinstance(self.encoder_, TableEncoder):
            frame = pd.DataFrame(x, columns=self.encoder_.columns)
            return self.encoder_.transform(frame, "X"), y
        return self.encoder_.normalize(torch.from_numpy(x)), y

    def _fit(self, x: torch.Tensor, y: torch.Tensor, schema_kw: dict[str, Any]) -> _DeepEstimator:
        set_threads(self.threads)
        seed_everything(self.random_state)
        modality = "table" if x.dim() == 2 else "image"
        self.schema_ = Schema(
            modality=modality,
            task=self._task,
            input_shape=tuple(x.shape[1:]),
            target="y",
            encoder=self.encoder_.to_dict(),
            **schema_kw,
        )
        self.model_ = build_model(self.model, self.model_params or {}, self.schema_)
        cfg = TrainConfig(
            epochs=self.epochs,
            optimizer=OptimizerConfig(
                name=self.optimizer, lr=self.lr, weight_decay=self.weight_decay
            ),
        )
        trainer = Trainer(cfg, self.random_state, batch_size=self.batch_size, progress=self.verbose)
        state = trainer.fit(self.model_, get_task(self.schema_), TensorData(x, y), None)
        self.history_ = state.history
        self.model_.eval()
        return self

    @torch.inference_mode()
    def _outputs(self, X: Any) -> dict[str, torch.Tensor]:
        x, _ = self._encode_x(X, fit=False)
        task = get_task(self.schema_)
        parts = [task.predict(self.model_, chunk) for chunk in x.split(1024)]
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


class DeepClassifier(ClassifierMixin, _DeepEstimator):
    """A deep classifier with scikit-learn's interface.

    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import cross_val_score
    >>> X, y = load_iris(return_X_y=True)
    >>> cross_val_score(DeepClassifier(epochs=5), X, y, cv=3).shape
    (3,)
    """

    _task = "classification"

    def fit(self, X: Any, y: Any) -> DeepClassifier:
        x, y = self._encode_x(X, fit=True, y=y)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise DataError("y has one class only; a classifier needs at least 2 classes")
        classes = [str(c) for c in self.classes_]
        return self._fit(x, torch.as_tensor(codes, dtype=torch.long), {"classes": classes})

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._outputs(X)["proba"].numpy()

    def predict(self, X: Any) -> np.ndarray:
        labels = self._outputs(X)["label"].numpy()
        return self.classes_[labels]


class DeepRegressor(RegressorMixin, _DeepEstimator):
    """A deep regressor with scikit-learn's interface; the target is standardized inside."""

    _task = "regression"

    def fit(self, X: Any, y: Any) -> DeepRegressor:
        x, y = self._encode_x(X, fit=True, y=y)
        target = torch.as_tensor(np.asarray(y, dtype=np.float32))
        scale = (float(target.mean()), float(target.std(unbiased=False)) or 1.0)
        return self._fit(x, target, {"target_scale": scale})

    def predict(self, X: Any) -> np.ndarray:
        return self._outputs(X)["value"].numpy()
