"""The ask/tell protocol every search strategy follows, and the evaluator protocol.

A :class:`Searcher` proposes architectures and learns from their scores::

    searcher = RegularizedEvolution(space, seed=0)
    while budget_left:
      cands = searcher.ask(10)          # int32 [<=10, D], not told before
      scores = evaluator.evaluate(cands)  # float [<=10], higher is better
      searcher.tell(cands, scores)

and an :class:`Evaluator` turns architectures into scores: a benchmark lookup
(ground truth; every new architecture is a counted query), a trained ranker, a
random-weight probe, a supernet. :func:`jaxnas.search.runner.run_search` drives
the loop under a budget and checkpoints it.

Contract of a searcher:

* ``ask(n)`` returns at most ``n`` *distinct* encodings ``[m, D]`` that were
  never told before (``m < n`` only when the space is exhausted or the
  strategy needs the scores of its previous asks first — the runner always
  tells a batch before asking again);
* ``tell(encodings, scores)`` records scores (higher is better) of any
  architectures, asked or not;
* ``state_dict()`` is JSON-able and ``load_state_dict`` restores it into a
  searcher built with the same arguments, after which the search continues
  exactly as if it had never stopped;
* everything random comes from ``jax.random`` keys derived from the seed and
  the number of asks so far (:meth:`Searcher.key`), so the same seed gives the
  same search.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping

import jax
import numpy as np

from jaxnas import errors
from jaxnas.spaces import base as space_base

__all__ = ["Evaluator", "Searcher", "arch_key"]


def arch_key(encoding: np.ndarray) -> bytes:
  """A hashable identity of one encoding ``[D]`` (its int32 bytes)."""
  return np.asarray(encoding, np.int32).tobytes()


class Searcher(abc.ABC):
  """Base class of ask/tell search strategies.

  Subclasses implement :meth:`_ask` and may override :meth:`_after_tell`,
  :meth:`_extra_state` / :meth:`_load_extra_state` for state beyond the
  told history, and ``batch_size`` (how many candidates they like to be asked
  for at once: a ranker strategy's round, 1 for evolution).

  Args:
    space: the search space.
    seed: the seed of every random choice the strategy makes.
  """

  name: str = "searcher"
  batch_size: int = 1

  def __init__(self, space: space_base.Space, *, seed: int):
    if not isinstance(seed, (int, np.integer)) or seed < 0:
      raise errors.ConfigError(f"seed must be an int >= 0, got {seed!r}")
    self.space = space
    self.seed = int(seed)
    self.num_asks = 0
    self._encodings: list[np.ndarray] = []  # told, in order; each int32 [D]
    self._scores: list[float] = []
    self._told: dict[bytes, float] = {}  # arch -> best score told for it

  # ----------------------------------------------------------- randomness
  def key(self, tag: int = 0) -> jax.Array:
    """A PRNG key fixed by (seed, number of asks so far, tag)."""
    k = jax.random.fold_in(jax.random.key(self.seed), self.num_asks)
    return jax.random.fold_in(k, tag)

  # ----------------------------------------------------------- history
  @property
  def history(self) -> tuple[np.ndarray, np.ndarray]:
    """Told encodings ``[T, D]`` and scores ``[T]`` in the order told."""
    if not self._encodings:
      return np.zeros((0, self.space.num_positions), np.int32), np.zeros(0)
    return np.stack(self._encodings), np.asarray(self._scores, np.float64)

  @property
  def num_told(self) -> int:
    return len(self._encodings)

  def is_told(self, encoding: np.ndarray) -> bool:
    return arch_key(encoding) in self._told

  def told_mask(self, encodings: np.ndarray) -> np.ndarray:
    """bool ``[N]``: which of ``encodings`` ``[N, D]`` were told."""
    return np.asarray([arch_key(e) in self._told for e in np.asarray(encodings)], bool)

  def best(self) -> tuple[np.ndarray, float] | None:
    """The best told ``(encoding [D], score)`` (first told among ties), or None."""
    if not self._scores:
      return None
    i = int(np.argmax(self._scores))
    return self._encodings[i], self._scores[i]

  # ----------------------------------------------------------- ask / tell
  def ask(self, n: int) -> np.ndarray:
    """Up to ``n`` distinct new candidates, int32 ``[m, D]`` (``m <= n``)."""
    if not isinstance(n, (int, np.integer)) or n < 1:
      raise errors.ConfigError(f"ask(n) needs an int n >= 1, got {n!r}")
    out = np.asarray(self._ask(int(n)), np.int32).reshape(-1, self.space.num_positions)
    self.num_asks += 1
    if out.shape[0] > n:
      raise errors.ConfigError(f"{self.name} returned {out.shape[0]} candidates for ask({n})")
    keys = [arch_key(e) for e in out]
    if len(set(keys)) != len(keys) or any(k in self._told for k in keys):
      raise errors.ConfigError(f"{self.name} proposed a duplicate or already told architecture")
    return out

  def tell(self, encodings: np.ndarray, scores: np.ndarray) -> None:
    """Records scores ``[N]`` (higher is better) of encodings ``[N, D]``."""
    enc = np.asarray(encodings)
    sc = np.asarray(scores, np.float64).reshape(-1)
    if enc.ndim != 2 or enc.shape[1] != self.space.num_positions:
      raise errors.WrongLengthError(
          f"{self.name}: tell() needs encodings [N, {self.space.num_positions}], got shape {enc.shape}")
    if sc.shape[0] != enc.shape[0]:
      raise errors.ConfigError(
          f"{self.name}: tell() got {enc.shape[0]} encodings but {sc.shape[0]} scores")
    if not np.all(np.isfinite(sc)):
      i = int(np.nonzero(~np.isfinite(sc))[0][0])
      raise errors.ConfigError(f"{self.name}: score {sc[i]!r} of row {i} is not finite")
    enc = np.stack([self.space.validate(e) for e in enc]) if enc.shape[0] else enc.astype(np.int32)
    for e, s in zip(enc, sc):
      k = arch_key(e)
      self._told[k] = max(float(s), self._told.get(k, -np.inf))
      self._encodings.append(e.astype(np.int32))
      self._scores.append(float(s))
    self._after_tell(enc, sc)

  @abc.abstractmethod
  def _ask(self, n: int) -> np.ndarray:
    """Returns up to ``n`` distinct, never-told candidates ``[m, D]``."""

  def _after_tell(self, encodings: np.ndarray, scores: np.ndarray) -> None:
    """Hook: react to new scores (default: nothing; the history is kept)."""

  # ----------------------------------------------------------- helpers
  def sample_new(self, key: jax.Array, n: int, *, exclude: set | None = None) -> np.ndarray:
    """``n`` distinct uniform samples ``[m, D]`` that were never told (m < n if exhausted)."""
    exclude = set(exclude or ())
    out: list[np.ndarray] = []
    seen = set(exclude)
    for attempt in range(50):
      draw = self.space.sample(jax.random.fold_in(key, attempt), max(4 * (n - len(out)), 16))
      for e in draw:
        k = arch_key(e)
        if k not in self._told and k not in seen:
          seen.add(k)
          out.append(e)
          if len(out) == n:
            return np.stack(out).astype(np.int32)
    return (np.stack(out).astype(np.int32) if out
            else np.zeros((0, self.space.num_positions), np.int32))

  # ----------------------------------------------------------- state
  def state_dict(self) -> dict:
    """JSON-able state: settings check, counters, told history, strategy extras."""
    enc, sc = self.history
    return {"name": self.name, "seed": self.seed, "num_asks": self.num_asks,
            "encodings": enc.tolist(), "scores": sc.tolist(), "extra": self._extra_state()}

  def load_state_dict(self, state: Mapping) -> None:
    """Restores :meth:`state_dict` output into a searcher built with the same arguments."""
    if state.get("name") != self.name or int(state.get("seed", -1)) != self.seed:
      raise errors.CheckpointError(
          f"search state is for {state.get('name')!r} seed {state.get('seed')!r}, this searcher "
          f"is {self.name!r} seed {self.seed}")
    enc = np.asarray(state["encodings"], np.int32).reshape(-1, self.space.num_positions)
    sc = np.asarray(state["scores"], np.float64)
    if sc.shape[0] != enc.shape[0]:
      raise errors.CheckpointError(
          f"search state has {enc.shape[0]} encodings but {sc.shape[0]} scores")
    self._encodings, self._scores, self._told = [], [], {}
    for e, s in zip(enc, sc):
      k = arch_key(e)
      self._told[k] = max(float(s), self._told.get(k, -np.inf))
      self._encodings.append(e)
      self._scores.append(float(s))
    self.num_asks = int(state["num_asks"])
    self._load_extra_state(state.get("extra") or {})

  def _extra_state(self) -> dict:
    return {}

  def _load_extra_state(self, extra: Mapping) -> None:
    del extra

  def report(self) -> dict:
    """Strategy-specific facts for the results file (wall time, pruning...)."""
    return {}


class Evaluator(abc.ABC):
  """Turns architectures into scores (higher is better).

  ``num_evaluations`` counts *distinct* architectures evaluated, which is what
  a search budget counts; ``is_ground_truth`` says whether those are measured
  results (benchmark lookups: queries) or estimates (free for the budget of
  ground-truth queries, but their wall time is reported in ``wall_time``).
  """

  is_ground_truth: bool = False

  def __init__(self):
    self.wall_time = 0.0

  @abc.abstractmethod
  def evaluate(self, encodings: np.ndarray) -> np.ndarray:
    """Scores ``[N]`` of encodings ``[N, D]``."""

  @property
  @abc.abstractmethod
  def num_evaluations(self) -> int:
    """Distinct architectures evaluated so far."""

  def state_dict(self) -> dict:
    return {}

  def load_state_dict(self, state: Mapping) -> None:
    del state
