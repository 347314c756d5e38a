"""Tables: scikit-learn's built-in tables, and the bundle of a table with a target column."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deepworks.config import DataConfig
from deepworks.data.bundle import DataBundle, assemble, register_builder, targets
from deepworks.data.sources import Source, TableSource, register_dataset
from deepworks.data.splits import split_indices
from deepworks.modalities.table.encoder import TableEncoder


def _sklearn_table(
    loader_name: str, name: str, class_names: bool
) -> Callable[[DataConfig], Source]:
    """A scikit-learn table as a DataFrame; classes by name (``malignant``), not code (0)."""

    def load(cfg: DataConfig) -> Source:
        from sklearn import datasets

        bunch = getattr(datasets, loader_name)(as_frame=True)
        frame = bunch.frame.copy()
        if class_names:
            frame["target"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
        return TableSource(frame, "target", name)

    return load


for _name, _loader, _task, _help in [
    ("breast-cancer", "load_breast_cancer", "classification", "569 tumours, 30 features"),
    ("iris", "load_iris", "classification", "150 flowers, 4 features, 3 species"),
    ("wine", "load_wine", "classification", "178 wines, 13 features, 3 cultivars"),
    ("diabetes", "load_diabetes", "regression", "442 patients, 10 features, progression"),
]:
    register_dataset(_name, _task, "table", _help)(
        _sklearn_table(_loader, _name, class_names=_task == "classification")
    )


@register_builder("table", "classification", "regression")
def table_bundle(src: TableSource, task: str, cfg: DataConfig, seed: int) -> DataBundle:
    frame = src.frame
    features = frame.drop(columns=[src.target])
    y_all, labels, classes = targets(frame, src.target, task, src.origin)
    train, valid, test = split_indices(len(frame), labels, cfg, seed, src.origin)
    encoder = TableEncoder.fit(features.iloc[train], src.origin, cfg.columns, cfg.max_categories)
    x_all = encoder.transform(features, src.origin)
    return assemble(
        x_all,
        y_all,
        (train, valid, test),
        frame,
        modality="table",
        task=task,
        target=src.target,
        classes=classes,
        encoder=encoder.to_dict(),
        origin=src.origin,
    )
