"""The plain predictor-loop baseline of the search issue, as an ask/tell searcher.

Query ``num_init`` (20) random architectures, then every round fit XGBoost
(native ``xgboost.train`` / ``DMatrix`` API; NASLib's XGBoost defaults) on a
one-hot op encoding of everything queried — optionally plus the parameter
count computed from the architecture — predict the whole candidate pool and
query the ``round_size`` (10) best unqueried. Not a jaxnas strategy: it is the
reference the ranker strategies are compared with.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxnas import errors
from jaxnas import features
from jaxnas.search import base
from jaxnas.search import surrogate as surrogate_lib
from jaxnas.spaces import base as space_base

XGB_PARAMS = {"max_depth": 6, "eta": 0.05, "subsample": 0.9, "colsample_bytree": 0.9,
              "min_child_weight": 1, "nthread": 2, "verbosity": 0,
              "objective": "reg:squarederror"}


class XGBoostLoopSearch(base.Searcher):
  """Random start, then XGBoost picks the predicted top of the pool each round.

  Args:
    space: the search space.
    seed: seed of the random start and of XGBoost's subsampling.
    pool: int ``[P, D]`` candidates (default: the whole space if enumerable).
    use_params: add the log parameter count computed from the architecture.
    num_init: random architectures before the first fit.
    round_size: architectures queried per round.
    num_boost_round: boosting rounds.
  """

  name = "xgb"

  def __init__(self, space: space_base.Space, *, seed: int, pool: np.ndarray | None = None,
               use_params: bool = False, num_init: int = 20, round_size: int = 10,
               num_boost_round: int = 500):
    super().__init__(space, seed=seed)
    self.pool = (surrogate_lib.pool_for(space, key=jax.random.key(0)) if pool is None
                 else np.asarray(pool, np.int32))
    self.index = surrogate_lib.PoolIndex(space, self.pool)
    self.name = "xgb_params" if use_params else "xgb"
    cols = [space_base.one_hot(space, self.pool)]
    if use_params:
      cost = features.cost_features(space, self.pool)
      if not cost.shape[1]:
        raise errors.ConfigError(f"{space.name} has no params() for the params feature")
      cols.append(cost[:, :1])
    self.x = np.concatenate(cols, axis=1)
    self.num_init = int(num_init)
    self.round_size = self.batch_size = int(round_size)
    self.num_boost_round = int(num_boost_round)

  def _ask(self, n: int) -> np.ndarray:
    enc, scores = self.history
    if enc.shape[0] < self.num_init:
      return self.sample_new(self.key(), min(n, self.num_init - enc.shape[0]))
    import xgboost  # pylint: disable=import-outside-toplevel
    rows = self.index.rows(enc)
    ok = rows >= 0
    params = dict(XGB_PARAMS, seed=self.seed * 1000 + self.num_asks)
    booster = xgboost.train(params, xgboost.DMatrix(self.x[rows[ok]], label=scores[ok]),
                            num_boost_round=self.num_boost_round)
    pred = booster.predict(xgboost.DMatrix(self.x))
    seen = np.zeros(self.pool.shape[0], bool)
    seen[rows[ok]] = True
    return self.pool[surrogate_lib.top_unseen(pred, seen, n)]
