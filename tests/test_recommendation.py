"""Recommendation: a time split per user, rating and ranking metrics, popularity beside them."""

import numpy as np
import pandas as pd
import pytest
import torch

import deepworks
from deepworks.config import DataConfig, RatingsConfig
from deepworks.core.schema import Schema
from deepworks.models import build_model
from deepworks.tasks import load_data
from deepworks.tasks.recommendation import rank
from tests.conftest import assert_user_error

COLUMNS = {"user": "who", "item": "what", "rating": "stars", "time": "when"}


def _ratings_csv(path, users=12, items=30, per_user=10, seed=0):
    """Users in two tastes: even users like the low items, odd users the high ones."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        liked = range(0, items // 2) if u % 2 == 0 else range(items // 2, items)
        for t, item in enumerate(rng.choice(list(liked), per_user, replace=False)):
            rows.append((f"u{u}", f"m{item}", float(rng.integers(3, 6)), 1000 + 10 * t + u))
    frame = pd.DataFrame(rows, columns=["who", "what", "stars", "when"])
    frame.sample(frac=1, random_state=seed).to_csv(path, index=False)  # out of time order
    return frame


def test_each_users_ratings_split_in_time(tmp_path):
    frame = _ratings_csv(tmp_path / "r.csv")
    cfg = DataConfig(dataset="csv", path=tmp_path / "r.csv", ratings=RatingsConfig(**COLUMNS))
    bundle = load_data(cfg)
    enc = bundle.schema.encoder
    assert bundle.schema.modality == "ratings" and bundle.schema.task == "recommendation"
    when = {(r.who, r.what): r.when for r in frame.itertuples()}

    def times(data, user):
        named = [(enc["users"][u - 1], enc["items"][i - 1]) for u, i in data.x.tolist()]
        return [when[pair] for pair in named if pair[0] == user]

    for user in enc["users"]:
        train, valid, test = (times(d, user) for d in (bundle.train, bundle.valid, bundle.test))
        # 10 ratings each: 15% → 2 valid (rounded), 15% → 2 test, each after the one before
        assert max(train) < min(valid) and max(valid) < min([*test, np.inf])
    # Items never rated in training have no embedding: they are not in valid or test.
    assert (bundle.valid.x[:, 1] > 0).all() and (bundle.test.x[:, 1] > 0).all()
    assert set(enc["items"]) == {enc["items"][i - 1] for i in bundle.train.x[:, 1].tolist()}


def test_hit_rate_and_ndcg_by_hand():
    scores = torch.tensor([[0.0, *range(20, 0, -1)]])  # item 1 best, item 20 worst
    relevant = {0: {3, 15}}
    hr, ndcg = rank(lambda users: scores.repeat(len(users), 1), relevant, {0: {1}})
    # Item 1 is already seen, so item 3 is ranked 2nd; item 15 is outside the top 10.
    assert hr == 1.0
    assert ndcg == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    hr, ndcg = rank(lambda users: scores.repeat(len(users), 1), {0: {15}}, {})
    assert hr == 0.0 and ndcg == 0.0


@pytest.mark.parametrize("name", ["ncf", "two-tower"])
def test_models_score_pairs_and_every_item(name):
    encoder = {"users": ["a", "b", "c"], "items": [f"m{i}" for i in range(7)]}
    schema = Schema("ratings", "recommendation", (2,), "stars", encoder=encoder)
    model = build_model(name, {"dim": 4, "hidden": [8, 4]}, schema).eval()
    pairs = torch.tensor([[1, 1], [3, 7], [2, 4]])
    assert model(pairs).shape == (3, 2)
    users = torch.tensor([1, 3, 0, 2])
    everything = model.score_items(users, chunk=8)  # ncf: one user's items at a time
    assert everything.shape == (4, 8)  # + the unknown item
    every_pair = torch.cartesian_prod(users, torch.arange(8))  # each item's pick logit
    assert torch.allclose(everything.flatten(), model(every_pair)[:, 1], atol=1e-5)


@pytest.fixture(scope="module")
def movielens_ncf(tmp_path_factory):
    raw = {
        "task": "recommendation",
        "data": {"dataset": "movielens", "limit": 30000, "batch_size": 512},
        "model": {"name": "ncf", "dim": 32, "hidden": [64, 32]},
        "train": {"epochs": 10, "optimizer": {"name": "adam", "lr": 0.002, "weight_decay": 1e-5}},
    }
    return deepworks.run(raw, runs_dir=tmp_path_factory.mktemp("runs"), progress=False)


@pytest.mark.slow
def test_ncf_ranks_better_than_popularity_on_later_ratings(movielens_ncf):
    test = movielens_ncf.metrics["test"]
    assert test["ndcg@10"] > test["popularity_ndcg@10"]
    assert test["hr@10"] > test["popularity_hr@10"]
    assert test["rmse"] < 1.1  # far better than the ~1.9 of a constant 1-star guess
    assert (movielens_ncf.path / "ranking.png").is_file()


@pytest.mark.slow
def test_recommend_never_repeats_what_the_user_rated(movielens_ncf, cli):
    encoder = movielens_ncf.encoder
    user = encoder.users[0]
    top = movielens_ncf.recommend(user, k=10)
    assert len(top) == 10 and list(top["rank"]) == list(range(1, 11))
    seen = {encoder.items[i - 1] for i in encoder.seen[0]}
    assert not seen & set(top["item"])
    assert top["pick_probability"].is_monotonic_decreasing
    result = cli("recommend", movielens_ncf.path, "--user", user, "--k", "3")
    assert result.code == 0 and top["title"][0][:20] in result.out


@pytest.fixture
def csv_run(tmp_path):
    _ratings_csv(tmp_path / "r.csv")
    raw = {
        "task": "recommendation",
        "data": {"dataset": "csv", "path": str(tmp_path / "r.csv"), "ratings": COLUMNS},
        "model": {"name": "two-tower", "dim": 8, "hidden": [8]},
        "train": {"epochs": 2},
    }
    return deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)


def test_predict_and_evaluate_on_a_ratings_file(csv_run, cli, tmp_path):
    pairs = pd.DataFrame({"who": ["u0", "u1"], "what": ["m0", "m20"], "stars": [5.0, 4.0]})
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    out = csv_run.predict(tmp_path / "pairs.csv")
    assert list(out.columns) == ["user", "item", "rating", "pick_probability"]
    assert list(out["user"]) == ["u0", "u1"] and list(out["item"]) == ["m0", "m20"]
    assert out["pick_probability"].between(0, 1).all()
    assert {"rmse", "mae"} <= set(csv_run.evaluate(tmp_path / "pairs.csv"))


def test_unknown_users_at_prediction_time_are_named(csv_run, cli, tmp_path):
    pairs = pd.DataFrame({"who": ["u0", "stranger"], "what": ["m0", "m1"]})
    pairs.to_csv(tmp_path / "new.csv", index=False)
    result = cli("predict", csv_run.path, tmp_path / "new.csv", "-o", tmp_path / "p.csv")
    assert_user_error(result, "new.csv", "1 user(s) not seen in training (stranger)")
    assert not (tmp_path / "p.csv").exists()
    assert_user_error(cli("recommend", csv_run.path, "--user", "nobody"), "nobody", "not seen")
    assert_user_error(cli("recommend", csv_run.path, "--user", "u0", "--k", "0"), "at least 1")


def test_bad_ratings_data_gets_one_clear_message(tmp_path, cli):
    frame = _ratings_csv(tmp_path / "r.csv")
    config = tmp_path / "rec.yaml"

    def run_with(ratings: str, data: str = "r.csv") -> object:
        config.write_text(
            f"task: recommendation\ndata: {{dataset: csv, path: {tmp_path / data}, "
            f"ratings: {ratings}}}\nmodel: {{name: ncf}}\ntrain: {{epochs: 1}}\n"
        )
        return cli("run", config, "--runs-dir", tmp_path / "runs")

    assert_user_error(
        run_with("{user: whom, item: what, rating: stars}"), "no column `whom`", "`who`"
    )
    frame["stars"] = frame["stars"].astype(object)
    frame.loc[5, "stars"] = "five"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    assert_user_error(
        run_with("{user: who, item: what, rating: stars}", "bad.csv"), "`five`", "numbers"
    )
    config.write_text("task: recommendation\ndata: {dataset: iris}\nmodel: {name: ncf}\n")
    assert_user_error(cli("run", config, "--runs-dir", tmp_path / "runs"), "data.ratings")
