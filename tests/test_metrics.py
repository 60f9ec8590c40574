"""Metrics against scipy (the oracle) and hand-computed examples."""

import jax
import numpy as np
import pytest
from scipy import stats

from jaxnas import metrics

RNG = np.random.default_rng(1)


@pytest.mark.parametrize("n,ties", [(50, False), (200, True), (3, True)])
def test_kendall_tau_b_matches_scipy(n, ties):
  x = RNG.normal(size=n)
  y = x + RNG.normal(size=n)
  if ties:
    x, y = np.round(x), np.round(y * 2)
  want = stats.kendalltau(x, y).statistic
  np.testing.assert_allclose(float(metrics.kendall_tau(x, y)), want, atol=1e-5)
  np.testing.assert_allclose(metrics.kendall_tau_np(x, y), want, atol=1e-12)


def test_kendall_tau_where_and_vmap():
  x = RNG.normal(size=(4, 30))
  y = x + RNG.normal(size=(4, 30))
  w = RNG.random((4, 30)) > 0.3
  got = jax.vmap(lambda a, b, c: metrics.kendall_tau(a, b, where=c))(x, y, w)
  for i in range(4):
    np.testing.assert_allclose(got[i], stats.kendalltau(x[i][w[i]], y[i][w[i]]).statistic, atol=1e-5)


def test_kendall_tau_degenerate_is_zero():
  assert float(metrics.kendall_tau(np.ones(5), np.arange(5.0))) == 0.0
  assert metrics.kendall_tau_np(np.ones(5), np.arange(5.0)) == 0.0


def test_spearman_and_pearson_match_scipy():
  x = np.round(RNG.normal(size=100), 1)
  y = np.round(x + RNG.normal(size=100), 1)
  np.testing.assert_allclose(float(metrics.spearman(x, y)), stats.spearmanr(x, y).statistic, atol=1e-5)
  np.testing.assert_allclose(float(metrics.pearson(x, y)), stats.pearsonr(x, y).statistic, atol=1e-5)
  np.testing.assert_allclose(metrics.average_ranks(x), stats.rankdata(x), atol=1e-5)


def test_top_k_metrics_by_hand():
  labels = np.array([1.0, 5.0, 3.0, 4.0, 2.0])
  scores = np.array([0.9, 0.1, 0.8, 0.7, 0.0])  # predicted top-2: rows 0, 2
  assert metrics.precision_at_k(scores, labels, 2) == 0.0  # true top-2: rows 1, 3
  assert metrics.precision_at_k(scores, labels, 3) == pytest.approx(2 / 3)
  assert metrics.regret_at_k(scores, labels, 2) == pytest.approx(5.0 - 3.0)
  gains = labels - 1.0
  disc = 1 / np.log2([2, 3])
  want = (gains[0] * disc[0] + gains[2] * disc[1]) / (4 * disc[0] + 3 * disc[1])
  assert metrics.ndcg_at_k(scores, labels, 2) == pytest.approx(want)
  assert metrics.ndcg_at_k(labels, labels, 3) == pytest.approx(1.0)


def test_ranking_report_keys():
  x = RNG.normal(size=40)
  report = metrics.ranking_report(x, x + RNG.normal(size=40))
  assert set(report) == {"kendalltau", "spearman", "pearson", "precision_10", "precision_20",
                         "ndcg_10", "regret_10"}
