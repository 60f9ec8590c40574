"""The protocol's built-in one-hot ridge reference, and what config.json says about features."""

import json
import os

import numpy as np
import pytest

from jaxnas import errors
from jaxnas import features
from jaxnas import models
from jaxnas import protocol
from jaxnas import ranker_export
from jaxnas import reference_baseline
from jaxnas import spaces
from jaxnas import train
from jaxnas.data import csv_table
from jaxnas.data import registry


def test_ridge_matches_normal_equations_and_brute_force_loo():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(30, 7))
  y = x @ rng.normal(size=7) + rng.normal(0, 0.3, size=30)
  w, b, alpha = reference_baseline.fit_ridge(x, y)
  xc, yc = x - x.mean(0), y - y.mean()
  np.testing.assert_allclose(w, np.linalg.solve(xc.T @ xc + alpha * np.eye(7), xc.T @ yc),
                             rtol=1e-8, atol=1e-10)
  np.testing.assert_allclose(b, y.mean() - x.mean(0) @ w)

  def loo(a):  # refit without each row, intercept included
    errs = []
    for i in range(len(y)):
      keep = np.arange(len(y)) != i
      wi, bi, _ = reference_baseline.fit_ridge(x[keep], y[keep], alphas=(a,))
      errs.append((x[i] @ wi + bi - y[i]) ** 2)
    return np.mean(errs)

  grid = reference_baseline.ALPHAS
  assert alpha == grid[int(np.argmin([loo(a) for a in grid]))]


def test_normal_scores_are_normal_quantiles_of_mean_ranks():
  import statistics
  y = np.array([3.0, -1.0, 3.0, 10.0, 0.5])
  ranks = [3.5, 1.0, 3.5, 5.0, 2.0]  # ties share the mean of ranks 3 and 4
  want = [statistics.NormalDist().inv_cdf((r - 0.5) / 5) for r in ranks]
  np.testing.assert_allclose(reference_baseline.normal_scores(y), want, rtol=1e-12)


def test_one_diverged_label_does_not_flip_the_ridge():
  # An additive rule plus one arch whose training diverged (accuracy 0): on raw labels
  # that arch's choice gets a large negative weight; on normal scores it is one rank.
  space = spaces.get_space("chain:4:a,b,c")
  enc = space.enumerate()
  labels = 70.0 + enc[:, 0] + 0.5 * enc[:, 1]
  rows = np.arange(0, len(enc), 3)
  bad = labels.copy()
  bad[rows[-1]] = 0.0
  scores = reference_baseline.onehot_ridge_scores(space, enc, bad, rows)
  assert np.corrcoef(scores, labels)[0, 1] > 0.9
  x = spaces.one_hot(space, enc)
  w, b, _ = reference_baseline.fit_ridge(x[rows], bad[rows])  # raw labels: the fit flips
  assert np.corrcoef(x @ w + b, labels)[0, 1] < 0.0


def test_ridge_recovers_an_additive_one_hot_rule():
  space = spaces.get_space("chain:6:a,b,c")
  enc = space.enumerate()
  truth = np.random.default_rng(1).normal(size=(6, 3))
  labels = truth[np.arange(6), enc].sum(axis=1)
  rows = np.random.default_rng(2).choice(len(enc), 60, replace=False)
  scores = reference_baseline.onehot_ridge_scores(space, enc, labels, rows)
  assert np.corrcoef(scores, labels)[0, 1] > 0.95


def test_warning_only_when_worse():
  assert reference_baseline.warning(0.6, 0.5) is None
  msg = reference_baseline.warning(0.4, 0.5, where="at train size 20")
  assert "WARNING at train size 20" in msg and "0.400 < 0.500" in msg and "\n" not in msg


@pytest.fixture(scope="module")
def chain_table(tmp_path_factory):
  spec = "chain:5:identity,mb3_k3,mb6_k5@strides=1,2,1,2,1"
  space = spaces.get_space(spec)
  enc = space.enumerate()
  acc = (enc * np.arange(1, 6)).sum(axis=1) + (enc[:, 1] == 0) * 3.0
  path = str(tmp_path_factory.mktemp("t") / "chain.csv")
  csv_table.write_csv(path, {"arch": space.format_many(enc), "acc": acc.tolist()})
  return path, spec


