"""Regularised evolution (REA): aging tournament evolution.

Real et al., "Regularized Evolution for Image Classifier Architecture Search",
AAAI 2019. The population is the ``population_size`` most recently evaluated
architectures (the oldest dies when a child is added: *aging*). Each child is a
one-edit mutation of the best of ``sample_size`` population members drawn at
random. The first ``population_size`` architectures are random.

Because the population is defined by the order of told scores, the whole
state is the told history: checkpoints need nothing else.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxnas import errors
from jaxnas.search import base
from jaxnas.spaces import base as space_base

__all__ = ["RegularizedEvolution"]


class RegularizedEvolution(base.Searcher):
  """REA with aging.

  Args:
    space: the search space.
    seed: seed of sampling, tournaments and mutations.
    population_size: live population (the most recent evaluations).
    sample_size: tournament size (<= population_size).
    batch_size: children per ask the runner uses by default (1 is the
      sequential algorithm; larger batches draw several tournaments from the
      same population).
  """

  name = "rea"

  def __init__(self, space: space_base.Space, *, seed: int, population_size: int = 20,
               sample_size: int = 10, batch_size: int = 1):
    super().__init__(space, seed=seed)
    if population_size < 2 or not 1 <= sample_size <= population_size:
      raise errors.ConfigError(
          f"need population_size >= 2 and 1 <= sample_size <= population_size, got "
          f"{population_size} and {sample_size}")
    self.population_size = int(population_size)
    self.sample_size = int(sample_size)
    self.batch_size = int(batch_size)

  def _ask(self, n: int) -> np.ndarray:
    enc, scores = self.history
    if enc.shape[0] < self.population_size:
      return self.sample_new(self.key(0), min(n, self.population_size - enc.shape[0]))
    pop, pop_scores = enc[-self.population_size:], scores[-self.population_size:]
    out: list[np.ndarray] = []
    taken: set[bytes] = set()
    for i in range(n):
      k_t, k_m, k_r = jax.random.split(self.key(1 + i), 3)
      picks = np.asarray(jax.random.choice(k_t, self.population_size, (self.sample_size,),
                                           replace=False))
      parent = pop[picks[np.argmax(pop_scores[picks])]]
      child = self._new_child(k_m, parent, taken)
      if child is None:  # every nearby mutant is known: explore at random instead
        fresh = self.sample_new(k_r, 1, exclude=taken)
        if not fresh.shape[0]:
          break
        child = fresh[0]
      taken.add(base.arch_key(child))
      out.append(child)
    return np.stack(out) if out else np.zeros((0, self.space.num_positions), np.int32)

  def _new_child(self, key: jax.Array, parent: np.ndarray, taken: set) -> np.ndarray | None:
    """A mutant of ``parent`` that is neither told nor already in this batch."""
    # Draw a block of mutants at once (vectorised) and keep the first new one.
    mutants = self.space.mutate(key, np.repeat(parent[None], 32, axis=0))
    for m in mutants:
      k = base.arch_key(m)
      if k not in taken and not self.is_told(m):
        return m
    return None
