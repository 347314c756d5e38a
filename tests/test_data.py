import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from deepworks.config import DataConfig
from deepworks.core.errors import DataError
from deepworks.data import DATASETS
from deepworks.tasks import load_data
from tests.conftest import assert_user_error, tiny_config

# spoken-digits and spoken-sentences are synthesized (a minute or more, into the user's
# cache): tests/test_audio.py and tests/test_speech.py speak small ones of their own instead.
SYNTHESIZED = {"spoken-digits", "spoken-sentences"}
# Environments hold no examples to split (their data is what an agent meets by acting):
# tests/test_agents.py tests them.
BUILTINS = [
    e.name
    for e in DATASETS
    if e.meta["builtin"] and e.name not in SYNTHESIZED and e.meta["modality"] != "environment"
]
# Datasets whose own test split is kept whole, whatever `data.limit` (which caps the rest).
OWN_TEST = {"fine-foods", "numbers-fr", "numbers-de", "numbers-es", "reviews-es"}


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_datasets_load_split_and_encode(name):
    if name == "reviews-es" and shutil.which("apertium") is None:
        pytest.skip("reviews-es needs apertium-eng-spa (make install adds it where it may)")
    bundle = load_data(DataConfig(dataset=name, limit=300), seed=0)
    schema = bundle.schema
    sizes = [len(bundle.train), len(bundle.valid), len(bundle.test)]
    assert min(sizes) > 0
    if schema.task != "forecast":  # `limit` samples rows; a series keeps its whole span
        own_test = len(bundle.test) if name in OWN_TEST else 0  # kept whatever the limit
        if name == "reviews-es":  # whole reviews: the sentences of up to 300 pairs' reviews
            assert 250 <= sum(sizes) - own_test <= 300
        else:
            assert sum(sizes) == min(300, sum(sizes) - own_test) + own_test
    x, _y = bundle.train[0]
    if schema.modality == "parallel":  # sentences padded to the longest, within max_length
        assert x.shape[0] <= schema.input_shape[0]
    else:
        assert tuple(x.shape) == schema.input_shape
    assert torch.isfinite(bundle.train.x).all()
    if schema.task == "classification":
        assert len(schema.classes) >= 2 and int(bundle.train.y.max()) < len(schema.classes)


def test_splits_are_disjoint_stratified_and_deterministic():
    cfg = DataConfig(dataset="digits")
    a, b = load_data(cfg, seed=0), load_data(cfg, seed=0)
    assert torch.equal(a.test.x, b.test.x)
    c = load_data(cfg, seed=1)
    assert not torch.equal(a.test.x, c.test.x)
    rows = {tuple(t.flatten().tolist()) for t in a.train.x}
    assert not any(tuple(t.flatten().tolist()) in rows for t in a.test.x[:50])
    # Stratified: each split's class shares match the whole set's within a point or two.
    whole = np.bincount(np.concatenate([d.y.numpy() for d in (a.train, a.valid, a.test)]))
    for split in (a.train, a.test):
        share = np.bincount(split.y.numpy(), minlength=10) / len(split)
        assert np.abs(share - whole / whole.sum()).max() < 0.02


@pytest.fixture
def mixed_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.normal(50, 10, n),
            "city": rng.choice(["oslo", "rome", "lima"], n),
        }
    )
    frame.loc[::7, "age"] = np.nan  # missing numbers
    frame.loc[::11, "city"] = None  # missing categories
    frame["bought"] = np.where(frame["income"] > 50, "yes", "no")
    path = tmp_path / "shop.csv"
    frame.to_csv(path, index=False)
    return path


def test_csv_with_numeric_categorical_and_missing_values(mixed_csv):
    bundle = load_data(DataConfig(dataset="csv", path=mixed_csv, target="bought"))
    schema = bundle.schema
    assert schema.task == "classification" and schema.classes == ["no", "yes"]
    assert schema.input_shape == (2 + 3 + 1,)  # two numbers, three cities + "missing/unseen"
    assert torch.isfinite(bundle.train.x).all()


def test_csv_regression_target_is_inferred(tmp_path):
    frame = pd.DataFrame({"x": np.arange(60.0), "y": np.arange(60.0) * 0.37 + 0.1})
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    bundle = load_data(DataConfig(dataset="csv", path=path, target="y"))
    assert bundle.schema.task == "regression" and bundle.schema.target_scale is not None


