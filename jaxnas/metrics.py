"""Ranking-quality metrics of predicted scores against true labels.

Definitions (also in the README):

* ``kendall_tau`` — Kendall's tau-b: ``(C - D) / sqrt((P - Tx)(P - Ty))`` over
  all ``P = n(n-1)/2`` pairs, ``C``/``D`` concordant/discordant pairs, ``Tx``/``Ty``
  pairs tied in predictions/labels (scipy.stats.kendalltau's default). 1 means
  the same order, -1 reversed.
* ``spearman`` — Pearson correlation of average ranks (ties share their mean
  rank), as scipy.stats.spearmanr.
* ``pearson`` — Pearson correlation of the raw values.
* ``precision_at_k`` — ``|top-k by score ∩ top-k by label| / k`` (NASLib's
  ``precision_10``).
* ``ndcg_at_k`` — DCG of the predicted top-k with gains ``label - min(label)``
  (true quality above the worst evaluated arch) and discount ``1/log2(1+rank)``,
  divided by the ideal DCG.
* ``regret_at_k`` — ``max(label) - max(label of the predicted top-k)``: what you
  lose by training only the k archs the predictor likes best.

All take ``scores`` and ``labels`` ``[n]`` (``[..., n]`` for the JAX ones) and an
optional bool ``where``. Higher scores mean better predicted architectures.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np



def _pair_counts(x: jax.Array, y: jax.Array, w: jax.Array):
  """(C - D, pairs untied in x, pairs untied in y) over i<j pairs of [..., n]."""
  n = x.shape[-1]
  upper = jnp.triu(jnp.ones((n, n), bool), k=1)
  valid = w[..., :, None] & w[..., None, :] & upper
  sx = jnp.sign(x[..., :, None] - x[..., None, :])
  sy = jnp.sign(y[..., :, None] - y[..., None, :])
  s = lambda a: jnp.sum(jnp.where(valid, a, 0), axis=(-1, -2))
  return s(sx * sy), s(jnp.abs(sx)), s(jnp.abs(sy))


def kendall_tau(scores, labels, *, where=None) -> jax.Array:
  """Kendall tau-b of ``[..., n]`` arrays (jit/vmap friendly; O(n^2) pairs).

  For a single long list (n in the thousands) use :func:`kendall_tau_np`.
  """
  x = jnp.asarray(scores, jnp.float32)
  y = jnp.asarray(labels, jnp.float32)
  w = jnp.ones(x.shape, bool) if where is None else jnp.asarray(where, bool)
  cd, tx, ty = _pair_counts(x, y, w)
  denom = jnp.sqrt(tx.astype(jnp.float32) * ty.astype(jnp.float32))
  return jnp.where(denom > 0, cd / jnp.maximum(denom, 1e-12), 0.0)


def kendall_tau_np(scores, labels, *, where=None) -> float:
  """Kendall tau-b of two long 1-D arrays in O(n log n).

  Uses ``scipy.stats.kendalltau`` (scipy is a dependency of jax itself, so it
  is always installed); :func:`kendall_tau` is the jit/vmap-friendly version
  used inside training, and the tests check that both agree.
  """
  from scipy import stats  # pylint: disable=import-outside-toplevel
  x = np.asarray(scores, np.float64).reshape(-1)
  y = np.asarray(labels, np.float64).reshape(-1)
  if where is not None:
    w = np.asarray(where, bool).reshape(-1)
    x, y = x[w], y[w]
  if x.size < 2 or np.all(x == x[0]) or np.all(y == y[0]):
    return 0.0
  return float(stats.kendalltau(x, y).statistic)


def average_ranks(values, *, where=None) -> jax.Array:
  """1-based average ranks along the last axis (ties share their mean rank)."""
  v = jnp.asarray(values, jnp.float32)
  w = jnp.ones(v.shape, bool) if where is None else jnp.asarray(where, bool)
  big = jnp.where(w, v, jnp.inf)
  sorted_v = jnp.sort(big, axis=-1)
  ss = jnp.vectorize(functools.partial(jnp.searchsorted, side="left"), signature="(n),(n)->(n)")
  se = jnp.vectorize(functools.partial(jnp.searchsorted, side="right"), signature="(n),(n)->(n)")
  less = ss(sorted_v, big)
  less_eq = se(sorted_v, big)
  return jnp.where(w, (less + less_eq + 1) / 2.0, 0.0)


def pearson(scores, labels, *, where=None) -> jax.Array:
  """Pearson correlation along the last axis (0 when a side is constant)."""
  x = jnp.asarray(scores, jnp.float32)
  y = jnp.asarray(labels, jnp.float32)
  w = jnp.ones(x.shape, bool) if where is None else jnp.asarray(where, bool)
  n = jnp.maximum(jnp.sum(w, axis=-1, keepdims=True), 1)
  mx = jnp.sum(jnp.where(w, x, 0), axis=-1, keepdims=True) / n
  my = jnp.sum(jnp.where(w, y, 0), axis=-1, keepdims=True) / n
  dx = jnp.where(w, x - mx, 0)
  dy = jnp.where(w, y - my, 0)
  cov = jnp.sum(dx * dy, axis=-1)
  den = jnp.sqrt(jnp.sum(dx * dx, axis=-1) * jnp.sum(dy * dy, axis=-1))
  return jnp.where(den > 0, cov / jnp.maximum(den, 1e-30), 0.0)


def spearman(scores, labels, *, where=None) -> jax.Array:
  """Spearman rank correlation along the last axis."""
  return pearson(average_ranks(scores, where=where), average_ranks(labels, where=where),
                 where=where)


def _top_k(values: np.ndarray, k: int) -> np.ndarray:
  # Stable: among ties, earlier rows first (deterministic).
  return np.argsort(-values, kind="stable")[:k]


def precision_at_k(scores, labels, k: int) -> float:
  """Fraction of the true top-k found in the predicted top-k."""
  s = np.asarray(scores, np.float64).reshape(-1)
  y = np.asarray(labels, np.float64).reshape(-1)
  k = min(k, s.size)
  return len(set(_top_k(s, k).tolist()) & set(_top_k(y, k).tolist())) / k


def ndcg_at_k(scores, labels, k: int) -> float:
  """NDCG@k with gains ``label - min(label)`` (see the module docstring)."""
  s = np.asarray(scores, np.float64).reshape(-1)
  y = np.asarray(labels, np.float64).reshape(-1)
  k = min(k, s.size)
  gains = y - y.min()
  disc = 1.0 / np.log2(np.arange(2, k + 2))
  dcg = float(np.sum(gains[_top_k(s, k)] * disc))
  idcg = float(np.sum(np.sort(gains)[::-1][:k] * disc))
  return dcg / idcg if idcg > 0 else 0.0


def regret_at_k(scores, labels, k: int) -> float:
  """Best true label minus the best true label among the predicted top-k."""
  s = np.asarray(scores, np.float64).reshape(-1)
  y = np.asarray(labels, np.float64).reshape(-1)
  return float(y.max() - y[_top_k(s, min(k, s.size))].max())


def ranking_report(scores, labels, *, prefix: str = "") -> dict[str, float]:
  """All metrics under NASLib's key names (``kendalltau``, ``spearman``, ...)."""
  s = np.asarray(scores, np.float64).reshape(-1)
  y = np.asarray(labels, np.float64).reshape(-1)
  from scipy import stats  # pylint: disable=import-outside-toplevel
  const = s.size < 2 or np.all(s == s[0]) or np.all(y == y[0])
  out = {
      "kendalltau": kendall_tau_np(s, y),
      "spearman": 0.0 if const else float(stats.spearmanr(s, y).statistic),
      "pearson": 0.0 if const else float(np.corrcoef(s, y)[0, 1]),
      "precision_10": precision_at_k(s, y, 10),
      "precision_20": precision_at_k(s, y, 20),
      "ndcg_10": ndcg_at_k(s, y, 10),
      "regret_10": regret_at_k(s, y, 10),
  }
  return {prefix + k: v for k, v in out.items()}
