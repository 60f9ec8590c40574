"""Runs a searcher against an evaluator for a budget, records and checkpoints it.

:func:`run_search` is the loop of :mod:`jaxnas.search.base`: ask a batch, score
it, tell the scores, until ``budget`` distinct architectures have been
evaluated. After every batch it records each *newly* evaluated architecture
(query number, architecture, score, best so far, seconds) and, when given a
``checkpoint_path``, atomically rewrites one JSON file holding the searcher's
state, the evaluator's state and the trajectory. Called again with the same
path, it resumes from there and produces exactly the trajectory an
uninterrupted run would have. The state records a fingerprint of the search's
settings; a state saved under another fingerprint (another budget, round
size, target...) is refused rather than continued.

Wall time is split into the searcher's own work (training rankers, scoring
pools, sampling: free for the budget but reported) and the evaluator's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable

import numpy as np

from jaxnas import config_checks
from jaxnas import errors
from jaxnas import io_utils
from jaxnas.search import base

__all__ = ["STATE_VERSION", "SearchResult", "run_search"]

STATE_VERSION = 1


@dataclasses.dataclass
class SearchResult:
  """What a search produced.

  Attributes:
    trajectory: one record per newly evaluated architecture, in query order:
      ``{"query": 1-based count, "arch": encoding list, "score", "best",
      "searcher_s", "evaluator_s"}`` (seconds are cumulative).
    best_encoding: int32 ``[D]`` best architecture found.
    best_score: its score.
    searcher_seconds: wall time of ask/tell (training, scoring, sampling).
    evaluator_seconds: wall time of the evaluator.
    resumed_at: queries already done when this call started (0 if fresh).
    report: the searcher's :meth:`~base.Searcher.report`.
  """

  trajectory: list[dict]
  best_encoding: np.ndarray
  best_score: float
  searcher_seconds: float
  evaluator_seconds: float
  resumed_at: int = 0
  report: dict = dataclasses.field(default_factory=dict)

  @property
  def scores(self) -> np.ndarray:
    """Scores ``[Q]`` in query order."""
    return np.asarray([r["score"] for r in self.trajectory], np.float64)

  def best_so_far(self) -> np.ndarray:
    """Best score after each query ``[Q]``."""
    return np.maximum.accumulate(self.scores) if self.trajectory else np.zeros(0)


def run_search(searcher: base.Searcher, evaluator: base.Evaluator, budget: int, *,
               batch_size: int | None = None, checkpoint_path: str | None = None,
               stop: Callable[[list[dict]], bool] | None = None,
               log: Callable[[str], None] | None = None,
               max_batches: int | None = None,
               fingerprint: str | None = None) -> SearchResult:
  """Searches until ``budget`` distinct architectures have been evaluated.

  Args:
    searcher: the strategy (fresh, or restored from ``checkpoint_path``).
    evaluator: scores candidates; its ``num_evaluations`` counts the budget.
    budget: distinct evaluations allowed (ground-truth queries for a benchmark).
    batch_size: candidates per ask (default: the searcher's ``batch_size``).
    checkpoint_path: JSON file to resume from and save to after every batch.
    stop: optional early stop, called with the trajectory after each batch.
    log: progress callback (one line per batch).
    max_batches: stop after this many batches in this call (for tests that
      simulate an interruption); the checkpoint is written as usual.
    fingerprint: the settings' :func:`jaxnas.io_utils.fingerprint`, stored in
      the checkpoint; resuming a checkpoint with another one is an error.

  Returns:
    :class:`SearchResult` over the whole search (resumed part included).
  """
  budget = config_checks.check_int("budget", budget)
  bs = config_checks.check_int("batch_size", batch_size or searcher.batch_size)
  trajectory: list[dict] = []
  searcher_s = evaluator_s = 0.0
  resumed_at = 0
  if checkpoint_path and os.path.exists(checkpoint_path):
    state = _read_state(checkpoint_path)
    if fingerprint is not None and state.get("fingerprint") != fingerprint:
      raise errors.CheckpointError(
          f"{checkpoint_path} holds a search with other settings (fingerprint "
          f"{state.get('fingerprint')} != {fingerprint}); use a fresh workdir")
    try:
      searcher.load_state_dict(state["searcher"])
      evaluator.load_state_dict(state["evaluator"])
      trajectory = state["trajectory"]
      searcher_s, evaluator_s = float(state["searcher_s"]), float(state["evaluator_s"])
      best = max((float(r["score"]) for r in trajectory), default=-np.inf)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
      raise errors.CheckpointError(
          f"{checkpoint_path}: malformed search state ({type(e).__name__}: {e})") from None
    if evaluator.num_evaluations != len(trajectory):
      raise errors.CheckpointError(
          f"{checkpoint_path}: evaluator state counts {evaluator.num_evaluations} evaluations, "
          f"the trajectory {len(trajectory)}")
    resumed_at = len(trajectory)
  else:
    best = -np.inf
  batches = 0
  while evaluator.num_evaluations < budget:
    if stop is not None and stop(trajectory):
      break
    if max_batches is not None and batches >= max_batches:
      break
    n = min(bs, budget - evaluator.num_evaluations)
    t0 = time.perf_counter()
    cands = searcher.ask(n)
    t1 = time.perf_counter()
    if cands.shape[0] == 0:
      if log:
        log(f"{searcher.name}: no new candidates (space exhausted); stopping")
      break
    scores = evaluator.evaluate(cands)
    t2 = time.perf_counter()
    searcher.tell(cands, scores)
    t3 = time.perf_counter()
    searcher_s += (t1 - t0) + (t3 - t2)
    evaluator_s += t2 - t1
    seen = {tuple(r["arch"]) for r in trajectory}
    for e, s in zip(cands, scores):
      key = tuple(int(v) for v in e)
      if key in seen:  # evaluated before: free, already recorded
        continue
      seen.add(key)
      best = max(best, float(s))
      trajectory.append({"query": len(trajectory) + 1, "arch": list(key), "score": float(s),
                         "best": best, "searcher_s": round(searcher_s, 4),
                         "evaluator_s": round(evaluator_s, 4)})
    batches += 1
    if checkpoint_path:
      _write_state(checkpoint_path, searcher, evaluator, trajectory, searcher_s, evaluator_s,
                   fingerprint)
    if log:
      log(f"{searcher.name} seed {searcher.seed}: {evaluator.num_evaluations}/{budget} evaluated, "
          f"best {best:.4f}, searcher {searcher_s:.1f}s")
  if not trajectory:
    raise errors.ConfigError(f"{searcher.name}: the search evaluated nothing")
  i = int(np.argmax([r["score"] for r in trajectory]))
  return SearchResult(trajectory=trajectory,
                      best_encoding=np.asarray(trajectory[i]["arch"], np.int32),
                      best_score=float(trajectory[i]["score"]), searcher_seconds=searcher_s,
                      evaluator_seconds=evaluator_s, resumed_at=resumed_at,
                      report=searcher.report())


def _write_state(path: str, searcher: base.Searcher, evaluator: base.Evaluator,
                 trajectory: list[dict], searcher_s: float, evaluator_s: float,
                 fingerprint: str | None) -> None:
  io_utils.atomic_write_json(path, {
      "version": STATE_VERSION, "fingerprint": fingerprint, "searcher": searcher.state_dict(),
      "evaluator": evaluator.state_dict(), "trajectory": trajectory,
      "searcher_s": searcher_s, "evaluator_s": evaluator_s})


def _read_state(path: str) -> dict:
  try:
    with open(path, encoding="utf-8") as f:
      state = json.load(f)
  except (OSError, ValueError) as e:
    raise errors.CheckpointError(f"cannot read search state {path!r}: {e}") from None
  if not isinstance(state, dict) or not isinstance(state.get("trajectory"), list):
    raise errors.CheckpointError(f"{path!r} is not a search state (no trajectory list)")
  if state.get("version") != STATE_VERSION:
    raise errors.CheckpointError(
        f"{path!r} has search-state version {state.get('version')!r}, expected {STATE_VERSION}")
  logging.info("resuming search from %s (%d evaluations)", path, len(state["trajectory"]))
  return state
