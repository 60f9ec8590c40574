"""Wall-clock timing shared by the benchmark scripts."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_seconds(fn: Callable[[], object], repeats: int) -> float:
  """The fastest of ``repeats`` calls of ``fn`` in seconds (``fn`` must block until its
  result is ready; warm it up first if it compiles)."""
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t)
  return min(times)
