"""ReNAS-style search: explicit exploration/exploitation with a ranker ensemble.

For ab-initio search on the complete-DAG space (connections and operations
searched together, no hand-made cell) the balance between trying uncertain
decisions and refining known-good ones is made explicit. The ``K`` members of
the ensemble (trained together, vmapped) give a mean score and a spread for
every pool architecture, and each round picks by

* ``"ucb"``: ``mean + beta_t * std`` with ``beta_t = beta * beta_decay**round``
  (optimism that fades as evidence accumulates), or
* ``"thompson"``: each slot of the round draws one member (one posterior
  sample of the ranking) and takes that member's best unseen architecture.

A share ``neighbour_fraction`` of every round goes to *decision-level*
exploration (:mod:`jaxnas.search.decisions`): one-edit neighbours of the best
told architectures — each one re-tests a single decision (an op, or an edge
switched on/off via ``none``) in the best context found so far — ranked by
the UCB value plus a novelty bonus for decisions no top-tier architecture has
made yet (a UCB over decisions). On NB201 this is what finds that
``skip_connect`` on edge 3<-0 helps the best cells although it hurts an
average one (a ranker trained on few random cells learns the average).

Pool architectures are all the ranker can propose; on spaces too large to
enumerate the pool is a sample (see :func:`surrogate.pool_for`), and only
neighbours inside it are used.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from jaxnas import errors
from jaxnas.search import decisions
from jaxnas.search import rounds
from jaxnas.search import surrogate as surrogate_lib

__all__ = ["ACQUISITIONS", "ReNASSearch"]

ACQUISITIONS = ("ucb", "thompson")


class ReNASSearch(rounds.RoundSearcher):
  """Ensemble UCB / Thompson sampling + decision-level exploration.

  Args:
    space, seed, surrogate, surrogate_config, round_size, num_init: see
      :class:`~jaxnas.search.rounds.RoundSearcher`.
    acquisition: ``"ucb"`` or ``"thompson"``.
    beta: initial weight of the ensemble spread (UCB).
    beta_decay: per-round factor of ``beta``.
    neighbour_fraction: share of a round spent on one-edit neighbours of the
      best told architectures.
    num_incumbents: how many of the best told archs lend neighbours.
    novelty_bonus: value of a never-tested decision (pool score std units).
  """

  name = "renas"

  def __init__(self, space, *, seed, surrogate=None, surrogate_config=None, round_size=10,
               num_init=10, acquisition="ucb", beta=1.0, beta_decay=0.85,
               neighbour_fraction=0.3, num_incumbents=3, novelty_bonus=2.0):
    super().__init__(space, seed=seed, surrogate=surrogate, surrogate_config=surrogate_config,
                     round_size=round_size, num_init=num_init)
    if acquisition not in ACQUISITIONS:
      raise errors.ConfigError(f"unknown acquisition {acquisition!r}; expected one of {ACQUISITIONS}")
    if beta < 0 or not 0 < beta_decay <= 1 or not 0 <= neighbour_fraction <= 1:
      raise errors.ConfigError(
          f"need beta >= 0, 0 < beta_decay <= 1, 0 <= neighbour_fraction <= 1; got {beta}, "
          f"{beta_decay}, {neighbour_fraction}")
    if acquisition == "thompson" and self.surrogate.config.ensemble_size < 2:
      raise errors.ConfigError("Thompson sampling needs an ensemble of >= 2 members")
    self.acquisition = acquisition
    self.beta = float(beta)
    self.beta_decay = float(beta_decay)
    self.neighbour_fraction = float(neighbour_fraction)
    self.num_incumbents = int(num_incumbents)
    self.novelty_bonus = float(novelty_bonus)

  @classmethod
  def default_surrogate_config(cls) -> surrogate_lib.SurrogateConfig:
    base_cfg = surrogate_lib.SurrogateConfig()
    return dataclasses.replace(base_cfg, ensemble_size=8, train=dataclasses.replace(
        base_cfg.train, loss="lambdarank"))

  def exploration_weight(self) -> float:
    """``beta_t`` of the current round."""
    return self.beta * self.beta_decay ** self.round_index

  def _select(self, key, preds, rows, labels, seen, n):
    beta_t = self.exploration_weight()
    taken = seen.copy()
    k_ts = jax.random.split(key)[1]  # the Thompson draws' key
    nb = decisions.propose_neighbours(
        self.space, self.surrogate.index, self.surrogate.pool, rows, labels,
        preds.mean + beta_t * preds.std, taken, int(round(self.neighbour_fraction * n)),
        bonus=self.novelty_bonus, num_incumbents=self.num_incumbents)
    taken[nb] = True
    rest = self._acquisition(k_ts, preds, np.nonzero(~taken)[0], n - nb.size, beta_t)
    chosen = np.concatenate([nb, rest]).astype(np.int64)
    return chosen, {"beta": round(beta_t, 4), "neighbours": int(nb.size),
                    "acquisition": self.acquisition}

  def _acquisition(self, key, preds: surrogate_lib.Predictions, cand: np.ndarray, n: int,
                   beta_t: float) -> np.ndarray:
    """Up to ``n`` rows of ``cand`` ``[m]`` picked by UCB or Thompson sampling."""
    if n <= 0 or not cand.size:
      return np.zeros(0, np.int64)
    if self.acquisition == "ucb":
      value = preds.mean[cand] + beta_t * preds.std[cand]
      return cand[np.lexsort((cand, -value))[:n]]
    members = np.asarray(jax.random.randint(key, (n,), 0, preds.scores.shape[0]))
    out: list[int] = []
    taken = set()
    for m in members:
      value = preds.scores[m, cand]
      for i in np.lexsort((cand, -value)):
        if int(cand[i]) not in taken:
          taken.add(int(cand[i]))
          out.append(int(cand[i]))
          break
    return np.asarray(out, np.int64)

  def report(self) -> dict:
    out = super().report()
    out.update({"acquisition": self.acquisition, "final_beta": round(self.exploration_weight(), 4)})
    return out
