"""Export, compression, the deployment card and the REST server (started for real)."""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch

import deepworks
from deepworks.deploy import build_card, export_network
from deepworks.deploy.compress import pruned
from deepworks.deploy.export import FORMATS, ExportedModel, needs_beyond_forward
from deepworks.models import MODELS, build_model
from deepworks.tasks import get_task
from tests.conftest import assert_user_error, tiny_config
from tests.test_models import SCHEMAS, _cases, _inputs


def _model_and_input(name, key):
    schema = SCHEMAS[key]
    tasks = MODELS.entry(name).meta["tasks"]
    if schema.task not in tasks:
        schema = dataclasses.replace(schema, task=tasks[0])
    torch.manual_seed(0)
    model = build_model(name, {}, schema, pretrained=False)
    x = _inputs(schema, model)
    # Batch-norm statistics as training leaves them: with the defaults (mean 0, var 1) a deep
    # random network's outputs reach 1e7, where fp32 rounding alone exceeds 1e-4.
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        model.train()
        with torch.no_grad():
            for _ in range(20):
                model(torch.randn(16, *x.shape[1:]))
    return model.eval(), get_task(schema), x


def _fp32_rounding(model, x) -> float:
    """How far the eager model's own fp32 result is from fp64: no export can do better."""
    import copy

    with torch.no_grad():
        wide = copy.deepcopy(model).double()(x if x.dtype == torch.long else x.double())
        return float((model(x).double() - wide).abs().max())


@pytest.mark.parametrize(("name", "schema_key"), list(_cases()))
def test_every_family_exports_to_onnx_with_parity(name, schema_key, tmp_path):
    model, task, x = _model_and_input(name, schema_key)
    if task.generates == "images":
        pytest.skip("GANs are refused with a message (test below)")
    result = export_network(model, x, "onnx", tmp_path / "m.onnx")
    # ≤ 1e-4, or (a random 94-layer inception_v3) within fp32's own rounding of the model
    assert result["parity"] <= max(1e-4, 2 * _fp32_rounding(model, x)), result
    # the batch dimension is free: three rows through a graph traced on two
    exported = ExportedModel(tmp_path / "m.onnx")
    x3 = torch.cat([x, x[:1]])
    with torch.no_grad():
        expected = model(x3).float()
    assert torch.allclose(exported(x3).float(), expected, atol=max(1e-4, result["parity"]))


def test_text_models_trace_without_baking_in_a_length(tmp_path):
    """Models trim padding to the longest text; the traced graph must not keep one width."""
    for name in ("lstm", "transformer"):
        model, _, x = _model_and_input(name, "text")
        export_network(model, x, "onnx", tmp_path / f"{name}.onnx")
        short = torch.zeros(3, 12, dtype=torch.long)
        short[0, :2], short[1, :7], short[2, :12] = 5, 6, 7
        with torch.no_grad():
            expected = model(short)
        got = ExportedModel(tmp_path / f"{name}.onnx")(short)
        assert torch.allclose(got, expected, atol=1e-5), name


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
def test_torchscript_export_with_parity(name, tmp_path):
    key = {"mlp": "table", "cnn": "gray-8x8", "lstm": "text"}[name]
    model, _, x = _model_and_input(name, key)
    assert export_network(model, x, "torchscript", tmp_path / "m.pt")["parity"] <= 1e-4


def test_tasks_that_need_more_than_forward_are_named():
    model, task, x = _model_and_input("som", "table")
    assert needs_beyond_forward(task, model, x) == "encode"  # where its BMU lies
    model, task, x = _model_and_input("mlp", "table")
    assert needs_beyond_forward(task, model, x) is None


def test_pruning_zeroes_the_smallest_weights_across_layers():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 50), torch.nn.ReLU(), torch.nn.Linear(50, 2))
    thin, zero_share = pruned(model, 0.6)
    weights = torch.cat([thin[0].weight.flatten(), thin[2].weight.flatten()])
    assert (weights == 0).float().mean() == pytest.approx(0.6, abs=0.01)
    kept = weights[weights != 0].abs().min()
    original = torch.cat([model[0].weight.flatten(), model[2].weight.flatten()])
    assert kept >= original.abs().kthvalue(int(0.6 * len(original))).values  # smallest went
    assert 0.5 < zero_share < 0.6  # biases stay
    assert not hasattr(thin[0], "weight_orig")  # the mask is baked in


@pytest.fixture(scope="module")
def mnist_mlp(tmp_path_factory):
    raw = {
        "data": {"dataset": "mnist-5k", "batch_size": 64},
        "model": {"name": "mlp", "hidden": [256, 128]},
        "train": {"epochs": 2, "optimizer": {"name": "adam", "lr": 0.001}},
        "evaluate": {"baselines": False, "explain": 0},
    }
    return deepworks.run(raw, runs_dir=tmp_path_factory.mktemp("runs"), progress=False)


