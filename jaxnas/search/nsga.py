"""NSGA-II: multi-objective evolutionary search over any space.

Deb et al., "A Fast and Elitist Multiobjective Genetic Algorithm: NSGA-II",
IEEE TEVC 2002. Candidates are ranked by non-dominated sorting, ties within a
front broken by crowding distance; parents are picked by binary tournaments;
children come from uniform crossover over positions plus ``space.mutate``.
RWE (Hu et al. 2021) runs it over (random-weight probe accuracy up, cost down).

Objectives are arrays ``[N, M]`` with a per-objective ``maximize`` flag; the
sorting code works on the minimisation form ``F = where(maximize, -obj, obj)``.
Everything here is vectorised numpy (dominance as an ``[N, N]`` matrix), which
for populations of hundreds costs microseconds next to one evaluation; the
Pareto mask of a whole table goes block by block (:func:`pareto_mask`).

Two ways in: the ask/tell core :class:`NSGA2` (the caller evaluates), and
:func:`run_nsga2`, which drives it with objective callables, counts distinct
evaluated architectures against a budget and tracks hypervolume per
generation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax
import numpy as np

from jaxnas import errors
from jaxnas.spaces import base

__all__ = ["NSGA2", "NSGAResult", "Objective", "crowding_distance", "dominance_matrix",
           "hypervolume_2d", "igd", "non_dominated_sort", "pareto_mask", "run_nsga2",
           "uniform_crossover"]


# --------------------------------------------------------------------------- sorting
def _min_form(objectives: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
  obj = np.asarray(objectives, np.float64)
  if obj.ndim != 2:
    raise errors.ConfigError(f"objectives must be [N, M], got shape {obj.shape}")
  mx = np.asarray(maximize, bool)
  if mx.shape != (obj.shape[1],):
    raise errors.ConfigError(f"maximize has {mx.size} flags for {obj.shape[1]} objectives")
  return np.where(mx, -obj, obj)


def dominance_matrix(objectives: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
  """bool ``[N, N]``: ``D[i, j]`` when ``i`` dominates ``j`` (no worse anywhere, better somewhere)."""
  f = _min_form(objectives, maximize)
  le = np.all(f[:, None, :] <= f[None, :, :], axis=-1)
  lt = np.any(f[:, None, :] < f[None, :, :], axis=-1)
  return le & lt


def non_dominated_sort(objectives: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
  """Front index ``[N]`` of every point (0 = non-dominated).

  Peels fronts off the dominance matrix: a point's front is fixed once every
  point that dominates it is in an earlier front.
  """
  dom = dominance_matrix(objectives, maximize)
  n = dom.shape[0]
  count = dom.sum(axis=0)  # how many points dominate each point
  rank = np.full(n, -1, np.int64)
  current = np.nonzero(count == 0)[0]
  r = 0
  while current.size:
    rank[current] = r
    count = count - dom[current].sum(axis=0)
    count[rank >= 0] = -1
    current = np.nonzero(count == 0)[0]
    r += 1
  return rank


def pareto_mask(objectives: np.ndarray, maximize: Sequence[bool], *,
                block: int = 512) -> np.ndarray:
  """bool ``[N]``: points no other point dominates.

  ``O(N * (front + block))`` memory and time instead of the ``[N, N]`` dominance
  matrix (a whole table, 15,625 NB201 cells, took 15 s and 0.5 GB that way): a
  point's dominators all precede it in lexicographic order of the minimisation
  form, so blocks of ``block`` points in that order are checked against the front
  found so far and against each other (a point dominated by a dominated point is
  dominated by that point's dominator, which is on the front or in the block).
  """
  f = _min_form(objectives, maximize)
  order = np.lexsort(f.T[::-1])
  mask = np.zeros(f.shape[0], bool)
  front = f[:0]
  for lo in range(0, f.shape[0], block):
    rows = order[lo:lo + block]
    pts = f[rows]
    by_front = np.any(np.all(front[:, None] <= pts[None], -1) &
                      np.any(front[:, None] < pts[None], -1), axis=0)
    keep = ~by_front & ~np.any(dominance_matrix(pts, np.zeros(f.shape[1], bool)), axis=0)
    mask[rows[keep]] = True
    front = np.concatenate([front, pts[keep]])
  return mask


def crowding_distance(objectives: np.ndarray, maximize: Sequence[bool],
                      ranks: np.ndarray | None = None) -> np.ndarray:
  """NSGA-II crowding distance ``[N]``, computed within each front.

  Per objective, a front's points are sorted; the two extremes get ``inf`` and
  the others the gap between their neighbours, divided by the front's range
  in that objective; distances add up over objectives.
  """
  f = _min_form(objectives, maximize)
  n, m = f.shape
  ranks = np.zeros(n, np.int64) if ranks is None else np.asarray(ranks)
  dist = np.zeros(n)
  for r in np.unique(ranks):
    idx = np.nonzero(ranks == r)[0]
    if idx.size <= 2:
      dist[idx] = np.inf
      continue
    for k in range(m):
      order = idx[np.argsort(f[idx, k], kind="stable")]
      vals = f[order, k]
      span = vals[-1] - vals[0]
      dist[order[0]] = dist[order[-1]] = np.inf
      if span > 0:
        dist[order[1:-1]] += (vals[2:] - vals[:-2]) / span
  return dist


# --------------------------------------------------------------------------- indicators
def hypervolume_2d(points: np.ndarray, reference: Sequence[float],
                   maximize: Sequence[bool]) -> float:
  """Exact area dominated by 2-D ``points`` ``[N, 2]`` and bounded by ``reference``.

  Points that do not strictly dominate the reference add nothing.
  """
  f = _min_form(points, maximize)
  ref = _min_form(np.asarray(reference, np.float64)[None], maximize)[0]
  if f.shape[1] != 2:
    raise errors.ConfigError(f"hypervolume_2d needs 2 objectives, got {f.shape[1]}")
  f = f[np.all(f < ref, axis=1)]
  if not f.size:
    return 0.0
  f = f[np.lexsort((f[:, 1], f[:, 0]))]  # by f0, then f1
  hv, best1 = 0.0, ref[1]
  for x0, x1 in f:  # sweep in f0: a point below every earlier f1 adds a slab
    if x1 < best1:
      hv += (ref[0] - x0) * (best1 - x1)
      best1 = x1
  return float(hv)


def igd(found: np.ndarray, reference_front: np.ndarray, *,
        scale: Sequence[float] | None = None) -> float:
  """Inverted generational distance: mean over the reference front of the
  distance to the nearest found point (objectives divided by ``scale``)."""
  a = np.asarray(found, np.float64)
  b = np.asarray(reference_front, np.float64)
  if a.size == 0:
    return float("inf")
  s = np.ones(b.shape[1]) if scale is None else np.asarray(scale, np.float64)
  d = np.linalg.norm((b[:, None, :] - a[None, :, :]) / s, axis=-1)
  return float(d.min(axis=1).mean())


# --------------------------------------------------------------------------- ask / tell
def uniform_crossover(key: jax.Array, a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Children ``[N, D]`` taking each position from ``a`` or ``b`` with prob 1/2."""
  mask = np.asarray(jax.random.bernoulli(key, 0.5, a.shape))
  return np.where(mask, a, b).astype(np.int32)


class NSGA2:
  """Ask/tell NSGA-II with an archive of everything evaluated.

  ``ask()`` returns the initial random population, then offspring of the
  current population; ``tell(encodings, objectives)`` merges them and keeps
  the best ``population_size`` by (front, crowding distance). Offspring
  already in the archive are redrawn (a few tries), so a budget counts
  distinct architectures.

  Args:
    space: the search space (``sample``, ``mutate``, ``is_valid``).
    maximize: one flag per objective.
    population_size: parents kept per generation (and children per ask).
    key: ``jax.random`` key.
    crossover_rate: probability that a child comes from crossover.
    mutation_rate: probability that a child gets one ``space.mutate`` edit.
  """

  def __init__(self, space: base.Space, maximize: Sequence[bool], population_size: int,
               key: jax.Array, *, crossover_rate: float = 0.9, mutation_rate: float = 1.0):
    if population_size < 2:
      raise errors.ConfigError(f"population_size must be >= 2, got {population_size}")
    self.space = space
    self.maximize = tuple(bool(m) for m in maximize)
    self.population_size = int(population_size)
    self.crossover_rate = crossover_rate
    self.mutation_rate = mutation_rate
    self.key = key
    self.pop_enc = np.zeros((0, space.num_positions), np.int32)
    self.pop_obj = np.zeros((0, len(self.maximize)))
    self.archive: dict[bytes, np.ndarray] = {}

  def _next_key(self) -> jax.Array:
    self.key, sub = jax.random.split(self.key)
    return sub

  def _tournament(self, n: int) -> np.ndarray:
    ranks = non_dominated_sort(self.pop_obj, self.maximize)
    crowd = crowding_distance(self.pop_obj, self.maximize, ranks)
    pairs = np.asarray(jax.random.randint(self._next_key(), (n, 2), 0, len(self.pop_enc)))
    a, b = pairs[:, 0], pairs[:, 1]
    a_wins = (ranks[a] < ranks[b]) | ((ranks[a] == ranks[b]) & (crowd[a] >= crowd[b]))
    return np.where(a_wins, a, b)

  def ask(self, n: int | None = None) -> np.ndarray:
    """``n`` (default: population size) new candidates ``[n, D]``."""
    n = self.population_size if n is None else n
    if len(self.pop_enc) == 0:
      return self._fresh(self.space.sample(self._next_key(), n))
    out = np.zeros((0, self.space.num_positions), np.int32)
    for _ in range(20):
      need = n - len(out)
      p1 = self.pop_enc[self._tournament(need)]
      p2 = self.pop_enc[self._tournament(need)]
      cross = np.asarray(jax.random.bernoulli(self._next_key(), self.crossover_rate, (need,)))
      child = np.where(cross[:, None], uniform_crossover(self._next_key(), p1, p2), p1)
      child = np.where(self.space.is_valid(child)[:, None], child, p1)
      mut = np.asarray(jax.random.bernoulli(self._next_key(), self.mutation_rate, (need,)))
      if mut.any():
        child[mut] = self.space.mutate(self._next_key(), child[mut])
      out = np.concatenate([out, self._fresh(child)])
      out = out[np.unique(out, axis=0, return_index=True)[1]] if len(out) else out
      if len(out) >= n:
        return out[:n]
    # A nearly exhausted space: top up with fresh random samples.
    extra = self._fresh(self.space.sample(self._next_key(), 4 * n))
    return np.concatenate([out, extra])[:n]

  def _fresh(self, enc: np.ndarray) -> np.ndarray:
    """Rows not yet in the archive (first occurrence of duplicates kept)."""
    enc = np.asarray(enc, np.int32)
    keep = [i for i, e in enumerate(enc) if e.tobytes() not in self.archive]
    enc = enc[keep]
    if len(enc):
      enc = enc[np.sort(np.unique(enc, axis=0, return_index=True)[1])]
    return enc

  def tell(self, encodings: np.ndarray, objectives: np.ndarray) -> None:
    """Adds evaluated candidates and selects the next population."""
    enc = np.asarray(encodings, np.int32)
    obj = np.asarray(objectives, np.float64)
    if obj.shape != (len(enc), len(self.maximize)):
      raise errors.ConfigError(
          f"tell: objectives of shape {obj.shape}, expected {(len(enc), len(self.maximize))}")
    for e, o in zip(enc, obj):
      self.archive[e.tobytes()] = o
    all_enc = np.concatenate([self.pop_enc, enc])
    all_obj = np.concatenate([self.pop_obj, obj])
    _, first = np.unique(all_enc, axis=0, return_index=True)
    all_enc, all_obj = all_enc[np.sort(first)], all_obj[np.sort(first)]
    ranks = non_dominated_sort(all_obj, self.maximize)
    crowd = crowding_distance(all_obj, self.maximize, ranks)
    order = np.lexsort((-crowd, ranks))[:self.population_size]
    self.pop_enc, self.pop_obj = all_enc[order], all_obj[order]

  def archive_arrays(self) -> tuple[np.ndarray, np.ndarray]:
    """All evaluated ``(encodings [A, D], objectives [A, M])`` in insertion order."""
    if not self.archive:
      return np.zeros((0, self.space.num_positions), np.int32), np.zeros((0, len(self.maximize)))
    enc = np.stack([np.frombuffer(k, np.int32) for k in self.archive])
    return enc, np.stack(list(self.archive.values()))

  def pareto_front(self) -> tuple[np.ndarray, np.ndarray]:
    """Non-dominated archive members ``(encodings, objectives)``."""
    enc, obj = self.archive_arrays()
    if not len(enc):
      return enc, obj
    mask = pareto_mask(obj, self.maximize)
    return enc[mask], obj[mask]


# --------------------------------------------------------------------------- driver
@dataclasses.dataclass(frozen=True)
class Objective:
  """One objective: ``fn(encodings [N, D]) -> values [N]``.

  ``counts_as_evaluation`` marks the expensive one (e.g. the RWE probe) whose
  calls the budget counts; cheap costs (params, FLOPs, latency tables) do not.
  """

  name: str
  fn: Callable[[np.ndarray], np.ndarray]
  maximize: bool
  counts_as_evaluation: bool = True


@dataclasses.dataclass
class NSGAResult:
  """What :func:`run_nsga2` returns.

  Attributes:
    front_encodings / front_objectives: the non-dominated archive members.
    archive_encodings / archive_objectives: everything evaluated.
    hypervolume: per generation (2 objectives) ``[G]``; NaN otherwise.
    evaluations: distinct architectures evaluated after each generation ``[G]``.
    reference_point: the hypervolume's reference point as used (entries left
      ``None`` resolved from generation 0), or ``None``.
  """

  front_encodings: np.ndarray
  front_objectives: np.ndarray
  archive_encodings: np.ndarray
  archive_objectives: np.ndarray
  hypervolume: np.ndarray
  evaluations: np.ndarray
  reference_point: tuple[float, ...] | None = None


def run_nsga2(space: base.Space, objectives: Sequence[Objective], *, population_size: int,
              generations: int, key: jax.Array, max_evaluations: int | None = None,
              reference_point: Sequence[float | None] | None = None,
              on_generation: Callable[[int, NSGA2], None] | None = None,
              **nsga_kwargs) -> NSGAResult:
  """Runs NSGA-II for ``generations`` (or until ``max_evaluations`` distinct archs).

  Generation 0 is the random initial population. The last generation is cut
  to what is left of the budget.

  ``reference_point`` (2 objectives) fixes the per-generation hypervolume's
  reference; an entry left ``None`` (every entry, if the point is ``None``)
  is resolved from generation 0: its worst value pushed out by 10% of its
  range. That matters for objectives with no
  natural bound (e.g. a probe's -MSE, always below 0, under which a
  reference of 0 would give every front a hypervolume of 0).
  """
  if not objectives:
    raise errors.ConfigError("run_nsga2 needs at least one objective")
  maximize = [o.maximize for o in objectives]
  algo = NSGA2(space, maximize, population_size, key, **nsga_kwargs)
  budget = np.inf if max_evaluations is None else int(max_evaluations)
  hv, evals = [], []
  for g in range(generations):
    left = budget - len(algo.archive)
    if left <= 0:
      break
    cand = algo.ask(int(min(population_size, left)))
    if not len(cand):
      break
    obj = np.stack([np.asarray(o.fn(cand), np.float64) for o in objectives], axis=1)
    algo.tell(cand, obj)
    if g == 0 and len(objectives) == 2:
      reference_point = _resolve_reference(reference_point, obj, maximize)
    _, fobj = algo.pareto_front()
    hv.append(hypervolume_2d(fobj, reference_point, maximize) if len(objectives) == 2 else np.nan)
    evals.append(len(algo.archive))
    if on_generation is not None:
      on_generation(g, algo)
  fenc, fobj = algo.pareto_front()
  aenc, aobj = algo.archive_arrays()
  return NSGAResult(fenc, fobj, aenc, aobj, np.asarray(hv), np.asarray(evals),
                    None if reference_point is None else tuple(reference_point))


def _resolve_reference(reference: Sequence[float | None] | None, first: np.ndarray,
                       maximize: Sequence[bool]) -> tuple[float, ...]:
  """Fills ``None`` entries of a reference point from the first generation ``[P, 2]``."""
  reference = [None] * first.shape[1] if reference is None else list(reference)
  out = []
  for j, r in enumerate(reference):
    if r is None:
      col = first[:, j]
      span = float(np.ptp(col)) or max(abs(float(col[0])), 1.0)
      r = float(col.min()) - 0.1 * span if maximize[j] else float(col.max()) + 0.1 * span
    out.append(float(r))
  return tuple(out)
