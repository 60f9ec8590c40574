"""Random search: uniform samples of the space, never the same architecture twice.

The baseline every NAS paper reports (Li & Talwalkar, "Random Search and
Reproducibility for Neural Architecture Search", UAI 2019).
"""

from __future__ import annotations

import numpy as np

from jaxnas.search import base
from jaxnas.spaces import base as space_base

__all__ = ["RandomSearch"]


class RandomSearch(base.Searcher):
  """Uniformly random architectures without repetition.

  Args:
    space: the search space.
    seed: seed of the samples.
    batch_size: candidates per ask the runner uses by default.
  """

  name = "random"

  def __init__(self, space: space_base.Space, *, seed: int, batch_size: int = 10):
    super().__init__(space, seed=seed)
    self.batch_size = int(batch_size)

  def _ask(self, n: int) -> np.ndarray:
    return self.sample_new(self.key(), n)
