"""Decision-level exploration: re-test single choices in the best context found so far.

A *decision* is one (position, op) choice. A ranker trained on a few random
architectures learns what helps an *average* architecture; on NB201 that is
misleading exactly where it matters: ``skip_connect`` on edge 3<-0 has the
lowest mean accuracy of the ops there, yet every top-10 cell uses it. Such a
decision is only seen to be good in a good context, so rankers that never get
data of good cells with it never propose it.

:func:`propose_neighbours` fixes that with one-edit neighbours of the best
told architectures: each one changes exactly one decision of an incumbent. A
neighbour's acquisition value is the ranker's value plus a *novelty bonus*
``bonus / sqrt(1 + n)``, where ``n`` counts how often the changed decision was
already tested in a good context (:func:`tested_decisions`) — a UCB over
decisions: untested decisions are tried first, in the best context known, and
the ranker orders the rest. A round spreads its picks over positions (at most
one per position until every position had its turn), so one round re-tests
decisions at several places of the cell instead of several ops at one.
"""

from __future__ import annotations

import numpy as np

from jaxnas.search import surrogate as surrogate_lib
from jaxnas.spaces import base as space_base

__all__ = ["decision_counts", "propose_neighbours", "tested_decisions", "top_tier"]


def decision_counts(space: space_base.Space, encodings: np.ndarray) -> np.ndarray:
  """How often each (position, op) occurs in ``encodings`` ``[N, D]``: ``[D, C]``."""
  enc = np.asarray(encodings, np.int64).reshape(-1, space.num_positions)
  c = int(space.cardinalities.max())
  out = np.zeros((space.num_positions, c))
  for pos in range(space.num_positions):
    out[pos] = np.bincount(enc[:, pos], minlength=c)[:c]
  return out


def tested_decisions(space: space_base.Space, top: np.ndarray, told: np.ndarray) -> np.ndarray:
  """How often each decision was tested in a good context: ``[D, C]``.

  Counts every decision of the top-tier archs ``top`` ``[k, D]``, plus the
  changed decision of every told arch (``told`` ``[T, D]``) that is a
  one-edit neighbour of a top-tier arch — a decision tried next to a good
  cell counts as tested, whether it helped or not.
  """
  counts = decision_counts(space, top)
  top = np.asarray(top)
  told = np.asarray(told)
  if top.size and told.size:
    diff = told[:, None, :] != top[None, :, :]  # [T, k, D]
    t_idx, _ = np.nonzero(diff.sum(axis=-1) == 1)
    pos = np.argmax(diff[np.nonzero(diff.sum(axis=-1) == 1)], axis=-1)
    np.add.at(counts, (pos, told[t_idx, pos]), 1.0)
  return counts


def top_tier(rows: np.ndarray, labels: np.ndarray, fraction: float = 0.2,
             minimum: int = 3) -> np.ndarray:
  """The best ``max(minimum, fraction * n)`` of labelled ``rows`` (best first)."""
  k = max(minimum, int(np.ceil(fraction * rows.size)))
  order = np.lexsort((rows, -labels))
  return rows[order[:k]]


def propose_neighbours(space: space_base.Space, index: surrogate_lib.PoolIndex,
                       pool: np.ndarray, rows: np.ndarray, labels: np.ndarray,
                       value: np.ndarray, taken: np.ndarray, n: int, *, bonus: float,
                       num_incumbents: int = 3, tier_fraction: float = 0.2) -> np.ndarray:
  """Up to ``n`` pool rows: one-edit neighbours of the best told archs.

  Args:
    space: the search space.
    index: pool row lookup.
    pool: int ``[P, D]`` pool encodings.
    rows: int ``[T]`` told pool rows; ``labels`` float ``[T]`` their scores.
    value: float ``[P]`` the ranker's acquisition value of every pool row.
    taken: bool ``[P]`` rows that may not be proposed (told or already planned).
    n: how many to propose.
    bonus: weight of the novelty of the changed decision.
    num_incumbents: neighbours of this many best told archs compete; the
      best incumbent's neighbours win ties.
    tier_fraction: share of the told archs whose decisions count as tested.

  Returns:
    int ``[<= n]`` pool rows, best first.
  """
  if n <= 0 or not rows.size:
    return np.zeros(0, np.int64)
  counts = tested_decisions(space, pool[top_tier(rows, labels, tier_fraction)], pool[rows])
  incumbents = top_tier(rows, labels, 0.0, minimum=num_incumbents)
  cand, acq, rank, where = [], [], [], []
  for i, inc in enumerate(incumbents):
    nbrs = space.neighbours(pool[inc])
    nrows = index.rows(nbrs)
    ok = (nrows >= 0)
    ok[ok] &= ~taken[nrows[ok]]
    if not ok.any():
      continue
    nbrs, nrows = nbrs[ok], nrows[ok]
    pos = np.argmax(nbrs != pool[inc][None, :], axis=1)
    op = nbrs[np.arange(nbrs.shape[0]), pos]
    novelty = 1.0 / np.sqrt(1.0 + counts[pos, op])
    cand.append(nrows)
    acq.append(value[nrows] + bonus * novelty)
    rank.append(np.full(nrows.size, i))
    where.append(pos)
  if not cand:
    return np.zeros(0, np.int64)
  cand, acq = np.concatenate(cand), np.concatenate(acq)
  rank, where = np.concatenate(rank), np.concatenate(where)
  order = np.lexsort((cand, rank, -acq))  # best value, then best incumbent, then row
  out: list[int] = []
  used_positions: set[int] = set()
  for spread in (True, False):  # first one pick per position, then the rest by value
    for j in order:
      r = int(cand[j])
      if len(out) == n:
        break
      if r in out or (spread and int(where[j]) in used_positions):
        continue
      out.append(r)
      used_positions.add(int(where[j]))
  return np.asarray(out, np.int64)