def _int8_shrinks(card):
    rows = {r["format"]: r for r in card["rows"]}
    eager, onnx, int8 = rows["pytorch (eager)"], rows["onnx"], rows["onnx int8"]
    assert onnx["parity"] <= 1e-4 and onnx["change"] == 0
    assert eager["size_bytes"] / int8["size_bytes"] >= 3.5
    assert onnx["size_bytes"] / int8["size_bytes"] >= 3.5
    assert int8["change"] >= -0.01  # at most one point of accuracy lost
    assert all(r["verdict"] == "pass" for r in (eager, onnx, int8))
    assert all(r["p50_ms"] > 0 and r["p99_ms"] >= r["p50_ms"] for r in card["rows"])
    return rows


def test_int8_shrinks_an_mlp_four_times_and_the_card_says_so(mnist_mlp, cli):
    result = cli("export", mnist_mlp.path, "--prune", "0.8", "-f", "onnx", "-f", "torchscript")
    assert result.code == 0, result.err
    card = json.loads(Path(result.last_line).read_text())
    rows = _int8_shrinks(card)
    assert rows["torchscript"]["parity"] <= 1e-4
    thin = rows["pytorch pruned 80%"]
    assert 0.75 < thin["zero_share"] < 0.8 and thin["metric"] is not None
    assert thin["sparse_bytes"] < 0.5 * rows["pytorch (eager)"]["size_bytes"]
    assert "onnx int8" in (mnist_mlp.path / "report.html").read_text()  # the report's section


def test_int8_shrinks_an_lstm_four_times(tmp_path):
    raw = tiny_config("fine-foods", model="lstm", epochs=2)
    raw["data"].update(limit=1500, tokenizer={"max_length": 48, "min_freq": 2})
    raw["model"] = {"name": "lstm", "embed_dim": 64, "hidden": 64}
    raw["evaluate"] = {"baselines": False, "explain": 0}
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    _int8_shrinks(build_card(run, ["onnx"], True, None, 1))


def test_tolerances_from_the_config_fail_a_form(mnist_mlp, tmp_path):
    import shutil

    copy = tmp_path / "strict"
    shutil.copytree(mnist_mlp.path, copy)
    config = (copy / "config.yaml").read_text()
    (copy / "config.yaml").write_text(
        config.replace("max_latency_ms: null", "max_latency_ms: 0.000001")
    )
    card = build_card(deepworks.load(copy), ["onnx"], False, None, 1)
    assert all(r["verdict"].startswith("fail: p99") for r in card["rows"])


def test_export_refuses_clearly(tmp_path, cli):
    raw = {
        "task": "gan",
        "data": {"dataset": "digits"},
        "model": {"name": "dcgan", "latent": 8, "width": 8},
        "train": {"epochs": 1},
        "evaluate": {"baselines": False},
    }
    gan = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    assert_user_error(cli("export", gan.path), "GAN", "deepworks generate")
    assert_user_error(cli("export", gan.path, "-f", "onnxx"), "Did you mean `onnx`")
    assert cli("export", gan.path, "--prune", "1.5").code == 2
    assert sorted(FORMATS.names()) == ["onnx", "torchscript"]