TINY = dict(train_size=30, seed=0, checkpoint_every=0, target="acc",
            model=models.ModelConfig(hidden=8, num_layers=1, head_hidden=8, num_tiers=3),
            train=train.TrainConfig(num_steps=20, eval_every=10, batch_size=16))


def test_protocol_reports_reference_and_features(chain_table, tmp_path):
  path, spec = chain_table
  # The GNN alone: its warning against the reference is what this test checks (with the
  # blend on, the additive rule makes the blend all-ridge; tests/test_linear_blend.py).
  config = protocol.RunConfig(benchmark=path, space=spec, blend_folds=0, **TINY)
  messages = []
  res = protocol.train_and_evaluate(config, str(tmp_path / "a"), log=messages.append)
  for k in ("kendalltau", "kendalltau_all", "spearman"):
    assert -1 <= res[f"onehot_ridge_{k}"] <= 1
  assert res["onehot_ridge_kendalltau_all"] > 0.5  # an additive rule: ridge fits it
  warned = [m for m in messages if m.startswith("WARNING")]
  assert bool(warned) == (res["kendalltau_all"] < res["onehot_ridge_kendalltau_all"])
  cfg = json.load(open(tmp_path / "a" / "config.json"))
  assert cfg["features"]["cost_features"] == ["log_params", "log_flops"]
  assert "depth" in cfg["features"]["node_features"]
  # The exported ranker reloads with its node-feature width; another chain is refused.
  ranker = ranker_export.load_ranker(str(tmp_path / "a" / "ranker"))
  assert ranker.space.num_node_features == spaces.get_space(spec).num_node_features
  with pytest.raises(errors.ConfigError, match="node features are specific"):
    ranker.graphdef_for(spaces.get_space("chain:5:identity,mb3_k3,mb6_k5"))
  # A sweep reports the reference as its own method.
  out = protocol.sweep(config, [20], [0, 1], str(tmp_path / "s"), log=lambda m: None)
  assert set(out["summary"]) == {"jaxnas", reference_baseline.NAME}


def test_features_describe_says_when_no_cost_is_known():
  d = features.describe(spaces.get_space("chain:4:a,b"))
  assert d["cost_features"] == [] and "no cost known" in d["cost_note"]
  assert features.describe(spaces.get_space("nb201"), use_cost_features=False)[
      "cost_note"].startswith("cost features switched off")
  assert features.describe(spaces.get_space("nb201"))["cost_features"] == ["log_params",
                                                                            "log_flops"]


def test_user_cost_function_overrides_and_is_checked():
  space = spaces.ChainSpace([["a", "b"]] * 3, name="u")
  space.cost_fn = lambda enc: {"latency": 1.0 + enc.sum(axis=1)}
  enc = space.enumerate()
  np.testing.assert_allclose(features.cost_features(space, enc)[:, 0],
                             np.log(1.0 + enc.sum(axis=1) + 1e-6), rtol=1e-6)
  assert features.describe(space)["cost_features"] == ["log_latency"]
  space.cost_fn = lambda enc: {"latency": -np.ones(len(enc))}
  with pytest.raises(errors.ConfigError, match="latency"):
    features.cost_features(space, enc)


def test_table_cost_columns_feed_the_ranker(chain_table):
  path, spec = chain_table
  bench = registry.load_benchmark(path, space=spaces.ChainSpace(
      spaces.get_space(spec).choices, name="own"))  # a private space object
  bench.space.cost_fn = features.table_cost_fn(bench, ["acc"])
  rows = np.array([3, 0, 7])
  np.testing.assert_allclose(features.cost_features(bench.space, bench.encodings[rows])[:, 0],
                             np.log(bench.metric("acc")[rows] + 1e-6), rtol=1e-6)
  assert features.describe(bench.space)["cost_features"] == ["log_acc"]
  with pytest.raises(errors.ConfigError, match="cost column 'acc'"):
    features.table_cost_fn(_negated(bench), ["acc"])


def _negated(bench):
  """A stand-in table whose cost column is negative."""

  class Neg:
    name = bench.name

    def metric(self, c):
      return -bench.metric(c) - 1.0
  return Neg()
