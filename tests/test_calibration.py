"""Decision support: calibration error, temperature scaling, selective prediction."""

import numpy as np
import pytest
import torch

import deepworks
from deepworks.metrics import calibration as cal
from tests.conftest import tiny_config


def _overconfident(n=4000, k=4, temperature=3.0, seed=0):
    """Labels drawn from softmax(z); the model reports z × temperature: overconfident."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, k, generator=g) * 1.5
    y = torch.multinomial(z.softmax(-1), 1, generator=g).squeeze(1)
    return z * temperature, y


def test_temperature_scaling_recovers_the_overconfidence_and_lowers_ece():
    logits, y = _overconfident(temperature=3.0)
    t = cal.fit_temperature(logits, y)
    assert t == pytest.approx(3.0, rel=0.1)
    before = cal.expected_calibration_error(logits.softmax(-1), y)
    after = cal.expected_calibration_error((logits / t).softmax(-1), y)
    assert before > 0.1 and after < 0.03


def test_selective_threshold_by_hand():
    confidence = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([1, 1, 1, 0, 1, 0], dtype=float)
    assert cal.selective_threshold(confidence, correct, 1.0) == 0.9  # the top three are right
    assert cal.selective_threshold(confidence, correct, 0.8) == 0.7  # 4 of 5 above 0.7
    assert cal.selective_threshold(confidence, 1 - correct, 0.9) == float("inf")  # never
    assert cal.coverage_and_precision(confidence, correct, 0.9) == (0.5, 1.0)


def test_selective_prediction_reaches_the_requested_precision_on_test(tmp_path):
    raw = tiny_config("digits", epochs=2)
    raw["evaluate"] = {"target_precision": 0.99, "baselines": False}
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    test = run.metrics["test"]
    assert test["accuracy"] < 0.99  # the target is above what the model gets on everything
    assert 0.3 < test["selective_coverage"] < 1  # so it answers some and refers the rest
    assert test["selective_precision"] >= 0.99 - 0.02  # tolerance: a 270-row test split
    assert (run.path / "calibration.png").is_file()
    out = run.predict(np.random.default_rng(0).random((40, 8, 8)))
    referred = out["decision"] == "refer to a human"
    assert referred.any()
    unsure = out["confidence"] < test["selective_threshold"]
    novel = out["out_of_distribution"] != ""  # noise: referred however confident
    assert (referred == (unsure | novel)).all() and novel.all()
    assert np.allclose(out.filter(like="proba_").sum(axis=1), 1, atol=1e-5)


def test_a_validation_split_that_cannot_calibrate_gives_a_bounded_temperature():
    """Every validation answer right and confident: the NLL falls as T → 0 for ever; the fit
    stops at its bound instead of returning 0 (and NaN probabilities after it)."""
    from deepworks.metrics.calibration import T_RANGE, fit_temperature

    logits = torch.tensor([[8.0, -8.0]] * 50)
    t = fit_temperature(logits, torch.zeros(50, dtype=torch.long))
    assert T_RANGE[0] <= t <= T_RANGE[1]
    assert torch.isfinite((logits / t).softmax(-1)).all()
