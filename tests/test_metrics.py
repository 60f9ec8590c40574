"""Metrics against scipy and rax (the oracles), their numpy twins and hand-computed examples."""

import jax
import numpy as np
import pytest
import rax
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
  gains = labels - 1.0
  disc = 1 / np.log2([2, 3])
  want_ndcg2 = (gains[0] * disc[0] + gains[2] * disc[1]) / (4 * disc[0] + 3 * disc[1])
  for precision, ndcg, regret in ((metrics.precision_at_k_np, metrics.ndcg_at_k_np,
                                   metrics.regret_at_k_np),
                                  (metrics.precision_at_k, metrics.ndcg_at_k,
                                   metrics.regret_at_k)):
    assert float(precision(scores, labels, 2)) == 0.0  # true top-2: rows 1, 3
    assert float(precision(scores, labels, 3)) == pytest.approx(2 / 3)
    assert float(regret(scores, labels, 2)) == pytest.approx(5.0 - 3.0)
    assert float(ndcg(scores, labels, 2)) == pytest.approx(want_ndcg2, rel=1e-6)
    assert float(ndcg(labels, labels, 3)) == pytest.approx(1.0)
    assert float(precision(scores, labels, 99)) == 1.0  # k beyond the list: the whole list


def test_top_k_ties_keep_the_earlier_entry():
  scores = np.array([1.0, 2.0, 2.0, 0.0])  # rows 1 and 2 tie: row 1 is the top-1
  labels = np.array([0.0, 1.0, 3.0, 2.0])
  for regret in (metrics.regret_at_k_np, metrics.regret_at_k):
    assert float(regret(scores, labels, 1)) == 2.0
    assert float(regret(scores, labels, 2)) == 0.0


def _lists(n, ties, batch=()):
  x = RNG.normal(size=(*batch, n))
  y = x + RNG.normal(size=(*batch, n))
  if ties:
    x, y = np.round(x), np.round(y * 2)
  return x, y


@pytest.mark.parametrize("n,k,ties", [(40, 10, False), (40, 10, True), (7, 10, True),
                                      (300, 20, False)])
def test_jax_top_k_metrics_equal_the_numpy_ones(n, k, ties):
  for _ in range(3):
    x, y = _lists(n, ties)
    for jx, npf in ((metrics.precision_at_k, metrics.precision_at_k_np),
                    (metrics.ndcg_at_k, metrics.ndcg_at_k_np),
                    (metrics.regret_at_k, metrics.regret_at_k_np)):
      np.testing.assert_allclose(float(jx(x, y, k)), npf(x, y, k), rtol=1e-5, atol=1e-5)


def test_jax_top_k_metrics_where_vmap_and_batch_dims():
  x, y = _lists(30, True, batch=(2, 3))
  w = RNG.random((2, 3, 30)) > 0.4
  for jx, npf in ((metrics.precision_at_k, metrics.precision_at_k_np),
                  (metrics.ndcg_at_k, metrics.ndcg_at_k_np),
                  (metrics.regret_at_k, metrics.regret_at_k_np)):
    got = jx(x, y, 5, where=w)
    assert got.shape == (2, 3)
    vmapped = jax.vmap(jax.vmap(lambda a, b, c, f=jx: f(a, b, 5, where=c)))(x, y, w)
    np.testing.assert_allclose(vmapped, got, rtol=1e-6)
    for i in range(2):
      for j in range(3):
        want = npf(x[i, j][w[i, j]], y[i, j][w[i, j]], 5)
        np.testing.assert_allclose(float(got[i, j]), want, rtol=1e-5, atol=1e-5)
    # Nothing valid: 0, not NaN.
    assert float(jx(x[0, 0], y[0, 0], 5, where=np.zeros(30, bool))) == 0.0


def test_jax_top_k_metrics_match_rax():
  x, y = _lists(25, False, batch=(4,))
  w = RNG.random((4, 25)) > 0.3
  k = 6
  # rax's precision counts labels >= 1 as relevant: relevance = "in the true top-k".
  in_true_top = np.zeros_like(y)
  for i in range(4):
    valid = np.nonzero(w[i])[0]
    in_true_top[i, valid[np.argsort(-y[i, valid], kind="stable")[:k]]] = 1.0
  np.testing.assert_allclose(metrics.precision_at_k(x, y, k, where=w),
                             rax.precision_metric(x, in_true_top, where=w, topn=k,
                                                  reduce_fn=None), rtol=1e-6)
  gains = y - np.min(np.where(w, y, np.inf), axis=-1, keepdims=True)
  want = rax.ndcg_metric(x, np.where(w, gains, 0.0), where=w, topn=k, gain_fn=lambda g: g,
                         reduce_fn=None)
  np.testing.assert_allclose(metrics.ndcg_at_k(x, y, k, where=w), want, rtol=1e-5)


def test_ranking_report_values_match_references():
  x = RNG.normal(size=40)
  y = x + RNG.normal(size=40)
  report = metrics.ranking_report(x, y, prefix="t_")
  true_top = lambda k: set(np.argsort(-y)[:k].tolist())
  pred_top = lambda k: set(np.argsort(-x)[:k].tolist())
  gains = y - y.min()
  dcg = sum(gains[r] / np.log2(i + 2) for i, r in enumerate(np.argsort(-x)[:10]))
  idcg = sum(g / np.log2(i + 2) for i, g in enumerate(np.sort(gains)[::-1][:10]))
  want = {
      "t_kendalltau": stats.kendalltau(x, y).statistic,
      "t_spearman": stats.spearmanr(x, y).statistic,
      "t_pearson": stats.pearsonr(x, y).statistic,
      "t_precision_10": len(true_top(10) & pred_top(10)) / 10,
      "t_precision_20": len(true_top(20) & pred_top(20)) / 20,
      "t_ndcg_10": dcg / idcg,
      "t_regret_10": y.max() - y[list(pred_top(10))].max(),
  }
  assert set(report) == set(want)
  for key, value in want.items():
    assert report[key] == pytest.approx(value, abs=1e-12), key
  assert 0 < report["t_precision_10"] < 1 and report["t_regret_10"] >= 0  # not a trivial case
  constant = metrics.ranking_report(np.ones(5), np.arange(5.0))
  assert constant["kendalltau"] == constant["spearman"] == constant["pearson"] == 0.0
