"""NAR search: sample candidates from the top tier's per-position op statistics.

Guo et al., "Neural Architecture Ranker" (2022): a ranker with a quality-tier
head classifies architectures into global tiers; the distribution of choices
in the *top* tier says which operation each position should take, so new
candidates are sampled from those statistics (no RL, no evolution), ranked,
and the best are queried; the statistics are refined every round.

Here, each round:

1. the ensemble (score head + tier head, trained with the ranking loss plus
   ``tier_weight`` × tier cross-entropy on quantile tiers of the told scores)
   is retrained on everything told;
2. the top-tier set is the told architectures in the top tier of the told
   scores, plus the ``predicted_top`` pool architectures with the highest
   predicted probability of tier 0 (weight ``predicted_weight`` each);
3. per-position op distributions ``p[position, op]`` are their smoothed
   frequencies (``alpha`` pseudo-counts keep every choice possible);
4. ``num_samples`` unseen pool architectures are drawn with probability
   ``∝ prod_position p[position, op]`` (the product distribution restricted to
   the pool: on NB201 the pool is the whole space, so this is exactly sampling
   from the statistics), ranked by the ensemble's mean score, and the best
   ``round_size`` are queried.

Note why the top tier and not the mean: on NB201 ``skip_connect`` on edge
3<-0 has the *lowest* mean accuracy of the ops but is in every top-10 cell.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from jaxnas import errors
from jaxnas import losses
from jaxnas.search import rounds
from jaxnas.search import surrogate as surrogate_lib

__all__ = ["NARSearch"]


class NARSearch(rounds.RoundSearcher):
  """Tier-statistics sampling + ranking (NAR).

  Args:
    space, seed, surrogate, surrogate_config, round_size, num_init: see
      :class:`~jaxnas.search.rounds.RoundSearcher`. The surrogate needs a tier
      head (``model.num_tiers > 0``) and a ``tier_weight > 0``.
    num_samples: candidates sampled from the statistics per round.
    predicted_top: pool archs with the highest predicted top-tier
      probability that join the statistics.
    predicted_weight: weight of each of them relative to a told arch.
    alpha: pseudo-count of every (position, op) (smoothing; exploration).
  """

  name = "nar"

  def __init__(self, space, *, seed, surrogate=None, surrogate_config=None, round_size=10,
               num_init=10, num_samples=512, predicted_top=50, predicted_weight=0.2,
               alpha=0.5):
    super().__init__(space, seed=seed, surrogate=surrogate, surrogate_config=surrogate_config,
                     round_size=round_size, num_init=num_init)
    cfg = self.surrogate.config
    if not cfg.model.num_tiers or not cfg.train.tier_weight:
      raise errors.ConfigError(
          "NAR needs a tier head: model.num_tiers > 0 and train.tier_weight > 0 "
          f"(got {cfg.model.num_tiers} and {cfg.train.tier_weight})")
    if num_samples < round_size or alpha <= 0:
      raise errors.ConfigError(
          f"need num_samples >= round_size and alpha > 0, got {num_samples} and {alpha}")
    self.num_samples = int(num_samples)
    self.predicted_top = int(predicted_top)
    self.predicted_weight = float(predicted_weight)
    self.alpha = float(alpha)
    self.last_statistics: np.ndarray | None = None

  @classmethod
  def default_surrogate_config(cls) -> surrogate_lib.SurrogateConfig:
    base_cfg = surrogate_lib.SurrogateConfig()
    return dataclasses.replace(
        base_cfg, model=dataclasses.replace(base_cfg.model, num_tiers=5),
        train=dataclasses.replace(base_cfg.train, tier_weight=0.5))

  def statistics(self, preds: surrogate_lib.Predictions, rows: np.ndarray,
                 labels: np.ndarray) -> np.ndarray:
    """Per-position op distributions ``[D, C]`` of the top tier (rows sum to 1)."""
    pool = self.surrogate.pool
    num_tiers = self.surrogate.model_config.num_tiers
    tiers = np.asarray(losses.quantile_tiers(np.asarray(labels, np.float32), num_tiers))
    top_told = rows[tiers == 0]
    p_top = preds.tier_probs[..., 0].mean(axis=0)  # [P]
    top_pred = surrogate_lib.top_unseen(p_top, np.zeros(pool.shape[0], bool), self.predicted_top)
    d = self.space.num_positions
    c = int(self.space.cardinalities.max())
    counts = np.full((d, c), self.alpha)
    counts[np.arange(c)[None, :] >= self.space.cardinalities[:, None]] = 0.0
    for sel, w in ((top_told, 1.0), (top_pred, self.predicted_weight)):
      enc = pool[sel]
      for pos in range(d):
        counts[pos] += w * np.bincount(enc[:, pos], minlength=c)[:c]
    return counts / counts.sum(axis=1, keepdims=True)

  def _select(self, key, preds, rows, labels, seen, n):
    stats = self.statistics(preds, rows, labels)
    self.last_statistics = stats
    pool = self.surrogate.pool
    log_p = np.log(stats[np.arange(self.space.num_positions)[None, :], pool]).sum(axis=1)  # [P]
    cands = surrogate_lib.sample_without_replacement(key, log_p, self.num_samples, allowed=~seen)
    order = np.lexsort((cands, -preds.mean[cands]))
    chosen = cands[order[:n]]
    entropy = -(stats * np.log(np.maximum(stats, 1e-12))).sum(axis=1)
    return chosen, {"sampled": int(cands.size),
                    "mode": stats.argmax(axis=1).tolist(),
                    "entropy": [round(float(h), 3) for h in entropy]}
