"""Mixed precision, torch.compile and channels-last: each works on CPU, or stands aside."""

import pytest
import torch

from deepworks.core.errors import TrainingError
from deepworks.train.trainer import resolve_device
from tests.conftest import killed_and_resumed, tiny_config
from tests.test_trainer import _fit


def _dtypes_seen(raw):
    """The dtype of the first linear layer's output in training and in evaluation."""
    seen = {"train": set(), "eval": set()}
    original = torch.nn.Linear.forward

    def spy(self, x):
        out = original(self, x)
        seen["train" if self.training else "eval"].add(out.dtype)
        return out

    torch.nn.Linear.forward = spy
    try:
        *_, state = _fit(raw)
    finally:
        torch.nn.Linear.forward = original
    return seen, state


@pytest.mark.parametrize(("precision", "dtype"), [("bf16", torch.bfloat16), ("fp16", torch.half)])
def test_mixed_precision_trains_under_autocast_and_evaluates_in_fp32(precision, dtype):
    raw = tiny_config("digits", epochs=3, precision=precision)
    seen, state = _dtypes_seen(raw)
    assert seen["train"] == {dtype}  # the step ran in half precision
    assert seen["eval"] == {torch.float32}  # the metrics did not
    assert state.history[-1]["valid_accuracy"] > 0.8  # and it still learns


def test_an_fp16_run_resumes_exactly_with_its_gradient_scaler(tmp_path):
    raw = tiny_config("iris", epochs=3, precision="fp16")
    full, resumed = killed_and_resumed(raw, "auto", tmp_path, kill_after_epoch=1)
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_channels_last_lays_out_image_models_and_leaves_others_alone():
    model, *_, state = _fit(tiny_config("digits", model="cnn", epochs=2, channels_last=True))
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert state.history[-1]["valid_accuracy"] > 0.8
    mlp, *_ = _fit(tiny_config("iris", epochs=1, channels_last=True))  # no conv: a no-op
    assert all(p.is_contiguous() for p in mlp.parameters())


@pytest.mark.slow
def test_compiled_training_matches_eager():
    raw = tiny_config("iris", epochs=2)
    raw["model"]["dropout"] = 0.0  # compiled dropout draws its masks from another generator
    raw["model"]["batch_norm"] = False  # and compiled batch norm sums in another order
    eager, *_ = _fit(raw)
    raw["train"]["compile"] = True
    compiled, *_ = _fit(raw)
    for (name, a), b in zip(
        eager.state_dict().items(), compiled.state_dict().values(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-4), name


def test_devices_resolve_or_explain():
    # `auto` takes the accelerator that is there, on this machine whatever it has
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    assert resolve_device("auto").type == ("cuda" if cuda else "mps" if mps else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(TrainingError, match="no CUDA device"):
            resolve_device("cuda")


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto") == torch.device(expected)
    if not cuda:  # asking for CUDA where there is none is a clear error, not a crash later
        with pytest.raises(TrainingError, match="no CUDA device"):
            resolve_device("cuda")
    else:
        assert resolve_device("cuda") == torch.device("cuda")
