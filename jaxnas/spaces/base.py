"""The Space protocol shared by every search space.

An architecture of any space is an **encoding**: a fixed-length vector of integer
choices, one per *position* (an edge of a cell, a layer of a chain, a matrix entry
of an NB101 spec). Batches of architectures are ``int32`` arrays of shape
``[batch, num_positions]``, so sampling, mutation, enumeration and conversion to
graphs are vectorised numpy/JAX operations rather than per-architecture Python.

Each space adds to that:

* a human string form (``parse`` / ``format``), validated with errors from
  :mod:`jaxnas.errors` that name the offending value;
* ``canonical_id``: equal for isomorphic architectures where the space has
  isomorphisms;
* ``to_graphs``: a dense, fixed-size DAG per architecture (node op ids, node
  mask, adjacency), turned into padded ``jraph.GraphsTuple`` by
  :mod:`jaxnas.graphs`.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Iterable, Sequence

import jax
import numpy as np

from jaxnas import errors

__all__ = ["DenseGraphs", "Space", "iterate_chunks", "one_hot", "sample_distinct"]

Encoding = np.ndarray  # int32 [num_positions]
Encodings = np.ndarray  # int32 [batch, num_positions]


@dataclasses.dataclass(frozen=True)
class DenseGraphs:
  """A batch of architecture DAGs with a fixed node budget.

  Attributes:
    node_ops: int32 ``[batch, max_nodes]``; index into the space's
      ``node_vocab`` (0 for padding / pruned nodes).
    node_mask: bool ``[batch, max_nodes]``; True for nodes that exist.
    adjacency: bool ``[batch, max_nodes, max_nodes]``; ``adjacency[b, i, j]``
      is True when data flows from node ``i`` to node ``j``. Only existing
      nodes have edges.
    node_features: float32 ``[batch, max_nodes, F]`` numeric node features
      (position, widths, kernels, ...; ``F = space.num_node_features``), or
      None for spaces without them (``F = 0``).
  """

  node_ops: np.ndarray
  node_mask: np.ndarray
  adjacency: np.ndarray
  node_features: np.ndarray | None = None

  @property
  def batch_size(self) -> int:
    return self.node_ops.shape[0]

  @property
  def max_nodes(self) -> int:
    return self.node_ops.shape[1]


class Space(abc.ABC):
  """A search space of architectures encoded as fixed-length integer vectors.

  Subclasses set ``name``, ``cardinalities`` (``[num_positions]``: number of
  choices per position), ``node_vocab`` and ``max_nodes`` and implement
  ``parse``, ``format`` and ``to_graphs``. They override ``is_valid`` /
  ``validate`` when not every combination of choices is an architecture, and
  ``canonical_id`` when the space has isomorphisms.
  """

  name: str = "space"
  # The spec string that rebuilds this space with jaxnas.spaces.get_space
  # (set by the registry; None for spaces built directly from objects).
  spec: str | None = None
  node_vocab: tuple[str, ...] = ()
  max_nodes: int = 0
  # Width F of DenseGraphs.node_features (0: categorical node ids only).
  num_node_features: int = 0
  # Optional user cost function: encodings [N, D] -> {name: [N] costs >= 0};
  # jaxnas.features feeds log costs to rankers (overrides params()/flops()).
  cost_fn = None

  def __init__(self, cardinalities: Sequence[int]):
    self.cardinalities = np.asarray(cardinalities, dtype=np.int32)
    if self.cardinalities.ndim != 1 or np.any(self.cardinalities < 1):
      raise errors.ConfigError(
          f"cardinalities must be a 1-D list of positive ints, got {cardinalities!r}")

  # ----------------------------------------------------------- string form
  @abc.abstractmethod
  def parse(self, text: str) -> Encoding:
    """Parses the space's string form into a validated encoding ``[D]``."""

  @abc.abstractmethod
  def format(self, encoding: Encoding) -> str:
    """Formats an encoding ``[D]`` as the space's string form."""

  def parse_many(self, texts: Iterable[str], *, source: str = "") -> Encodings:
    """Parses many strings into ``[N, D]``; errors name the failing row."""
    rows = []
    for i, text in enumerate(texts):
      try:
        rows.append(self.parse(text))
      except errors.InvalidArchitectureError as e:
        where = f"{source}, row {i}" if source else f"item {i}"
        raise type(e)(f"{where}: {e}") from None
    if not rows:
      return np.zeros((0, self.num_positions), np.int32)
    return np.stack(rows).astype(np.int32)

  def format_many(self, encodings: Encodings) -> list[str]:
    return [self.format(e) for e in np.asarray(encodings)]

  # ----------------------------------------------------------- validity
  @property
  def num_positions(self) -> int:
    return int(self.cardinalities.shape[0])

  def is_valid(self, encodings: Encodings) -> np.ndarray:
    """Vectorised membership test: bool ``[N]`` for ``encodings`` ``[N, D]``."""
    enc = np.asarray(encodings)
    return np.all((enc >= 0) & (enc < self.cardinalities), axis=-1)

  def validate(self, encoding: Encoding) -> Encoding:
    """Returns ``encoding`` as int32 ``[D]`` or raises a clear error."""
    enc = np.asarray(encoding)
    if enc.ndim != 1 or enc.shape[0] != self.num_positions:
      raise errors.WrongLengthError(
          f"{self.name}: expected {self.num_positions} positions, got shape "
          f"{tuple(enc.shape)}")
    if not np.issubdtype(enc.dtype, np.integer):
      raise errors.InvalidArchitectureError(
          f"{self.name}: encoding must hold integers, got dtype {enc.dtype}")
    bad = np.nonzero((enc < 0) | (enc >= self.cardinalities))[0]
    if bad.size:
      p = int(bad[0])
      raise errors.InvalidArchitectureError(
          f"{self.name}: position {p} has choice {int(enc[p])}, expected "
          f"0..{int(self.cardinalities[p]) - 1}")
    return enc.astype(np.int32)

  # ----------------------------------------------------------- identity
  def canonical_id(self, encoding: Encoding) -> str:
    """Identifier equal for isomorphic architectures (default: the string)."""
    return self.format(encoding)

  def canonical_ids(self, encodings: Encodings) -> list[str]:
    return [self.canonical_id(e) for e in np.asarray(encodings)]

  # ----------------------------------------------------------- size / enumeration
  @property
  def num_combinations(self) -> int:
    """Number of choice combinations (an upper bound on the space size)."""
    return math.prod(int(c) for c in self.cardinalities)

  @property
  def is_finite_enumerable(self) -> bool:
    """Whether :meth:`enumerate` is practical (at most ~5M combinations)."""
    return self.num_combinations <= 5_000_000

  def enumerate(self) -> Encodings:
    """All valid encodings ``[size, D]`` in lexicographic order."""
    if not self.is_finite_enumerable:
      raise errors.ConfigError(
          f"{self.name} has {self.num_combinations:.3g} combinations; use "
          "jaxnas.spaces.iterate_chunks to stream it instead")
    return self.decode_index(np.arange(self.num_combinations, dtype=np.int64))

  def decode_index(self, indices: np.ndarray) -> Encodings:
    """Mixed-radix decoding of combination indices ``[N]`` -> ``[N', D]``.

    Invalid combinations are dropped, so the result can be shorter than the
    input. The last position varies fastest.
    """
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= self.num_combinations):
      raise errors.ConfigError(
          f"{self.name}: combination indices must be in 0..{self.num_combinations - 1}, got "
          f"{int(idx.min())}..{int(idx.max())}")
    out = np.empty((idx.shape[0], self.num_positions), np.int32)
    rem = idx.copy()
    for p in range(self.num_positions - 1, -1, -1):
      c = int(self.cardinalities[p])
      out[:, p] = rem % c
      rem //= c
    return out[self.is_valid(out)]

  # ----------------------------------------------------------- sampling / mutation
  def sample(self, key: jax.Array, n: int, *, unique: bool = False) -> Encodings:
    """Uniform samples ``[n, D]`` of valid architectures.

    Args:
      key: PRNG key; the same key gives the same samples.
      n: number of samples.
      unique: False draws with replacement (10,000 NB201 draws hold ~8,400
        distinct cells); True draws without replacement: ``n`` distinct
        encodings, each subset equally likely.

    Raises:
      ConfigError: when ``unique`` and the space has fewer than ``n`` valid
        architectures, or valid ones are too rare to find.
    """
    if unique:
      return sample_distinct(self, key, n)
    rows: list[np.ndarray] = []
    have = 0
    for _ in range(1000):
      key, sub = jax.random.split(key)
      draw = np.asarray(jax.random.randint(
          sub, (max(2 * (n - have), 16), self.num_positions), 0,
          self.cardinalities), dtype=np.int32)
      draw = draw[self.is_valid(draw)]
      rows.append(draw)
      have += draw.shape[0]
      if have >= n:
        return np.concatenate(rows)[:n]
    raise errors.ConfigError(f"{self.name}: could not sample {n} valid architectures")

  def mutate(self, key: jax.Array, encodings: Encodings) -> Encodings:
    """One random one-edit neighbour per row of ``encodings`` ``[N, D]``.

    A uniformly random position (with more than one choice) takes a uniformly
    random *different* value; rows whose mutant is invalid are redrawn.
    """
    enc = np.asarray(encodings, dtype=np.int32)
    out = enc.copy()
    todo = np.arange(enc.shape[0])
    mutable = np.nonzero(self.cardinalities > 1)[0]
    if mutable.size == 0 and enc.shape[0]:
      raise errors.ConfigError(f"{self.name}: no position has more than one choice to mutate")
    for _ in range(1000):
      if todo.size == 0:
        return out
      key, kp, kv = jax.random.split(key, 3)
      pos = mutable[np.asarray(jax.random.randint(kp, (todo.size,), 0, mutable.size))]
      card = self.cardinalities[pos]
      shift = 1 + np.asarray(jax.random.randint(kv, (todo.size,), 0, card - 1))
      cand = enc[todo].copy()
      cand[np.arange(todo.size), pos] = (cand[np.arange(todo.size), pos] + shift) % card
      ok = self.is_valid(cand)
      out[todo[ok]] = cand[ok]
      todo = todo[~ok]
    raise errors.ConfigError(f"{self.name}: could not find valid mutants")

  def neighbours(self, encoding: Encoding) -> Encodings:
    """All valid one-edit neighbours ``[M, D]`` of one encoding ``[D]``."""
    enc = self.validate(encoding)
    rows = []
    for p in range(self.num_positions):
      c = int(self.cardinalities[p])
      if c < 2:
        continue
      block = np.repeat(enc[None], c - 1, axis=0)
      block[:, p] = (enc[p] + np.arange(1, c)) % c
      rows.append(block)
    if not rows:
      return np.zeros((0, self.num_positions), np.int32)
    out = np.concatenate(rows)
    return out[self.is_valid(out)]

  # ----------------------------------------------------------- graphs
  @abc.abstractmethod
  def to_graphs(self, encodings: Encodings) -> DenseGraphs:
    """Converts ``[N, D]`` encodings to dense DAGs (vectorised)."""

  def __repr__(self) -> str:
    return f"{type(self).__name__}(name={self.name!r}, positions={self.num_positions})"


