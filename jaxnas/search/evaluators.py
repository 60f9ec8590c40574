"""Evaluators behind one interface: benchmark lookups, rankers, random-weight probes.

* :class:`BenchmarkEvaluator` — ground truth from a benchmark table through a
  :class:`~jaxnas.data.benchmark.QueryOracle`: every architecture not queried
  before costs one query; repeats are free.
* :class:`RankerEvaluator` — a trained ranker ensemble's mean score (free).
* :class:`ProbeEvaluator` — any callable scorer of encodings, e.g.
  :meth:`jaxnas.evaluate.rwe.RandomWeightEvaluator.score` (the random-weight
  probe) or a weight-sharing supernet; results are cached, so each distinct
  architecture is computed (and counted) once.

All of them count distinct evaluated architectures in ``num_evaluations`` and
accumulate the seconds they spend in ``wall_time``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np

from jaxnas import errors
from jaxnas import features
from jaxnas import graphs as graphs_lib
from jaxnas import train
from jaxnas.data import benchmark as benchmark_lib
from jaxnas.search import base
from jaxnas.search import surrogate as surrogate_lib

__all__ = ["BenchmarkEvaluator", "ProbeEvaluator", "RankerEvaluator"]


class BenchmarkEvaluator(base.Evaluator):
  """Ground-truth lookups of ``metric``, counted as queries.

  Args:
    benchmark: the table.
    metric: the column a query returns (e.g. ``cifar10_test``).
    budget: refuse queries beyond this many distinct archs (None: no limit).
  """

  is_ground_truth = True

  def __init__(self, benchmark: benchmark_lib.Benchmark, metric: str, budget: int | None = None):
    super().__init__()
    self.benchmark = benchmark
    self.metric = metric
    self.oracle = benchmark_lib.QueryOracle(benchmark, metric, budget)

  def evaluate(self, encodings: np.ndarray) -> np.ndarray:
    t0 = time.perf_counter()
    out = np.asarray(self.oracle.query(encodings), np.float64)
    self.wall_time += time.perf_counter() - t0
    return out

  @property
  def num_evaluations(self) -> int:
    return self.oracle.queries_used

  def state_dict(self) -> dict:
    return self.oracle.state_dict()

  def load_state_dict(self, state: Mapping) -> None:
    self.oracle.load_state_dict(state)


class ProbeEvaluator(base.Evaluator):
  """Caches and counts the scores of any ``score_fn(encodings [N, D]) -> [N]``.

  Args:
    score_fn: the scorer (e.g. ``RandomWeightEvaluator(...).score``).
    num_positions: ``D`` of the encodings.
    name: for messages and results.
  """

  is_ground_truth = False

  def __init__(self, score_fn: Callable[[np.ndarray], np.ndarray], num_positions: int, *,
               name: str = "probe"):
    super().__init__()
    self.score_fn = score_fn
    self.num_positions = int(num_positions)
    self.name = name
    self._cache: dict[bytes, float] = {}

  def evaluate(self, encodings: np.ndarray) -> np.ndarray:
    enc = np.asarray(encodings, np.int32).reshape(-1, self.num_positions)
    keys = [base.arch_key(e) for e in enc]
    new = list(dict.fromkeys(k for k in keys if k not in self._cache))
    if new:
      t0 = time.perf_counter()
      rows = {k: i for i, k in enumerate(keys)}
      batch = enc[[rows[k] for k in new]]
      scores = np.asarray(self.score_fn(batch), np.float64).reshape(-1)
      if scores.shape[0] != batch.shape[0]:
        raise errors.ConfigError(
            f"{self.name}: scorer returned {scores.shape[0]} scores for {batch.shape[0]} archs")
      if not np.all(np.isfinite(scores)):
        raise errors.ConfigError(f"{self.name}: scorer returned non-finite scores")
      self._cache.update(zip(new, scores.tolist()))
      self.wall_time += time.perf_counter() - t0
    return np.asarray([self._cache[k] for k in keys], np.float64)

  @property
  def num_evaluations(self) -> int:
    return len(self._cache)

  def state_dict(self) -> dict:
    # The cache is the state: resuming must not recompute (or recount) archs.
    items = list(self._cache.items())
    return {"encodings": [np.frombuffer(k, np.int32).tolist() for k, _ in items],
            "scores": [s for _, s in items]}

  def load_state_dict(self, state: Mapping) -> None:
    enc = np.asarray(state.get("encodings", []), np.int32).reshape(-1, self.num_positions)
    scores = list(state.get("scores", []))
    if len(scores) != enc.shape[0]:
      raise errors.CheckpointError(
          f"{self.name}: evaluator state has {enc.shape[0]} encodings but {len(scores)} scores")
    self._cache = {base.arch_key(e): float(s) for e, s in zip(enc, scores)}


class RankerEvaluator(base.Evaluator):
  """The ensemble-mean score of trained rankers (an estimate, free).

  Archs of the surrogate's pool are scored from the pool's graph arrays; others
  are encoded on the fly (their cost features standardised with the pool's
  statistics, so scores are comparable).

  Args:
    surrogate: the surrogate the rankers were trained with.
    params: stacked member parameters from :meth:`RankerSurrogate.fit`.
  """

  is_ground_truth = False

  def __init__(self, surrogate: surrogate_lib.RankerSurrogate, params):
    super().__init__()
    self.surrogate = surrogate
    self.params = params
    self._pool: surrogate_lib.Predictions | None = None
    self._seen: set[bytes] = set()
    raw = features.cost_features(surrogate.space, surrogate.pool)
    self._raw_reference = raw if (raw.shape[1] and surrogate.pool_globals is not None) else None

  def evaluate(self, encodings: np.ndarray) -> np.ndarray:
    t0 = time.perf_counter()
    sur = self.surrogate
    enc = np.asarray(encodings, np.int32).reshape(-1, sur.space.num_positions)
    if self._pool is None:
      self._pool = sur.predict(self.params)
    rows = sur.index.rows(enc)
    out = np.zeros(enc.shape[0])
    inside = rows >= 0
    out[inside] = self._pool.mean[rows[inside]]
    if np.any(~inside):
      out[~inside] = self._score_outside(enc[~inside])
    self._seen.update(base.arch_key(e) for e in enc)
    self.wall_time += time.perf_counter() - t0
    return out

  def _score_outside(self, enc: np.ndarray) -> np.ndarray:
    sur = self.surrogate
    glob = None
    if self._raw_reference is not None:
      glob = features.standardize(features.cost_features(sur.space, enc), self._raw_reference)
    arrays = graphs_lib.encode(sur.space, enc, glob)
    trainer = sur.trainer(sur.config.train)
    raw = train.score_arrays(trainer.graphdef, self.params, trainer.template, arrays,
                             chunk=min(256, max(1, enc.shape[0])))
    # Put members on the pool's scale before averaging, as Predictions does.
    mu, sd = self._pool.raw_mean[:, None], self._pool.raw_std[:, None]
    return ((raw - mu) / sd).mean(axis=0)

  @property
  def num_evaluations(self) -> int:
    return len(self._seen)