# ----------------------------------------------------------------------------- serving
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The breast-cancer MLP, exported, behind a real `deepworks serve` on loopback."""
    runs = tmp_path_factory.mktemp("runs")
    raw = tiny_config("breast-cancer", epochs=5)
    raw["evaluate"] = {"baselines": False, "explain": 0}
    run = deepworks.run(raw, runs_dir=runs, progress=False)
    build_card(run, ["onnx"], False, None, 1)
    port = _free_port()
    exe = Path(sys.executable).with_name("deepworks")
    env = {**os.environ, "DEEPWORKS_TOKEN": "s3cret"}
    args = [str(exe), "serve", str(run.path), "--port", str(port), "--max-bytes", "20000"]
    args += ["--header-timeout", "2", "--body-timeout", "2"]
    log = (runs / "server.log").open("w")
    process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail((runs / "server.log").read_text())
    from deepworks.catalog import load_config
    from deepworks.tasks import load_data

    cfg = load_config(run.folder.config)
    rows = load_data(cfg.data, cfg.task, cfg.seed).test_rows
    client = httpx.Client(base_url=url, headers={"Authorization": "Bearer s3cret"}, timeout=30)
    yield client, run, rows.drop(columns="target"), rows["target"]
    client.close()
    process.terminate()
    process.wait(10)
    log.close()


def test_server_predicts_as_the_run_does(server):
    client, run, rows, _ = server
    meta = client.get("/metadata").json()
    assert meta["runtime"] == "onnxruntime" and meta["classes"] == run.schema.classes
    assert meta["inputs"]["columns"] == list(rows.columns)
    one = client.post("/predict", json=rows.iloc[0].to_dict())
    assert one.status_code == 200
    expected = run.predict(rows.head(5))
    assert one.json()["prediction"] == expected["prediction"][0]
    batch = client.post("/predict/batch", json={"rows": rows.head(5).to_dict("records")})
    got = [r["prediction"] for r in batch.json()["predictions"]]
    assert got == list(expected["prediction"])
    column = f"proba_{run.schema.classes[1]}"
    probabilities = [r[column] for r in batch.json()["predictions"]]
    assert np.allclose(probabilities, expected[column], atol=1e-5)
    assert client.get("/docs").status_code == 200
    assert "/predict/batch" in client.get("/openapi.json").json()["paths"]


def test_server_micro_batches_concurrent_requests_without_errors(server):
    client, _, rows, _ = server
    before = client.get("/metadata").json()["micro_batches"]
    payloads = [rows.iloc[i % len(rows)].to_dict() for i in range(200)]
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda p: client.post("/predict", json=p).status_code, payloads))
    assert codes == [200] * 200
    after = client.get("/metadata").json()["micro_batches"]
    requests, calls = after["requests"] - before["requests"], after["batches"] - before["batches"]
    assert requests == 200 and calls < requests  # some requests shared a model call


def test_server_answers_bad_requests_with_4xx(server):
    client, _, rows, _ = server
    row = rows.iloc[0].to_dict()
    bad = client.post(
        "/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["detail"]
    missing = client.post("/predict", json={k: v for k, v in row.items() if k != "mean radius"})
    assert missing.status_code == 422 and "mean radius" in missing.json()["detail"]
    text = client.post("/predict", json={**row, "mean radius": "large"})
    assert text.status_code == 422 and "large" in text.json()["detail"]
    assert client.post("/predict/batch", json={"rows": "x"}).status_code == 422
    huge = client.post("/predict/batch", json={"rows": [row] * 200})  # over --max-bytes 20000
    assert huge.status_code == 413
    # one bad request among good ones fails alone
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(
                lambda p: client.post("/predict", json=p).status_code,
                [row] * 7 + [{"nothing": 1}] + [row] * 7,
            )
        )
    assert codes.count(422) == 1 and codes.count(200) == 14


def test_client_mistakes_are_one_log_line_each_never_a_traceback(server):
    client, run, rows, _ = server
    log = run.path.parent / "server.log"
    row = rows.iloc[0].to_dict()
    for bad in ({**row, "mean radius": "huge"}, {**row, "mean area": 1e308}, {"x": 1}):
        assert client.post("/predict", json=bad).status_code == 422
    assert httpx.post(f"{client.base_url}/predict", json=row).status_code == 401
    time.sleep(0.2)  # the server's log lines are written as the answers go out
    text = log.read_text()
    assert "Traceback" not in text
    assert sum("'huge'" in line for line in text.splitlines()) == 1
    assert sum("`mean area` row 1 holds 1e+308" in line for line in text.splitlines()) == 1
    assert any("→ 401" in line for line in text.splitlines())


def _raw_exchange(server, request: bytes) -> bytes:
    """Send ``request`` and stop; what the server answers before it closes (b"" if nothing).
    A server that waited forever would leave the socket's own 20 s timeout to fail the test."""
    client, *_ = server
    with socket.create_connection((client.base_url.host, client.base_url.port)) as s:
        s.settimeout(20)
        s.sendall(request)
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
        return answer


def test_a_client_too_slow_with_its_headers_is_cut_off(server):
    half = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: app"  # and nothing more
    assert _raw_exchange(server, half) == b""


def test_a_client_too_slow_with_its_body_gets_408(server):
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
    head += b"Content-Type: application/json\r\nContent-Length: 50\r\n\r\n"
    answer = _raw_exchange(server, head + b'{"mean')
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"did not arrive within 2 s" in answer


