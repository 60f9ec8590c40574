"""RankNAS search: a pairwise ranker, choice importance, and a pruned search space.

Hu et al., "RankNAS: Efficient Neural Architecture Search by Pairwise
Ranking", EMNLP 2021: train a ranker with a pairwise loss (is A better than
B?), use it to find which architecture choices matter, drop the clearly bad
ones, and search only the promising part of the space.

Each round here:

1. retrain the pairwise ensemble on everything told; score the whole pool;
2. **choice importance**: for every (position, op), the mean predicted score
   of the top ``top_fraction`` of pool architectures that make that choice —
   the best the ranker expects from the choice. (Not the mean over all archs
   with the choice: on NB201 ``skip_connect`` on edge 3<-0 has the lowest mean
   accuracy of all ops there, yet every top-10 cell uses it.) A position's
   importance is the spread of its choices' importances;
3. **pruning**: once ``prune_after`` archs are told, a choice is dropped when
   its importance is more than ``margin`` (in pool standard deviations of the
   score) below the best choice of its position; at least ``min_keep``
   choices per position stay. Pruning is recomputed every round from the
   current ranker, so an early mistake can be undone;
4. query the ``round_size`` best-scored unseen pool architectures inside the
   pruned space.

``report()`` gives the pruned space (kept choices, its size in the pool and
as a product of choice counts); :meth:`RankNASSearch.contains` tells whether
given architectures (e.g. the benchmark's optimum) are still inside.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from jaxnas import errors
from jaxnas.search import rounds
from jaxnas.search import surrogate as surrogate_lib

__all__ = ["RankNASSearch", "choice_importance", "prune_choices"]


def choice_importance(space, pool: np.ndarray, scores: np.ndarray,
                      top_fraction: float) -> np.ndarray:
  """Best-expected score ``[D, C]`` of every (position, op) (``-inf`` if absent).

  Args:
    space: the search space (``C`` = its largest cardinality).
    pool: int ``[P, D]`` architectures.
    scores: float ``[P]`` predicted scores (higher is better).
    top_fraction: share of the archs with a choice whose scores are averaged.
  """
  d = space.num_positions
  c = int(space.cardinalities.max())
  out = np.full((d, c), -np.inf)
  order = np.argsort(-scores, kind="stable")
  ranked = pool[order]
  sorted_scores = scores[order]
  for pos in range(d):
    for op in range(int(space.cardinalities[pos])):
      hit = ranked[:, pos] == op
      count = int(hit.sum())
      if not count:
        continue
      k = max(1, int(np.ceil(top_fraction * count)))
      out[pos, op] = float(sorted_scores[hit][:k].mean())
  return out


def prune_choices(importance: np.ndarray, cardinalities: np.ndarray, *, margin: float,
                  min_keep: int) -> np.ndarray:
  """bool ``[D, C]`` of kept choices: within ``margin`` of the position's best.

  At least ``min_keep`` choices (the most important) stay at every position.
  """
  d, c = importance.shape
  keep = np.zeros((d, c), bool)
  for pos in range(d):
    card = int(cardinalities[pos])
    imp = importance[pos, :card]
    finite = np.isfinite(imp)
    if not finite.any():
      keep[pos, :card] = True
      continue
    best = imp[finite].max()
    keep[pos, :card] = finite & (imp >= best - margin)
    order = np.argsort(-np.where(finite, imp, -np.inf), kind="stable")
    keep[pos, order[:min(min_keep, card)]] = True
  return keep


class RankNASSearch(rounds.RoundSearcher):
  """Pairwise ranker + importance-based space pruning (RankNAS).

  Args:
    space, seed, surrogate, surrogate_config, round_size, num_init: see
      :class:`~jaxnas.search.rounds.RoundSearcher`.
    top_fraction: share of a choice's archs that define its importance.
    margin: drop choices this far (pool score std units) below their
      position's best choice.
    min_keep: choices kept per position whatever their importance.
    prune_after: told archs needed before pruning starts.
  """

  name = "ranknas"

  def __init__(self, space, *, seed, surrogate=None, surrogate_config=None, round_size=10,
               num_init=10, top_fraction=0.005, margin=0.35, min_keep=2, prune_after=20):
    super().__init__(space, seed=seed, surrogate=surrogate, surrogate_config=surrogate_config,
                     round_size=round_size, num_init=num_init)
    if not 0 < top_fraction <= 1 or margin < 0 or min_keep < 1:
      raise errors.ConfigError(
          f"need 0 < top_fraction <= 1, margin >= 0, min_keep >= 1; got {top_fraction}, "
          f"{margin}, {min_keep}")
    self.top_fraction = float(top_fraction)
    self.margin = float(margin)
    self.min_keep = int(min_keep)
    self.prune_after = int(prune_after)
    c = int(space.cardinalities.max())
    self.kept = np.arange(c)[None, :] < space.cardinalities[:, None]  # [D, C]
    self.importance: np.ndarray | None = None

  @classmethod
  def default_surrogate_config(cls) -> surrogate_lib.SurrogateConfig:
    base_cfg = surrogate_lib.SurrogateConfig()
    return dataclasses.replace(base_cfg, train=dataclasses.replace(
        base_cfg.train, loss="pairwise_logistic"))

  def contains(self, encodings: np.ndarray) -> np.ndarray:
    """bool ``[N]``: which encodings ``[N, D]`` lie in the current pruned space."""
    enc = np.asarray(encodings, np.int64).reshape(-1, self.space.num_positions)
    return np.all(self.kept[np.arange(enc.shape[1])[None, :], enc], axis=1)

  def prune(self, scores: np.ndarray, num_told: int) -> np.ndarray:
    """Updates and returns the kept choices ``[D, C]`` from pool scores ``[P]``."""
    self.importance = choice_importance(self.space, self.surrogate.pool, scores,
                                        self.top_fraction)
    if num_told >= self.prune_after:
      self.kept = prune_choices(self.importance, self.space.cardinalities, margin=self.margin,
                                min_keep=self.min_keep)
    return self.kept

  def _select(self, key, preds, rows, labels, seen, n):
    del key, labels
    self.prune(preds.mean, rows.size)
    allowed = self.contains(self.surrogate.pool)
    chosen = surrogate_lib.top_unseen(preds.mean, seen, n, allowed=allowed)
    if chosen.size < n:  # the pruned space is used up: fall back to the whole pool
      extra = np.zeros(seen.size, bool)
      extra[chosen] = True
      chosen = np.concatenate([chosen, surrogate_lib.top_unseen(preds.mean, seen | extra,
                                                                n - chosen.size)])
    return chosen, {"pruned_pool_size": int(allowed.sum()),
                    "kept_per_position": self.kept.sum(axis=1).tolist()}

  def position_importance(self) -> np.ndarray | None:
    """``[D]``: spread (max - min) of each position's choice importances."""
    if self.importance is None:
      return None
    imp = np.where(np.isfinite(self.importance), self.importance, np.nan)
    return np.nanmax(imp, axis=1) - np.nanmin(imp, axis=1)

  def _strategy_state(self) -> dict:
    return {"kept": self.kept.astype(int).tolist(),
            "importance": None if self.importance is None else
            np.where(np.isfinite(self.importance), self.importance, -1e9).tolist()}

  def _load_strategy_state(self, extra: Mapping) -> None:
    if extra.get("kept") is not None:
      self.kept = np.asarray(extra["kept"], bool)
    if extra.get("importance") is not None:
      imp = np.asarray(extra["importance"], np.float64)
      self.importance = np.where(imp <= -1e9, -np.inf, imp)

  def report(self) -> dict:
    out = super().report()
    pool_in = int(self.contains(self.surrogate.pool).sum())
    out.update({
        "kept_choices": {f"position_{p}": [self._op_name(p, o) for o in np.nonzero(self.kept[p])[0]]
                         for p in range(self.space.num_positions)},
        "pruned_pool_size": pool_in,
        "pruned_space_combinations": int(np.prod(self.kept.sum(axis=1).astype(np.float64))),
        "full_space_combinations": int(self.space.num_combinations),
    })
    pi = self.position_importance()
    if pi is not None:
      out["position_importance"] = [round(float(v), 4) for v in pi]
    return out

  def _op_name(self, pos: int, op: int) -> str:
    ops = getattr(self.space, "ops", None)
    return str(ops[op]) if ops is not None else str(op)
