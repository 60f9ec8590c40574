"""Local search: hill climbing over one-edit neighbourhoods, with random restarts.

White, Nolen, Savani, "Exploring the Loss Landscape in Neural Architecture
Search", UAI 2021 (local search is state of the art on NAS benchmarks):
query ``num_init`` random architectures and start from the best; evaluate every
one-edit neighbour of the current architecture (in random order); move to the
best neighbour if it improves, otherwise (a local optimum) restart from a new
random architecture.

State beyond the history: the current centre and the queue of its neighbours
not yet asked.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import numpy as np

from jaxnas import errors
from jaxnas.search import base
from jaxnas.spaces import base as space_base

__all__ = ["LocalSearch"]


class LocalSearch(base.Searcher):
  """Best-improvement local search with random restarts.

  Args:
    space: the search space.
    seed: seed of the initial samples, restarts and neighbour order.
    num_init: random architectures before the first climb.
    batch_size: candidates per ask the runner uses by default.
  """

  name = "local"

  def __init__(self, space: space_base.Space, *, seed: int, num_init: int = 10,
               batch_size: int = 10):
    super().__init__(space, seed=seed)
    if num_init < 1:
      raise errors.ConfigError(f"num_init must be >= 1, got {num_init!r}")
    self.num_init = int(num_init)
    self.batch_size = int(batch_size)
    self._center: np.ndarray | None = None  # [D] current architecture
    self._queue: list[np.ndarray] = []  # neighbours of the centre not asked yet
    self._restart: np.ndarray | None = None  # a restart point waiting for its score
    self._pending: set[bytes] = set()  # asked, not told

  def _after_tell(self, encodings, scores) -> None:
    for e in encodings:
      self._pending.discard(base.arch_key(e))

  def _ask(self, n: int) -> np.ndarray:
    out: list[np.ndarray] = []
    for step in range(10_000):
      if len(out) == n:
        break
      self._queue = [e for e in self._queue if not self.is_told(e)]
      if self._queue:
        out.append(self._queue.pop(0))
        continue
      if out or self._pending:
        break  # the next move needs the scores of what is in flight
      nxt = self._advance(self.key(step))
      if nxt is None:
        break
      self._queue = list(nxt)
    for e in out:
      self._pending.add(base.arch_key(e))
    return np.stack(out) if out else np.zeros((0, self.space.num_positions), np.int32)

  def _score(self, encoding: np.ndarray) -> float:
    return self._told[base.arch_key(encoding)]

  def _advance(self, key: jax.Array) -> np.ndarray | None:
    """Moves the climb one step; returns the next architectures to evaluate."""
    k_init, k_order, k_restart = jax.random.split(key, 3)
    if self._center is None and self._restart is None:
      if self.num_told < self.num_init:
        return self.sample_new(k_init, self.num_init - self.num_told)
      self._center = self.best()[0]
    elif self._restart is not None:
      self._center, self._restart = self._restart, None
    else:
      nbrs = self.space.neighbours(self._center)
      told = [e for e in nbrs if self.is_told(e)]
      best = max(told, key=self._score, default=None)
      if best is not None and self._score(best) > self._score(self._center):
        self._center = best
      else:  # local optimum: restart from a fresh random architecture
        fresh = self.sample_new(k_restart, 1)
        if not fresh.shape[0]:
          return None
        self._restart, self._center = fresh[0], None
        return fresh
    nbrs = self.space.neighbours(self._center)
    new = nbrs[~self.told_mask(nbrs)]
    if not new.shape[0]:  # a fully known neighbourhood: judge it right away
      return self._advance(jax.random.fold_in(key, 1))
    order = np.asarray(jax.random.permutation(k_order, new.shape[0]))
    return new[order]

  def _extra_state(self) -> dict:
    return {"center": None if self._center is None else self._center.tolist(),
            "restart": None if self._restart is None else self._restart.tolist(),
            "queue": [e.tolist() for e in self._queue],
            "pending": [np.frombuffer(k, np.int32).tolist() for k in sorted(self._pending)]}

  def _load_extra_state(self, extra: Mapping) -> None:
    as_arr = lambda v: None if v is None else np.asarray(v, np.int32)
    self._center = as_arr(extra.get("center"))
    self._restart = as_arr(extra.get("restart"))
    self._queue = [np.asarray(e, np.int32) for e in extra.get("queue", [])]
    self._pending = {base.arch_key(np.asarray(e, np.int32)) for e in extra.get("pending", [])}