def test_server_refuses_requests_without_the_token(server):
    client, _, rows, _ = server
    url = str(client.base_url)
    assert httpx.get(f"{url}/health").status_code == 200  # health is open
    anonymous = httpx.post(f"{url}/predict", json=rows.iloc[0].to_dict())
    assert anonymous.status_code == 401
    wrong = httpx.get(f"{url}/metadata", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    for path in ("/openapi.json", "/docs"):  # the schema and its page are behind it too
        assert httpx.get(f"{url}{path}").status_code == 401
        assert client.get(path).status_code == 200  # the fixture's client carries the token


# ------------------------------------------------------------------------- distillation
def test_a_student_learns_from_the_teacher_alone(tmp_path, cli):
    raw = tiny_config("digits", model="cnn", epochs=4)
    raw["evaluate"] = {"baselines": False, "explain": 0}
    teacher = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    # alpha 1: the labels carry no weight, whatever the student learns comes from the teacher
    result = cli(
        "distill", teacher.path, "--model", "mlp", "--alpha", "1", "--set", "model.hidden=[32]",
        "--set", "train.epochs=15", "--set", "evaluate.baselines=false", "--runs-dir", tmp_path,
        "-q",
    )  # fmt: skip
    assert result.code == 0, result.err
    student = deepworks.load(result.last_line)
    assert student.metrics["test"]["accuracy"] > 0.85  # ten classes: chance is 0.1
    agree = (student.predict(_digit_images()) == teacher.predict(_digit_images()))["prediction"]
    assert agree.mean() > 0.85
    rows = student.leaderboard.set_index("model")
    assert rows.loc["cnn (teacher)", "accuracy"] == teacher.metrics["test"]["accuracy"]
    assert rows.loc["cnn (teacher)", "size_bytes"] > rows.loc["mlp (deep)", "size_bytes"]


def test_a_teacher_that_read_other_data_is_refused(tmp_path, cli):
    raw = tiny_config("digits", model="cnn", epochs=1)
    raw["evaluate"] = {"baselines": False, "explain": 0}
    teacher = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    # another seed, another split: the teacher has seen the student's test images
    result = cli("distill", teacher.path, "--model", "mlp", "--set", "seed=1", "--runs-dir",
                 tmp_path, "-q")  # fmt: skip
    assert_user_error(result, "read its data differently")
    failed = [p for p in tmp_path.iterdir() if p.name.endswith("distilled-mlp")]
    assert json.loads((failed[0] / "run.json").read_text())["status"] == "failed"


def _digit_images():
    from sklearn.datasets import load_digits

    return (load_digits().images[-100:] / 16).astype(np.float32)


def test_images_come_as_uploads(tmp_path):
    """The image path of the same app, in process (FastAPI's test client)."""
    import io

    from fastapi.testclient import TestClient
    from PIL import Image

    from deepworks.deploy.server import create_app

    raw = tiny_config("digits", model="cnn", epochs=2)
    raw["evaluate"] = {"baselines": False, "explain": 0}
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    images = _digit_images()[:3]

    def png(array) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray((array * 255).astype("uint8")).save(buffer, format="PNG")
        return buffer.getvalue()

    with TestClient(create_app(run)) as client:
        one = client.post("/predict", files={"file": ("a.png", png(images[0]), "image/png")})
        assert one.status_code == 200
        assert one.json()["prediction"] == run.predict(images[:1])["prediction"][0]
        files = [("files", (f"{i}.png", png(im), "image/png")) for i, im in enumerate(images)]
        batch = client.post("/predict/batch", files=files).json()["predictions"]
        assert [r["prediction"] for r in batch] == list(run.predict(images)["prediction"])
        broken = client.post("/predict", files={"file": ("x.png", b"not a png", "image/png")})
        assert broken.status_code == 422 and "'x.png': not a readable image" in broken.text
        assert client.post("/predict", json={"pixels": [1, 2]}).status_code == 415


def test_texts_come_as_json(tmp_path):
    import pandas as pd
    from fastapi.testclient import TestClient

    from deepworks.deploy.server import create_app

    rows = [("lovely fresh tea", "good"), ("stale bland tea", "bad")] * 30
    pd.DataFrame(rows, columns=["review", "label"]).to_csv(tmp_path / "r.csv", index=False)
    raw = tiny_config("csv", model="lstm", epochs=3)
    raw["data"].update(path=str(tmp_path / "r.csv"), text="review", target="label")
    raw["model"] = {"name": "lstm", "embed_dim": 16, "hidden": 16}
    raw["evaluate"] = {"baselines": False, "explain": 0}
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    texts = ["lovely fresh tea", "stale bland tea"]
    with TestClient(create_app(run)) as client:
        one = client.post("/predict", json={"text": texts[0]}).json()
        assert one["prediction"] == run.predict(texts[:1])["prediction"][0]
        batch = client.post("/predict/batch", json={"texts": texts}).json()["predictions"]
        assert [r["prediction"] for r in batch] == list(run.predict(texts)["prediction"])
        assert client.post("/predict", json={"review": "x"}).status_code == 422
        assert client.post("/predict/batch", json={"texts": [1, 2]}).status_code == 422
        assert client.get("/metadata").json()["inputs"]["json"].startswith('{"text"')
