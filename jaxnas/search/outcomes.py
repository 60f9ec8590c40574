"""How well a search did: queries to the optimum, regret, rank — per seed and aggregated.

Pure functions over trajectories (scores in query order) and the benchmark's
column of true scores. The aggregate keys are the ones the search issue and
README report: ``median_queries_to_optimum`` (None when fewer than half the
seeds reach the optimum), ``max_queries_to_optimum`` (None when any seed
misses it), ``mean_regret_at_50``, ``mean_best_accuracy``.

"Reaching the optimum" means finding an architecture whose score equals the
best score of the table (NB201 CIFAR-10 has two cells tied at the top; either
counts).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jaxnas import errors

__all__ = ["OPTIMUM_TOLERANCE", "aggregate", "best_so_far", "median_queries", "queries_to_optimum",
           "rank_in_table", "regret_at", "seed_outcome"]

# Scores within this of the optimum count as the optimum (benchmark columns
# are stored with ~1e-6 precision; ties are exact in the table).
OPTIMUM_TOLERANCE = 1e-9


def queries_to_optimum(scores: Sequence[float], optimum: float) -> int | None:
  """1-based query at which ``optimum`` was first reached, or None."""
  s = np.asarray(scores, np.float64)
  hit = np.nonzero(s >= optimum - OPTIMUM_TOLERANCE)[0]
  return int(hit[0]) + 1 if hit.size else None


def regret_at(scores: Sequence[float], optimum: float, queries: int) -> float:
  """``optimum - best`` of the first ``queries`` scores (all of them if fewer)."""
  s = np.asarray(scores, np.float64)[:queries]
  if not s.size:
    raise errors.ConfigError("regret of an empty trajectory")
  return float(optimum - s.max())


def rank_in_table(score: float, table: np.ndarray) -> int:
  """1 + number of table entries strictly better than ``score``."""
  return int(np.sum(np.asarray(table) > score + OPTIMUM_TOLERANCE)) + 1


def best_so_far(scores: Sequence[float], length: int | None = None) -> np.ndarray:
  """Running maximum ``[length]``, the last value carried forward past the end."""
  s = np.maximum.accumulate(np.asarray(scores, np.float64))
  if length is not None and length > s.size:
    s = np.concatenate([s, np.full(length - s.size, s[-1] if s.size else np.nan)])
  return s[:length] if length is not None else s


def seed_outcome(scores: Sequence[float], table: np.ndarray | None, *,
                 regret_queries: int = 50) -> dict:
  """Per-seed facts: best score, its rank, queries to the optimum, regret@k.

  Args:
    scores: scores in query order.
    table: every architecture's true score (None: no ground truth known).
    regret_queries: ``k`` of ``regret_at_k``.
  """
  s = np.asarray(scores, np.float64)
  out = {"best_accuracy": float(s.max()), "num_queries": int(s.size)}
  if table is not None:
    opt = float(np.max(table))
    out.update({"rank_in_space": rank_in_table(float(s.max()), table),
                "queries_to_optimum": queries_to_optimum(s, opt),
                f"regret_at_{regret_queries}": regret_at(s, opt, regret_queries),
                "final_regret": float(opt - s.max())})
  return out


def median_queries(per_seed: Sequence[int | None]) -> float | None:
  """Median queries to the optimum, misses counted as infinite.

  None when fewer than half the seeds reach the optimum. With exactly half,
  the median falls between a hit and a miss; the larger hit is reported.
  """
  vals = [np.inf if v is None else float(v) for v in per_seed]
  if not vals:
    return None
  hits = sum(np.isfinite(vals))
  if hits < len(vals) / 2:
    return None
  med = float(np.median(vals))
  if not np.isfinite(med):
    med = float(max(v for v in vals if np.isfinite(v)))
  return med


def aggregate(outcomes: Sequence[dict], *, regret_queries: int = 50) -> dict:
  """Aggregate keys over seeds (see the module docstring)."""
  if not outcomes:
    raise errors.ConfigError("no seeds to aggregate")
  out = {"num_seeds": len(outcomes),
         "mean_best_accuracy": float(np.mean([o["best_accuracy"] for o in outcomes]))}
  if "queries_to_optimum" in outcomes[0]:
    q = [o["queries_to_optimum"] for o in outcomes]
    out.update({
        "median_queries_to_optimum": median_queries(q),
        "max_queries_to_optimum": None if any(v is None for v in q) else int(max(q)),
        "seeds_reaching_optimum": int(sum(v is not None for v in q)),
        f"mean_regret_at_{regret_queries}": float(np.mean(
            [o[f"regret_at_{regret_queries}"] for o in outcomes])),
        "mean_final_regret": float(np.mean([o["final_regret"] for o in outcomes])),
    })
  return out
