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

The JAX functions (plain names) take ``scores`` and ``labels`` ``[..., n]`` and
a keyword-only bool ``where`` ``[..., n]`` (rax's convention), reduce the last
axis and work under ``jit``/``vmap``. The ``*_np`` twins take two long 1-D
arrays and compute in float64 numpy (O(n log n)); :func:`ranking_report` uses
them for result files. Both give the same values (tested). Higher scores mean
better predicted architectures; ties in the top-k keep the earlier entry.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "average_ranks", "kendall_tau", "kendall_tau_np", "ndcg_at_k", "ndcg_at_k_np", "pearson",
    "precision_at_k", "precision_at_k_np", "ranking_report", "regret_at_k", "regret_at_k_np",
    "spearman",
]


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


def _ranks(values: jax.Array, where: jax.Array) -> jax.Array:
  """0-based rank of each entry by descending value, ``[..., n]`` int32.

  Valid entries come first; ties keep their order of appearance (a stable
  sort, like rax's ``utils.ranks`` and :func:`_top_k_np`); masked entries get
  ranks after every valid one.
  """
  n = values.shape[-1]
  index = jnp.broadcast_to(jnp.arange(n), values.shape)
  # lax.sort on several operands sorts by the first ones lexicographically and
  # is stable: (masked last, then by descending value, then by position).
  _, _, order = jax.lax.sort((~where, -values, index), dimension=values.ndim - 1,
                             num_keys=2, is_stable=True)
  return jnp.argsort(order, axis=-1).astype(jnp.int32)


def _top_k_mask(values, k: int, where) -> jax.Array:
  """True on the ``k`` highest valid entries of ``[..., n]`` (ties: earlier first)."""
  return (_ranks(values, where) < k) & where


def _prepare(scores, labels, where):
  s = jnp.asarray(scores, jnp.float32)
  y = jnp.asarray(labels, jnp.float32)
  w = jnp.ones(s.shape, bool) if where is None else jnp.broadcast_to(
      jnp.asarray(where, bool), s.shape)
  return s, y, w


@functools.partial(jax.jit, static_argnames=("k",))  # one compile per shape, not per op
def precision_at_k(scores, labels, k: int, *, where=None) -> jax.Array:
  """Fraction of the true top-k found in the predicted top-k, ``[...]``.

  Args:
    scores: ``[..., n]`` predicted scores (higher = better).
    labels: ``[..., n]`` true quality.
    k: cut-off; lists with fewer than ``k`` valid entries use their size.
    where: optional bool ``[..., n]``; masked entries are ignored.

  Returns:
    ``|top-k by score ∩ top-k by label| / min(k, n_valid)`` per list (0 for a
    list with nothing valid). Equals :func:`precision_at_k_np`, and rax's
    ``precision_metric(scores, labels_in_true_top_k, topn=k)``.
  """
  s, y, w = _prepare(scores, labels, where)
  both = _top_k_mask(s, k, w) & _top_k_mask(y, k, w)
  kk = jnp.minimum(k, jnp.sum(w, axis=-1))
  return jnp.where(kk > 0, jnp.sum(both, axis=-1) / jnp.maximum(kk, 1), 0.0)


def _dcg(gains: jax.Array, ranks: jax.Array, k: int) -> jax.Array:
  disc = 1.0 / jnp.log2(ranks.astype(jnp.float32) + 2.0)
  return jnp.sum(jnp.where(ranks < k, gains * disc, 0.0), axis=-1)


@functools.partial(jax.jit, static_argnames=("k",))  # one compile per shape, not per op
def ndcg_at_k(scores, labels, k: int, *, where=None) -> jax.Array:
  """NDCG@k with gains ``label - min(label)``, ``[...]`` (see the module docstring).

  Args:
    scores: ``[..., n]`` predicted scores.
    labels: ``[..., n]`` true quality (any scale; only differences matter).
    k: cut-off.
    where: optional bool ``[..., n]``; the minimum and both DCGs use valid entries only.

  Returns:
    DCG of the predicted top-k over the ideal DCG (0 when every valid label is
    equal). Equals :func:`ndcg_at_k_np`, and rax's ``ndcg_metric`` with
    ``gain_fn`` the identity on ``label - min(label)``.
  """
  s, y, w = _prepare(scores, labels, where)
  y_min = jnp.min(jnp.where(w, y, jnp.inf), axis=-1, keepdims=True)
  gains = jnp.where(w, y - y_min, 0.0)
  dcg = _dcg(gains, jnp.where(w, _ranks(s, w), k), k)
  ideal = _dcg(gains, jnp.where(w, _ranks(y, w), k), k)
  return jnp.where(ideal > 0, dcg / jnp.where(ideal > 0, ideal, 1.0), 0.0)


@functools.partial(jax.jit, static_argnames=("k",))  # one compile per shape, not per op
def regret_at_k(scores, labels, k: int, *, where=None) -> jax.Array:
  """Best true label minus the best true label among the predicted top-k, ``[...]``.

  Args:
    scores: ``[..., n]`` predicted scores.
    labels: ``[..., n]`` true quality.
    k: cut-off.
    where: optional bool ``[..., n]``.

  Returns:
    ``max(label) - max(label of the predicted top-k)`` over valid entries (0
    for a list with nothing valid). Equals :func:`regret_at_k_np`.
  """
  s, y, w = _prepare(scores, labels, where)
  best = jnp.max(jnp.where(w, y, -jnp.inf), axis=-1)
  found = jnp.max(jnp.where(_top_k_mask(s, k, w), y, -jnp.inf), axis=-1)
  return jnp.where(jnp.any(w, axis=-1), best - found, 0.0)


def _top_k_np(values: np.ndarray, k: int) -> np.ndarray:
  # Stable: among ties, earlier rows first (deterministic).
  return np.argsort(-values, kind="stable")[:k]


def precision_at_k_np(scores, labels, k: int) -> float:
  """:func:`precision_at_k` of two long 1-D arrays, in float64 numpy."""
  s = np.asarray(scores, np.float64).reshape(-1)
  y = np.asarray(labels, np.float64).reshape(-1)
  k = min(k, s.size)
  return len(set(_top_k_np(s, k).tolist()) & set(_top_k_np(y, k).tolist())) / k


def ndcg_at_k_np(scores, labels, k: int) -> float:
  """:func:`ndcg_at_k` of two long 1-D arrays, in float64 numpy."""
  s = np.asarray(scores, np.float64).reshape(-1)
  y = np.asarray(labels, np.float64).reshape(-1)
  k = min(k, s.size)
  gains = y - y.min()
  disc = 1.0 / np.log2(np.arange(2, k + 2))
  dcg = float(np.sum(gains[_top_k_np(s, k)] * disc))
  idcg = float(np.sum(np.sort(gains)[::-1][:k] * disc))
  return dcg / idcg if idcg > 0 else 0.0


def regret_at_k_np(scores, labels, k: int) -> float:
  """:func:`regret_at_k` of two long 1-D arrays, in float64 numpy."""
  s = np.asarray(scores, np.float64).reshape(-1)
  y = np.asarray(labels, np.float64).reshape(-1)
  return float(y.max() - y[_top_k_np(s, min(k, s.size))].max())


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
      "precision_10": precision_at_k_np(s, y, 10),
      "precision_20": precision_at_k_np(s, y, 20),
      "ndcg_10": ndcg_at_k_np(s, y, 10),
      "regret_10": regret_at_k_np(s, y, 10),
  }
  return {prefix + k: v for k, v in out.items()}
