"""A benchmark table: architectures of one space with their measured metrics.

A :class:`Benchmark` holds encodings ``[N, D]`` of a :class:`~jaxnas.spaces.Space`
and metric columns ``[N]`` (accuracies, params, latencies, proxies). It gives
vectorised lookup of rows by architecture, deterministic train/test splits by
seed, and a :class:`QueryOracle` that counts ground-truth queries the way a
search budget is counted (cf. nasbench's ``get_budget_counters``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import jax
import numpy as np

from jaxnas import errors
from jaxnas.spaces import base

__all__ = ["Benchmark", "QueryOracle", "encoding_keys", "from_strings"]


def encoding_keys(space: base.Space, encodings: base.Encodings) -> np.ndarray:
  """Mixed-radix integer key ``[N]`` (int64) of each encoding ``[N, D]``.

  Raises if the space is too large for 63-bit keys; such spaces are only
  sampled or streamed, never tabulated.
  """
  if space.num_combinations >= 2**63:
    raise errors.ConfigError(f"{space.name} is too large to index as a table")
  enc = np.asarray(encodings, dtype=np.int64).reshape(-1, space.num_positions)
  key = np.zeros(enc.shape[0], np.int64)
  for p in range(space.num_positions):
    key = key * int(space.cardinalities[p]) + enc[:, p]
  return key


@dataclasses.dataclass
class Benchmark:
  """Architectures of one space and their metrics.

  Attributes:
    name: e.g. ``"nb201"`` or ``"nasbench_graph:cora"``.
    space: the search space the encodings belong to.
    encodings: int32 ``[N, D]``; one row per architecture (unique).
    metrics: column name -> float ``[N]``.
    index: int64 ``[N]``; the benchmark's official ids (row numbers if none).
    source: where the table was read from (for messages and provenance).
  """

  name: str
  space: base.Space
  encodings: np.ndarray
  metrics: dict[str, np.ndarray]
  index: np.ndarray | None = None
  source: str = ""

  def __post_init__(self):
    self.encodings = np.asarray(self.encodings, np.int32).reshape(-1, self.space.num_positions)
    n = self.encodings.shape[0]
    self.metrics = {k: np.asarray(v, np.float64) for k, v in self.metrics.items()}
    for k, v in self.metrics.items():
      if v.shape != (n,):
        raise errors.BenchmarkDataError(
            f"{self.name}: column {k!r} has shape {v.shape}, expected ({n},)")
    self.index = np.arange(n) if self.index is None else np.asarray(self.index, np.int64)
    if self.index.shape != (n,):
      raise errors.BenchmarkDataError(
          f"{self.name}: index has shape {self.index.shape}, expected ({n},)")
    keys = encoding_keys(self.space, self.encodings)
    order = np.argsort(keys, kind="stable")
    self._sorted_keys = keys[order]
    self._sorted_rows = order
    if np.any(np.diff(self._sorted_keys) == 0):
      dup = int(np.sum(np.diff(self._sorted_keys) == 0))
      raise errors.BenchmarkDataError(f"{self.name}: {dup} duplicate architectures in the table")
    self._strings: list[str] | None = None
    self._canonical_rows: dict[str, int] | None = None

  # ----------------------------------------------------------- basics
  def __len__(self) -> int:
    return int(self.encodings.shape[0])

  @property
  def archs(self) -> list[str]:
    """Architecture strings ``[N]`` in the space's string form (cached)."""
    if self._strings is None:
      self._strings = self.space.format_many(self.encodings)
    return self._strings

  @property
  def columns(self) -> list[str]:
    return list(self.metrics)

  def metric(self, name: str) -> np.ndarray:
    """One metric column ``[N]``; unknown names list the available ones."""
    if name not in self.metrics:
      raise errors.BenchmarkDataError(
          f"{self.name}: no column {name!r}; available: {sorted(self.metrics)}")
    return self.metrics[name]

  def __repr__(self) -> str:
    return (f"Benchmark({self.name!r}, {len(self)} archs of {self.space.name}, "
            f"columns={self.columns})")

  # ----------------------------------------------------------- lookup
  def rows(self, encodings: base.Encodings, *, strict: bool = True) -> np.ndarray:
    """Row numbers ``[B]`` of encodings ``[B, D]`` (vectorised).

    Args:
      encodings: architectures to look up.
      strict: raise :class:`~jaxnas.errors.OutOfDomainError` for archs not in
        the table; otherwise return -1 for them.
    """
    enc = np.asarray(encodings, np.int32).reshape(-1, self.space.num_positions)
    valid = self.space.is_valid(enc)
    keys = encoding_keys(self.space, np.where(valid[:, None], enc, 0))
    if len(self):
      pos = np.minimum(np.searchsorted(self._sorted_keys, keys), len(self) - 1)
      found = valid & (self._sorted_keys[pos] == keys)
      rows = np.where(found, self._sorted_rows[pos], -1)
    else:
      found = np.zeros(enc.shape[0], bool)
      rows = np.full(enc.shape[0], -1, np.int64)
    if len(self) and getattr(self.space, "tables_are_canonical", False):
      # Tables with one row per isomorphism class (NB101, NAS-Bench-Graph):
      # an arch isomorphic to a table entry resolves to that entry. Other
      # tables (NB201) hold isomorphic archs as separate measured rows, so an
      # arch missing from them is out of domain.
      for i in np.nonzero(~found & valid)[0]:
        rows[i] = self._canonical_row(enc[i])
    if strict and np.any(rows < 0):
      i = int(np.nonzero(rows < 0)[0][0])
      raise errors.OutOfDomainError(
          f"{self.name}: architecture {self._describe(enc[i])} is not in the table "
          f"({int(np.sum(rows < 0))} of {len(rows)} queried archs missing)")
    return rows

  def row(self, arch: str | base.Encoding) -> int:
    """Row number of one architecture given as a string or an encoding."""
    enc = self.space.parse(arch) if isinstance(arch, str) else self.space.validate(arch)
    return int(self.rows(enc[None])[0])

  def _canonical_row(self, encoding: np.ndarray) -> int:
    if self._canonical_rows is None:
      ids = self.space.canonical_ids(self.encodings)
      self._canonical_rows = {cid: r for r, cid in enumerate(ids)}
    try:
      return self._canonical_rows.get(self.space.canonical_id(encoding), -1)
    except errors.InvalidArchitectureError:
      return -1

  def _describe(self, encoding: np.ndarray) -> str:
    try:
      return repr(self.space.format(encoding))
    except Exception:  # An invalid encoding cannot always be formatted.
      return repr(encoding.tolist())

  def lookup(self, arch: str | base.Encoding, metric: str) -> float:
    """One metric value of one architecture (no query counting)."""
    return float(self.metric(metric)[self.row(arch)])

  # ----------------------------------------------------------- splits
  def split(self, seed: int | jax.Array, train_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic random split into ``train_size`` rows and the rest.

    Args:
      seed: an int seed or a ``jax.random`` key.
      train_size: number of training rows (``0 < train_size < len(self)``).

    Returns:
      ``(train_rows [train_size], test_rows [N - train_size])``, each sorted.
    """
    if not 0 < train_size < len(self):
      raise errors.ConfigError(
          f"{self.name}: train_size={train_size} must be in 1..{len(self) - 1}")
    key = jax.random.key(seed) if isinstance(seed, (int, np.integer)) else seed
    perm = np.asarray(jax.random.permutation(key, len(self)))
    return np.sort(perm[:train_size]), np.sort(perm[train_size:])

  def subset(self, rows: Sequence[int] | np.ndarray, name: str | None = None) -> "Benchmark":
    rows = np.asarray(rows)
    return Benchmark(name or self.name, self.space, self.encodings[rows],
                     {k: v[rows] for k, v in self.metrics.items()}, self.index[rows],
                     self.source)

  def oracle(self, metric: str, budget: int | None = None) -> "QueryOracle":
    return QueryOracle(self, metric, budget)


class QueryOracle:
  """Ground-truth lookups that count queries against a budget.

  A query of an architecture not queried before costs one unit; repeated
  queries of the same architecture are free (its result is already known).

  Args:
    benchmark: the table to read from.
    metric: the column a query returns.
    budget: maximum number of distinct queried archs (None: unlimited).
  """

  def __init__(self, benchmark: Benchmark, metric: str, budget: int | None = None):
    self.benchmark = benchmark
    self.metric_name = metric
    self.values = benchmark.metric(metric)
    self.budget = budget
    self._queried: dict[int, int] = {}  # row -> order of first query

  @property
  def queries_used(self) -> int:
    return len(self._queried)

  @property
  def queried_rows(self) -> np.ndarray:
    """Rows in the order they were first queried."""
    return np.asarray(sorted(self._queried, key=self._queried.get), np.int64)

  def query(self, encodings: base.Encodings) -> np.ndarray:
    """Metric values ``[B]`` of architectures ``[B, D]``, counting new ones."""
    rows = self.benchmark.rows(encodings)
    new = [int(r) for r in dict.fromkeys(rows.tolist()) if int(r) not in self._queried]
    if self.budget is not None and self.queries_used + len(new) > self.budget:
      raise errors.QueryBudgetExceededError(
          f"{self.benchmark.name}: {len(new)} new queries would exceed the budget of "
          f"{self.budget} ({self.queries_used} used)")
    for r in new:
      self._queried[r] = len(self._queried)
    return self.values[rows]

  def state_dict(self) -> dict:
    return {"queried_rows": self.queried_rows.tolist(), "budget": self.budget,
            "metric": self.metric_name}

  def load_state_dict(self, state: Mapping) -> None:
    """Restores :meth:`state_dict` output of an oracle on the same table.

    Raises:
      CheckpointError: the state is of another metric or names rows outside
        the table.
    """
    metric = state.get("metric", self.metric_name)
    if metric != self.metric_name:
      raise errors.CheckpointError(
          f"{self.benchmark.name}: oracle state is for metric {metric!r}, "
          f"this oracle answers {self.metric_name!r}")
    rows = [int(r) for r in state["queried_rows"]]
    bad = [r for r in rows if not 0 <= r < len(self.benchmark)]
    if bad:
      raise errors.CheckpointError(
          f"{self.benchmark.name}: oracle state names row {bad[0]}, but the table "
          f"has {len(self.benchmark)} rows")
    self._queried = {r: i for i, r in enumerate(rows)}
    self.budget = state.get("budget", self.budget)


def from_strings(name: str, space: base.Space, archs: Iterable[str],
                 metrics: Mapping[str, Sequence[float]], **kwargs) -> Benchmark:
  """Builds a benchmark from architecture strings (parsed and validated)."""
  enc = space.parse_many(archs, source=name)
  return Benchmark(name, space, enc, dict(metrics), **kwargs)