def test_parquet_loads_like_csv(mixed_csv, tmp_path):
    path = tmp_path / "shop.parquet"
    pd.read_csv(mixed_csv).to_parquet(path)
    bundle = load_data(DataConfig(dataset="parquet", path=path, target="bought"))
    assert bundle.schema.input_shape == (6,)


def _write(path, text: str | bytes):
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize(
    ("content", "target", "message"),
    [
        ("", "y", "is empty"),
        ("a,b,y\n", "y", "no rows"),
        ("a,b,y\n1,2,x\n3,4,z\n", "label", "no target column `label`"),
        ("a,b,yy\n1,2,x\n3,4,z\n", "y", "Did you mean `yy`?"),
        ("a,y\n1,p\n2,q\nabc,p\n4,q\n" + "5,p\n" * 30, "y", "column `a` is numeric but row 3"),
        ("a,y\n1,p\n2,\n3,q\n" + "4,p\n" * 30, "y", "target `y` is empty in 1 row"),
        (b"a,y\n\xff\xfe1,p\n", "y", "not UTF-8"),
    ],
    ids=[
        "empty",
        "header-only",
        "no-target",
        "target-typo",
        "text-in-numeric",
        "nan-target",
        "utf8",
    ],
)
def test_bad_csv_gets_a_clear_error_naming_file_or_column(tmp_path, content, target, message):
    path = _write(tmp_path / "bad.csv", content)
    with pytest.raises(DataError, match=None) as info:
        load_data(DataConfig(dataset="csv", path=path, target=target))
    assert message in str(info.value)
    assert str(path) in str(info.value) or "column" in str(info.value)


def test_csv_without_path_says_what_to_set():
    with pytest.raises(DataError, match=r"needs `data\.path`"):
        load_data(DataConfig(dataset="csv", target="y"))


def make_image_folder(root, classes=("circle", "square"), per_class=12, size=20):
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            img[5:15, 5:15, c % 3] = 250
            Image.fromarray(img).save(root / name / f"{i}.png")
    return root


def test_image_folder_resizes_and_normalizes(tmp_path):
    root = make_image_folder(tmp_path / "imgs")
    bundle = load_data(DataConfig(dataset="image-folder", path=root, image_size=16))
    assert bundle.schema.input_shape == (3, 16, 16)
    assert bundle.schema.classes == ["circle", "square"]
    x, _y = bundle.train[0]
    assert x.shape == (3, 16, 16) and abs(float(bundle.train.__getitems__([0, 1, 2])[0].mean())) < 2


def test_corrupt_image_is_named(tmp_path):
    root = make_image_folder(tmp_path / "imgs")
    bad = root / "square" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10)
    with pytest.raises(DataError) as info:
        load_data(DataConfig(dataset="image-folder", path=root, image_size=16))
    assert "broken.png" in str(info.value) and "not a readable image" in str(info.value)


def test_empty_class_folder_is_named(tmp_path):
    root = make_image_folder(tmp_path / "imgs")
    (root / "triangle").mkdir()
    with pytest.raises(DataError, match="triangle: class folder has no images"):
        load_data(DataConfig(dataset="image-folder", path=root, image_size=16))


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: _write(p / "bad.csv", ""), "is empty"),
        (lambda p: _write(p / "bad.csv", "a,b\n1,2\n"), "no target column `y`"),
        (lambda p: _write(p / "bad.csv", "a,y\n1,p\nx,q\n" + "3,p\n4,q\n" * 20), "column `a`"),
    ],
    ids=["empty", "missing-target", "text-in-numeric"],
)
def test_cli_bad_data_exits_with_one_message(cli, tmp_path, make, fragment):
    path = make(tmp_path)
    raw = tiny_config()
    raw["data"] = {"dataset": "csv", "path": str(path), "target": "y"}
    cfg = tmp_path / "c.yaml"
    import yaml

    cfg.write_text(yaml.safe_dump(raw))
    result = cli("run", cfg, "--runs-dir", tmp_path / "runs", "-q")
    assert_user_error(result, fragment)


def test_cli_corrupt_image_exits_with_one_message(cli, tmp_path):
    import yaml

    root = make_image_folder(tmp_path / "imgs")
    (root / "circle" / "x.jpg").write_bytes(b"garbage")
    raw = tiny_config(model="cnn")
    raw["data"] = {"dataset": "image-folder", "path": str(root), "image_size": 16}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    assert_user_error(cli("run", cfg, "--runs-dir", tmp_path / "runs", "-q"), "x.jpg")