def sample_distinct(space: Space, key: jax.Array, n: int) -> Encodings:
  """``n`` distinct uniform samples ``[n, D]`` of ``space`` (without replacement).

  Draws with ``space.sample`` (the space's own uniform distribution) and keeps
  the first occurrence of each encoding, which is sampling without
  replacement. When ``n`` is over half of a small space, a random permutation
  of :meth:`Space.enumerate` is used instead (rejection would be slow there).
  """
  if n <= 0:
    return np.zeros((0, space.num_positions), np.int32)
  if space.num_combinations < 2 * n and space.is_finite_enumerable:
    every = space.enumerate()
    if every.shape[0] < n:
      raise errors.ConfigError(
          f"{space.name}: cannot draw {n} distinct architectures from {every.shape[0]}")
    return every[np.asarray(jax.random.permutation(key, every.shape[0]))[:n]]
  seen: dict[bytes, None] = {}
  rows: list[np.ndarray] = []
  for attempt in range(100):
    draw = np.asarray(space.sample(jax.random.fold_in(key, attempt), 2 * (n - len(rows)) + 16),
                      np.int32)
    for row in draw:
      k = row.tobytes()
      if k not in seen:
        seen[k] = None
        rows.append(row)
        if len(rows) == n:
          return np.stack(rows)
  raise errors.ConfigError(f"{space.name}: found only {len(rows)} distinct architectures "
                           f"in 100 rounds of sampling, {n} asked")


