"""Ranking losses: pure functions over ``[..., n]`` lists.

Conventions follow google/rax: ``scores`` and ``labels`` are ``[..., n]`` arrays
(a list of ``n`` architectures per leading index); keyword-only ``where``
(bool ``[..., n]``, which items exist) and ``weights`` (``[..., n]`` per-item
weights); the result is a scalar, the mean over valid pairs / items of all
lists. Every loss is jit- and vmap-friendly, has no Python loop over items, and
returns 0 with finite (zero) gradients when nothing is valid (all masked, or all
labels tied).

Losses:

* :func:`pairwise_logistic_loss` — RankNAS / ReNAS: for every pair with
  ``label_i > label_j``, ``log(1 + exp(-(s_i - s_j)))``.
* :func:`pairwise_hinge_loss` — ``max(0, margin - (s_i - s_j))``.
* :func:`lambdarank_loss` — AceNAS: the pairwise logistic loss weighted by
  ``|delta NDCG|`` of swapping the pair (LambdaRank, Burges 2006), with graded
  relevance defined in :func:`rank_relevance`.
* :func:`softmax_loss` — ListNet-style listwise cross-entropy.
* :func:`tier_cross_entropy` — NAR's quality-tier classification.
* :func:`mse_loss` — regression baseline.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = [
    "RANKING_LOSSES", "get_loss", "lambdarank_loss", "mse_loss", "pairwise_hinge_loss",
    "pairwise_logistic_loss", "quantile_tiers", "rank_relevance", "softmax_loss",
    "tier_cross_entropy",
]

Array = jax.Array


def _safe_mean(values: Array, mask: Array) -> Array:
  """Mean of ``values`` where ``mask``; 0 (with zero gradient) if none."""
  mask = mask.astype(values.dtype)
  total = jnp.sum(mask)
  return jnp.sum(jnp.where(mask > 0, values, 0.0) * mask) / jnp.maximum(total, 1.0)


def _valid(scores: Array, where: Array | None) -> Array:
  return jnp.ones(scores.shape, bool) if where is None else jnp.asarray(where, bool)


def _pair_mask(labels: Array, where: Array) -> Array:
  """bool ``[..., n, n]``: pairs (i, j) with both valid and label_i > label_j."""
  both = where[..., :, None] & where[..., None, :]
  return both & (labels[..., :, None] > labels[..., None, :])


def _pair_weights(weights: Array | None, scores: Array) -> Array:
  if weights is None:
    return jnp.ones(scores.shape[:-1] + (scores.shape[-1],) * 2, scores.dtype)
  w = jnp.asarray(weights, scores.dtype)
  # rax's convention: a pair carries the weight of its preferred item.
  return jnp.broadcast_to(w[..., :, None], w.shape + (w.shape[-1],))


def pairwise_logistic_loss(scores: Array, labels: Array, *, where: Array | None = None,
                           weights: Array | None = None) -> Array:
  """Mean over pairs with ``label_i > label_j`` of ``softplus(s_j - s_i)``.

  Args:
    scores: float ``[..., n]`` predicted scores.
    labels: float ``[..., n]`` true qualities (higher is better).
    where: optional bool ``[..., n]``.
    weights: optional ``[..., n]`` per-item weights (a pair takes the weight of
      its better item, as in rax).

  Returns:
    Scalar loss.
  """
  where = _valid(scores, where)
  diff = scores[..., :, None] - scores[..., None, :]
  mask = _pair_mask(labels, where)
  return _safe_mean(jax.nn.softplus(-diff) * _pair_weights(weights, scores), mask)


def pairwise_hinge_loss(scores: Array, labels: Array, *, where: Array | None = None,
                        weights: Array | None = None, margin: float = 1.0) -> Array:
  """Mean over pairs with ``label_i > label_j`` of ``relu(margin - (s_i - s_j))``."""
  where = _valid(scores, where)
  diff = scores[..., :, None] - scores[..., None, :]
  mask = _pair_mask(labels, where)
  return _safe_mean(jax.nn.relu(margin - diff) * _pair_weights(weights, scores), mask)


def rank_relevance(labels: Array, *, where: Array | None = None,
                   max_relevance: float = 4.0) -> Array:
  """Graded relevance of each item from its rank in the list.

  ``relevance_i = max_relevance * (fraction of valid items with a lower
  label)``, so the best item of a list gets ``max_relevance`` and the worst 0,
  whatever the scale of the labels (accuracies in %, 0..1, negative losses).
  Ties get equal relevance. Masked items get 0.

  Args:
    labels: float ``[..., n]``.
    where: optional bool ``[..., n]``.
    max_relevance: relevance of the best item.

  Returns:
    float ``[..., n]`` in ``[0, max_relevance]``.
  """
  where = _valid(labels, where)
  lower = (labels[..., None, :] < labels[..., :, None]) & where[..., None, :]
  n_valid = jnp.sum(where, axis=-1, keepdims=True)
  frac = jnp.sum(lower, axis=-1) / jnp.maximum(n_valid - 1, 1)
  return jnp.where(where, max_relevance * frac, 0.0)


def _dcg_discount(ranks: Array) -> Array:
  return 1.0 / jnp.log2(ranks + 1.0)


def _ranks(scores: Array, where: Array) -> Array:
  """1-based rank of each item by descending score (masked items last)."""
  s = jnp.where(where, scores, -jnp.inf)
  # rank_i = 1 + #items scoring higher (ties broken by index, as a sort would).
  n = scores.shape[-1]
  idx = jnp.arange(n)
  higher = (s[..., None, :] > s[..., :, None]) | (
      (s[..., None, :] == s[..., :, None]) & (idx[None, :] < idx[:, None]))
  return 1 + jnp.sum(higher, axis=-1)


def lambdarank_loss(scores: Array, labels: Array, *, where: Array | None = None,
                    weights: Array | None = None, max_relevance: float = 4.0,
                    topn: int | None = None) -> Array:
  """LambdaRank: pairwise logistic loss weighted by ``|delta NDCG|``.

  For each pair with ``rel_i > rel_j`` the weight is
  ``|2^rel_i - 2^rel_j| * |1/log2(1+rank_i) - 1/log2(1+rank_j)| / IDCG`` where
  ranks come from the current (stop-gradient) scores, ``rel`` from
  :func:`rank_relevance` and IDCG normalises per list — the NDCG change of
  swapping i and j (Burges 2006; rax's ``dcg_lambdaweight(normalize=True)``
  with ``gain = 2^rel - 1``). AceNAS trains its predictor with this loss.

  Args:
    scores: float ``[..., n]``.
    labels: float ``[..., n]``.
    where: optional bool ``[..., n]``.
    weights: optional ``[..., n]`` per-item weights.
    max_relevance: relevance of a list's best item.
    topn: only swaps that move items within the top ``topn`` ranks count.

  Returns:
    Scalar loss (mean over valid pairs).
  """
  where = _valid(scores, where)
  rel = rank_relevance(labels, where=where, max_relevance=max_relevance)
  gains = jnp.where(where, 2.0**rel - 1.0, 0.0)
  ranks = _ranks(jax.lax.stop_gradient(scores), where)
  disc = _dcg_discount(ranks.astype(scores.dtype))
  if topn is not None:
    disc = jnp.where(ranks <= topn, disc, 0.0)
  ideal_ranks = _ranks(rel, where)
  ideal_disc = _dcg_discount(ideal_ranks.astype(scores.dtype))
  if topn is not None:
    ideal_disc = jnp.where(ideal_ranks <= topn, ideal_disc, 0.0)
  idcg = jnp.sum(gains * ideal_disc, axis=-1, keepdims=True)
  delta = (jnp.abs(gains[..., :, None] - gains[..., None, :])
           * jnp.abs(disc[..., :, None] - disc[..., None, :]))
  delta = delta / jnp.maximum(idcg[..., None], 1e-9)
  diff = scores[..., :, None] - scores[..., None, :]
  mask = _pair_mask(rel, where)
  lam = jax.lax.stop_gradient(delta) * _pair_weights(weights, scores)
  # Scale by n so the mean over pairs stays O(1) as lists grow (as rax does).
  return _safe_mean(jax.nn.softplus(-diff) * lam * scores.shape[-1], mask)


def softmax_loss(scores: Array, labels: Array, *, where: Array | None = None,
                 weights: Array | None = None, temperature: float = 1.0) -> Array:
  """Listwise cross-entropy between softmax(labels / T) and softmax(scores).

  Labels are standardised per list first (z-scores), so the target
  distribution does not depend on the label scale. Mean over lists.
  """
  where = _valid(scores, where)
  n_valid = jnp.sum(where, axis=-1, keepdims=True)
  mu = jnp.sum(jnp.where(where, labels, 0.0), axis=-1, keepdims=True) / jnp.maximum(n_valid, 1)
  var = jnp.sum(jnp.where(where, (labels - mu) ** 2, 0.0), axis=-1, keepdims=True) / jnp.maximum(n_valid, 1)
  z = (labels - mu) / jnp.sqrt(var + 1e-12)
  target = jax.nn.softmax(jnp.where(where, z / temperature, -jnp.inf), axis=-1)
  target = jnp.where(where, target, 0.0)
  logp = jax.nn.log_softmax(jnp.where(where, scores, -jnp.inf), axis=-1)
  w = 1.0 if weights is None else jnp.asarray(weights, scores.dtype)
  per_list = -jnp.sum(jnp.where(where, target * logp * w, 0.0), axis=-1)
  has_items = (n_valid[..., 0] > 1)
  return _safe_mean(per_list, has_items)


def tier_cross_entropy(logits: Array, tiers: Array, *, where: Array | None = None,
                       weights: Array | None = None) -> Array:
  """NAR's tier classification loss.

  Args:
    logits: float ``[..., n, K]`` tier logits.
    tiers: int ``[..., n]`` true tier in ``0..K-1`` (0 = best).
    where: optional bool ``[..., n]``.
    weights: optional ``[..., n]``.

  Returns:
    Scalar mean cross-entropy over valid items.
  """
  where = _valid(tiers, where)
  logp = jax.nn.log_softmax(logits, axis=-1)
  nll = -jnp.take_along_axis(logp, jnp.clip(tiers, 0, logits.shape[-1] - 1)[..., None],
                             axis=-1)[..., 0]
  if weights is not None:
    nll = nll * weights
  return _safe_mean(nll, where)


def quantile_tiers(labels: Array, num_tiers: int, *, where: Array | None = None) -> Array:
  """Global quality tiers by quantiles of the labels (NAR): 0 = top tier.

  Args:
    labels: float ``[..., n]``.
    num_tiers: K.
    where: optional bool ``[..., n]``.

  Returns:
    int32 ``[..., n]`` in ``0..K-1``; masked items get K-1.
  """
  where = _valid(labels, where)
  rel = rank_relevance(labels, where=where, max_relevance=1.0)  # 1 = best
  tiers = jnp.floor((1.0 - rel) * num_tiers).astype(jnp.int32)
  return jnp.where(where, jnp.clip(tiers, 0, num_tiers - 1), num_tiers - 1)


def mse_loss(scores: Array, labels: Array, *, where: Array | None = None,
             weights: Array | None = None) -> Array:
  """Mean squared error between scores and labels (regression baseline)."""
  where = _valid(scores, where)
  err = (scores - labels) ** 2
  if weights is not None:
    err = err * weights
  return _safe_mean(err, where)


RANKING_LOSSES = {
    "pairwise_logistic": pairwise_logistic_loss,
    "pairwise_hinge": pairwise_hinge_loss,
    "lambdarank": lambdarank_loss,
    "softmax": softmax_loss,
    "mse": mse_loss,
}


def get_loss(name: str):
  """The ranking loss called ``name``; raises ``ConfigError`` for unknown names."""
  from jaxnas import errors  # pylint: disable=import-outside-toplevel
  if name not in RANKING_LOSSES:
    raise errors.ConfigError(f"unknown loss {name!r}; expected one of {sorted(RANKING_LOSSES)}")
  return RANKING_LOSSES[name]
