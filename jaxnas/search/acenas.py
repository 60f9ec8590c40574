"""AceNAS search: LambdaRank ranker pretrained on weak labels, finetuned in rounds.

Zhang et al., "AceNAS: Learning to Rank Ace Neural Architectures with Weak
Supervision of Weight-Sharing" (2022): learning to rank with NDCG as the
target and LambdaRank as the loss; the GNN ranker is first pretrained on cheap
*weak* labels of many architectures (weight-sharing supernet accuracies),
then finetuned on the few architectures with ground truth, in rounds.

Here:

* **pretraining** (once per search, free): the ensemble learns to rank
  ``pretrain_size`` pool architectures by their weak labels. Weak labels are
  pluggable: an array ``[P]`` over the pool, or a callable ``encodings [P, D]
  -> [P]`` (a zero-cost proxy, a random-weight probe, a supernet). The
  default is the parameter count computed from the architecture (no
  benchmark column), when the space defines ``params()``;
* **rounds**: every round finetunes the pretrained ensemble (fresh optimiser)
  with LambdaRank on everything told, spends ``exploit_fraction`` (half) of
  the round on the predicted top, and the rest on *exploration*: uniform
  draws among the predicted top ``explore_fraction`` of the unseen pool
  (so exploration stays among plausible architectures). Round 0, before any
  ground truth, uses the pretrained ranker alone.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import jax
import numpy as np

from jaxnas import errors
from jaxnas import features
from jaxnas.search import decisions
from jaxnas.search import rounds
from jaxnas.search import surrogate as surrogate_lib

__all__ = ["AceNASSearch", "EXPLORATIONS", "params_weak_labels"]

WeakLabels = np.ndarray | Callable[[np.ndarray], np.ndarray]
EXPLORATIONS = ("neighbours", "top_region")


def params_weak_labels(space, pool: np.ndarray) -> np.ndarray | None:
  """Log-parameter counts ``[P]`` computed from the architectures, or None."""
  cost = features.cost_features(space, pool)
  return cost[:, 0].astype(np.float64) if cost.shape[1] else None


class AceNASSearch(rounds.RoundSearcher):
  """Weakly pretrained LambdaRank ranker, finetuned round by round (AceNAS).

  Args:
    space, seed, surrogate, surrogate_config, round_size: see
      :class:`~jaxnas.search.rounds.RoundSearcher`.
    weak_labels: array ``[P]`` over the surrogate's pool, a callable scoring
      pool encodings, ``"params"`` (default) or None (no pretraining: round 0
      is random).
    pretrain_size: pool archs the ensemble is pretrained on.
    pretrain_steps: optimisation steps of pretraining.
    finetune_steps: optimisation steps of each round's finetuning.
    exploit_fraction: share of a round spent on the predicted top.
    explore: ``"neighbours"`` (decision-level) or ``"top_region"``.
    explore_fraction: top-region draws come from this top share of the
      unseen pool.
    novelty_bonus: weight of an untested decision (pool score std units).
  """

  name = "acenas"

  def __init__(self, space, *, seed, surrogate=None, surrogate_config=None, round_size=10,
               weak_labels: WeakLabels | str | None = "params", pretrain_size=2048,
               pretrain_steps=300, finetune_steps=300, exploit_fraction=0.5,
               explore="neighbours", explore_fraction=0.05, novelty_bonus=2.0):
    super().__init__(space, seed=seed, surrogate=surrogate, surrogate_config=surrogate_config,
                     round_size=round_size, num_init=2)
    if not 0 <= exploit_fraction <= 1 or not 0 < explore_fraction <= 1:
      raise errors.ConfigError(
          f"need 0 <= exploit_fraction <= 1 and 0 < explore_fraction <= 1, got "
          f"{exploit_fraction} and {explore_fraction}")
    if explore not in EXPLORATIONS:
      raise errors.ConfigError(f"unknown explore={explore!r}; expected one of {EXPLORATIONS}")
    if pretrain_size < 2 or pretrain_steps < 1 or finetune_steps < 1:
      raise errors.ConfigError("pretrain_size >= 2, pretrain_steps >= 1, finetune_steps >= 1 required")
    self.exploit_fraction = float(exploit_fraction)
    self.explore = explore
    self.explore_fraction = float(explore_fraction)
    self.novelty_bonus = float(novelty_bonus)
    self.pretrain_size = int(pretrain_size)
    tc = self.surrogate.config.train
    self.pretrain_config = dataclasses.replace(tc, num_steps=int(pretrain_steps),
                                               eval_every=int(pretrain_steps), val_fraction=0.0)
    self.finetune_config = dataclasses.replace(tc, num_steps=int(finetune_steps),
                                               eval_every=int(finetune_steps),
                                               warmup_steps=min(tc.warmup_steps, 10))
    self._weak_spec = weak_labels
    self._weak: np.ndarray | None = None
    self._pretrained = None
    self.pretrain_seconds = 0.0

  @classmethod
  def default_surrogate_config(cls) -> surrogate_lib.SurrogateConfig:
    base_cfg = surrogate_lib.SurrogateConfig()
    return dataclasses.replace(base_cfg, train=dataclasses.replace(base_cfg.train,
                                                                   loss="lambdarank"))

  # ----------------------------------------------------------- weak labels
  def weak_labels(self) -> np.ndarray | None:
    """Weak labels ``[P]`` of the pool (computed once), or None."""
    if self._weak is None and self._weak_spec is not None:
      pool = self.surrogate.pool
      spec = self._weak_spec
      if isinstance(spec, str):
        if spec != "params":
          raise errors.ConfigError(f"unknown weak_labels {spec!r}; expected 'params', an array or a callable")
        weak = params_weak_labels(self.space, pool)
      elif callable(spec):
        weak = spec(pool)
      else:
        weak = spec
      if weak is None:
        self._weak_spec = None
        return None
      weak = np.asarray(weak, np.float64).reshape(-1)
      if weak.shape[0] != pool.shape[0]:
        raise errors.ConfigError(
            f"weak labels have {weak.shape[0]} values for a pool of {pool.shape[0]} archs")
      if not np.all(np.isfinite(weak)):
        raise errors.ConfigError(f"{int(np.sum(~np.isfinite(weak)))} weak labels are NaN/inf")
      self._weak = weak
    return self._weak

  def pretrained(self):
    """Ensemble params pretrained on the weak labels (None without weak labels)."""
    if self._pretrained is None:
      weak = self.weak_labels()
      if weak is None:
        return None
      t0 = time.perf_counter()
      key = jax.random.fold_in(jax.random.key(self.seed), 7)
      n = min(self.pretrain_size, weak.shape[0])
      rows = np.sort(np.asarray(jax.random.permutation(key, weak.shape[0]))[:n])
      self._pretrained = self.surrogate.fit(rows, weak[rows], self.seed * 100_003 + 99_991,
                                            train_config=self.pretrain_config)
      self.pretrain_seconds = time.perf_counter() - t0
    return self._pretrained

  # ----------------------------------------------------------- rounds
  def _initial(self, key, seen, n):
    params = self.pretrained()
    if params is None:
      return super()._initial(key, seen, max(n, self.round_size))
    preds = self.surrogate.predict(params)
    chosen, _ = self._split_round(key, preds.mean, seen, self.round_size, None, None)
    return chosen

  def _fit(self, rows, labels, seed):
    return self.surrogate.fit(rows, labels, seed, train_config=self.finetune_config,
                              init_params=self.pretrained())

  def _select(self, key, preds, rows, labels, seen, n):
    chosen, n_exploit = self._split_round(key, preds.mean, seen, n, rows, labels)
    return chosen, {"exploit": n_exploit, "explore": int(chosen.size - n_exploit)}

  def _split_round(self, key, scores: np.ndarray, seen: np.ndarray, n: int,
                   rows: np.ndarray | None, labels: np.ndarray | None) -> tuple[np.ndarray, int]:
    """``(rows [<= n], how many of them exploit)``: predicted top, then exploration."""
    exploit = surrogate_lib.top_unseen(scores, seen, int(round(self.exploit_fraction * n)))
    taken = seen.copy()
    taken[exploit] = True
    parts = [exploit]
    if self.explore == "neighbours" and rows is not None and rows.size:
      nb = decisions.propose_neighbours(self.space, self.surrogate.index, self.surrogate.pool,
                                        rows, labels, scores, taken, n - exploit.size,
                                        bonus=self.novelty_bonus)
      taken[nb] = True
      parts.append(nb)
    left = n - sum(p.size for p in parts)
    if left > 0:  # top-region draws (also when neighbours run out)
      k = max(left, int(np.ceil(self.explore_fraction * np.sum(~taken))))
      allowed = np.zeros(seen.size, bool)
      allowed[surrogate_lib.top_unseen(scores, taken, k)] = True
      parts.append(surrogate_lib.sample_without_replacement(key, np.zeros(seen.size), left,
                                                            allowed=allowed))
    return np.concatenate(parts).astype(np.int64), int(exploit.size)

  def report(self) -> dict:
    out = super().report()
    out["pretrain_seconds"] = round(self.pretrain_seconds, 3)
    out["weak_labels"] = (self._weak_spec if isinstance(self._weak_spec, str)
                          else None if self._weak_spec is None else "custom")
    return out