def one_hot(space: Space, encodings: Encodings) -> np.ndarray:
  """Concatenated one-hot features ``[N, sum(cardinalities)]`` of encodings."""
  enc = np.asarray(encodings, dtype=np.int64)
  offsets = np.concatenate([[0], np.cumsum(space.cardinalities)[:-1]])
  out = np.zeros((enc.shape[0], int(space.cardinalities.sum())), np.float32)
  out[np.arange(enc.shape[0])[:, None], enc + offsets] = 1.0
  return out


def iterate_chunks(space: Space, chunk_size: int, *, start_chunk: int = 0):
  """Yields ``(chunk_index, encodings)`` over the whole space, in fixed chunks.

  Chunks cover consecutive ranges of combination indices, so memory stays
  flat however large the space is; invalid combinations are dropped, so a chunk
  can hold fewer than ``chunk_size`` rows. ``start_chunk`` resumes a sweep.
  """
  if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
    raise errors.ConfigError(f"chunk_size must be a positive int, got {chunk_size!r}")
  if not isinstance(start_chunk, (int, np.integer)) or start_chunk < 0:
    raise errors.ConfigError(f"start_chunk must be an int >= 0, got {start_chunk!r}")
  total = space.num_combinations
  num_chunks = -(-total // chunk_size)
  for c in range(start_chunk, num_chunks):
    lo = c * chunk_size
    hi = min(total, lo + chunk_size)
    yield c, space.decode_index(np.arange(lo, hi, dtype=np.int64))
