"""Round-based ranker search: the skeleton NAR, RankNAS, AceNAS and ReNAS share.

A round = (re)train the ranker ensemble on every architecture told so far,
score the whole candidate pool in one jitted pass per chunk, and plan the next
``round_size`` queries. :class:`RoundSearcher` keeps the plan as a queue, so
``ask(n)`` works for any ``n``: it retrains only when the plan is used up. The
plan and the round counter are the only state besides the told history; each
round's ranker seed is derived from (seed, round), so a resumed search
retrains exactly the rankers an uninterrupted one would have.

Subclasses implement :meth:`_select` (what to query given the ensemble's
predictions) and may override :meth:`_initial` (what to query before there
are enough labels to train on; default: uniform random pool members) and
:meth:`_fit` (how to train, e.g. AceNAS's pretrain-then-finetune).

Architectures outside the pool can be told (they count as history) but are
not trained on; everything a round proposes comes from the pool.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import jax
import numpy as np

from jaxnas import errors
from jaxnas.search import base
from jaxnas.search import surrogate as surrogate_lib
from jaxnas.spaces import base as space_base

__all__ = ["RoundSearcher"]


class RoundSearcher(base.Searcher):
  """Base class of ranker-guided searches that plan in rounds.

  Args:
    space: the search space.
    seed: seed of the initial samples, the rankers and every random choice.
    surrogate: the ranker ensemble and its candidate pool; share one between
      searchers (seeds) of the same space so the pool is encoded and the
      train step compiled once. Default: a new one over
      :func:`surrogate.pool_for` the space.
    round_size: queries planned per round (also the default ``batch_size``).
    num_init: architectures told before the first ranker is trained.
  """

  name = "rounds"

  def __init__(self, space: space_base.Space, *, seed: int,
               surrogate: surrogate_lib.RankerSurrogate | None = None,
               surrogate_config: surrogate_lib.SurrogateConfig | None = None,
               round_size: int = 10, num_init: int = 10):
    super().__init__(space, seed=seed)
    if round_size < 1 or num_init < 2:
      raise errors.ConfigError(
          f"need round_size >= 1 and num_init >= 2, got {round_size} and {num_init}")
    if surrogate is None:
      pool = surrogate_lib.pool_for(space, key=jax.random.key(0))
      surrogate = surrogate_lib.RankerSurrogate(
          space, pool, surrogate_config or self.default_surrogate_config())
    elif surrogate.space is not space and surrogate.space.name != space.name:
      raise errors.ConfigError(
          f"the surrogate is over {surrogate.space.name}, the searcher over {space.name}")
    self.surrogate = surrogate
    self.round_size = int(round_size)
    self.batch_size = int(round_size)
    self.num_init = int(num_init)
    self.round_index = 0
    self._plan: list[int] = []  # pool rows planned, not yet asked
    self.ranker_seconds = 0.0  # training + scoring time of this searcher
    self.rounds_log: list[dict] = []  # one small record per planned round

  @classmethod
  def default_surrogate_config(cls) -> surrogate_lib.SurrogateConfig:
    """The ensemble settings this strategy is designed for."""
    return surrogate_lib.SurrogateConfig()

  # ----------------------------------------------------------- data
  def labelled(self) -> tuple[np.ndarray, np.ndarray]:
    """Pool rows ``[n]`` and best told scores ``[n]`` of the told archs in the pool."""
    enc, _ = self.history
    if not enc.shape[0]:
      return np.zeros(0, np.int64), np.zeros(0)
    rows = self.surrogate.index.rows(enc)
    uniq = list(dict.fromkeys(int(r) for r, e in zip(rows, enc) if r >= 0))
    labels = [self._told[base.arch_key(self.surrogate.pool[r])] for r in uniq]
    return np.asarray(uniq, np.int64), np.asarray(labels, np.float64)

  def seen_mask(self) -> np.ndarray:
    """bool ``[P]``: pool rows told so far."""
    mask = np.zeros(self.surrogate.pool_size, bool)
    rows, _ = self.labelled()
    mask[rows] = True
    return mask

  # ----------------------------------------------------------- rounds
  def _ask(self, n: int) -> np.ndarray:
    pool = self.surrogate.pool
    self._plan = [r for r in self._plan if not self.is_told(pool[r])]
    if not self._plan:
      self._plan = [int(r) for r in self._plan_round()]
    out, self._plan = self._plan[:n], self._plan[n:]
    return pool[np.asarray(out, np.int64)] if out else np.zeros((0, self.space.num_positions),
                                                               np.int32)

  def _plan_round(self) -> np.ndarray:
    t0 = time.perf_counter()
    rows, labels = self.labelled()
    seen = self.seen_mask()
    key = jax.random.fold_in(jax.random.key(self.seed), 1_000_003 + self.round_index)
    if rows.size < self.num_init:
      planned = self._initial(key, seen, self.num_init - rows.size)
      info = {"round": self.round_index, "kind": "initial"}
    else:
      params = self._fit(rows, labels, self.seed * 100_003 + self.round_index)
      preds = self.surrogate.predict(params)
      planned, info = self._select(key, preds, rows, labels, seen, self.round_size)
      info = {"round": self.round_index, "kind": "ranked", **info}
    planned = np.asarray(planned, np.int64)
    if planned.size != np.unique(planned).size or (planned.size and seen[planned].any()):
      raise errors.ConfigError(f"{self.name}: a round planned duplicate or told architectures")
    dt = time.perf_counter() - t0
    self.ranker_seconds += dt
    info.update({"num_told": int(rows.size), "planned": int(planned.size), "seconds": round(dt, 3)})
    self.rounds_log.append(info)
    self.round_index += 1
    return planned

  def _initial(self, key: jax.Array, seen: np.ndarray, n: int) -> np.ndarray:
    """Rows to query before the first ranker: uniform random unseen pool rows."""
    return surrogate_lib.sample_without_replacement(key, np.zeros(seen.size), n, allowed=~seen)

  def _fit(self, rows: np.ndarray, labels: np.ndarray, seed: int):
    """Trains the ensemble on the labelled rows; returns stacked params."""
    return self.surrogate.fit(rows, labels, seed)

  def _select(self, key: jax.Array, preds: surrogate_lib.Predictions, rows: np.ndarray,
              labels: np.ndarray, seen: np.ndarray, n: int) -> tuple[np.ndarray, dict]:
    """Returns ``(pool rows [<= n] to query, info dict for the round log)``."""
    raise NotImplementedError

  # ----------------------------------------------------------- state
  def _extra_state(self) -> dict:
    # The plan is stored as encodings, not rows: it stays valid for any pool
    # that holds the same architectures.
    plan = self.surrogate.pool[np.asarray(self._plan, np.int64)].tolist() if self._plan else []
    return {"round_index": self.round_index, "plan": plan,
            "ranker_seconds": self.ranker_seconds, "rounds_log": self.rounds_log,
            **self._strategy_state()}

  def _load_extra_state(self, extra: Mapping) -> None:
    self.round_index = int(extra.get("round_index", 0))
    plan = np.asarray(extra.get("plan", []), np.int32).reshape(-1, self.space.num_positions)
    rows = self.surrogate.index.rows(plan)
    if np.any(rows < 0):
      raise errors.CheckpointError(
          f"{self.name}: the saved plan names architectures outside this searcher's pool")
    self._plan = [int(r) for r in rows]
    self.ranker_seconds = float(extra.get("ranker_seconds", 0.0))
    self.rounds_log = list(extra.get("rounds_log", []))
    self._load_strategy_state(extra)

  def _strategy_state(self) -> dict:
    return {}

  def _load_strategy_state(self, extra: Mapping) -> None:
    del extra

  def report(self) -> dict:
    return {"ranker_seconds": round(self.ranker_seconds, 3), "rounds": self.round_index,
            "pool_size": self.surrogate.pool_size}
