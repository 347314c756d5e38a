"""The data audit: leakage, duplicates, imbalance, empty cells and constant columns."""

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

import deepworks
from deepworks.analyses.audit import audit
from deepworks.config import DataConfig
from deepworks.tasks import load_data


def _cancer() -> pd.DataFrame:
    return load_breast_cancer(as_frame=True).frame


def test_rows_duplicated_across_the_splits_are_reported_as_leakage(tmp_path, cli):
    frame = _cancer()
    pd.concat([frame, frame.sample(150, random_state=0)]).to_csv(
        tmp_path / "leaky.csv", index=False
    )
    cfg = DataConfig(dataset="csv", path=tmp_path / "leaky.csv", target="target")
    bundle = load_data(cfg)
    report = audit(bundle)
    train = {row.tobytes() for row in bundle.train.x.numpy()}
    leaked = sum(row.tobytes() in train for row in bundle.test.x.numpy())
    assert leaked > 0 and report["stats"]["exact_test_rows_in_train"] == leaked
    messages = [f["message"] for f in report["findings"] if f["check"] == "leakage"]
    assert any(m.startswith(f"{leaked} of {len(bundle.test)} test rows") for m in messages)
    config = tmp_path / "leak.yaml"
    config.write_text(
        f"data: {{dataset: csv, path: {tmp_path / 'leaky.csv'}, target: target}}\n"
        "model: {name: mlp, hidden: [8]}\ntrain: {epochs: 1}\n"
    )
    result = cli("run", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.code == 0 and "data audit:" in result.out and "test rows" in result.out


def test_a_low_cardinality_table_shares_rows_by_chance_and_is_not_called_leaky(tmp_path):
    """Passengers described by sex, age band and class: different people, identical rows. The
    audit says so (compared on every column as read) instead of crying leakage."""
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "sex": rng.choice(["f", "m"], n),
            "age_band": rng.choice(["child", "adult", "senior"], n),
            "class": rng.choice([1, 2, 3], n),
        }
    )
    frame["survived"] = np.where((frame["sex"] == "f") | (frame["class"] == 1), "yes", "no")
    frame.to_csv(tmp_path / "passengers.csv", index=False)
    report = audit(
        load_data(DataConfig(dataset="csv", path=tmp_path / "passengers.csv", target="survived"))
    )
    assert report["stats"]["exact_test_rows_in_train"] > 0  # they do share rows
    assert not [f for f in report["findings"] if f["check"] == "leakage"]
    shared = [f for f in report["findings"] if f["check"] == "shared rows"]
    assert shared and shared[0]["severity"] == "info"
    assert (
        "all their columns as read" in shared[0]["message"]
        and "not leakage" in shared[0]["message"]
    )


def test_clean_data_has_no_leakage_or_duplicates():
    report = audit(load_data(DataConfig(dataset="breast-cancer")))
    assert not [f for f in report["findings"] if f["severity"] == "warning"]
    assert report["stats"]["exact_test_rows_in_train"] == 0


def test_imbalance_empty_cells_and_constant_columns(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "always": 7.0,  # a constant column
            "gappy": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "label": np.where(np.arange(n) < 380, "common", "rare"),  # 19:1
        }
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    run = deepworks.run(
        {
            "data": {"dataset": "csv", "path": str(tmp_path / "t.csv"), "target": "label"},
            "model": {"name": "mlp", "hidden": [8]},
            "train": {"epochs": 1},
            "evaluate": {"baselines": False},
        },
        runs_dir=tmp_path / "runs",
        progress=False,
    )
    checks = {f["check"]: f["message"] for f in run.audit}
    assert (
        "imbalanced" in checks["class balance"] and "balanced accuracy" in checks["class balance"]
    )
    assert "`gappy`" in checks["missing values"]
    assert "`always`" in checks["constant column"]


def test_a_rising_validation_loss_is_called_overfitting():
    from deepworks.analyses.audit import training_findings

    def history(valid):
        train = [1.0 - 0.1 * i for i in range(len(valid))]
        return [{"train_loss": t, "valid_loss": v} for t, v in zip(train, valid, strict=True)]

    rising = training_findings(history([1.0, 0.6, 0.5, 0.6, 0.8]), kept_epoch=3)
    assert len(rising) == 1 and "rose 60% after epoch 3" in rising[0]["message"]
    assert "early stopping kept epoch 3" in rising[0]["message"]
    assert training_findings(history([1.0, 0.8, 0.7, 0.65, 0.6]), None) == []  # still learning
    assert training_findings(history([1.0, 0.6, 0.5, 0.52, 0.53]), None) == []  # within 10%
