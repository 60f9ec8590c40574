"""Streaming sweeps: score spaces far larger than memory, keep a running top-k.

Candidates are produced in fixed-size chunks (exhaustively, by ranges of
combination indices, or by seeded sampling for spaces too large to enumerate),
encoded with vectorised numpy, scored by an ensemble of rankers in one jitted
call per chunk, and merged into a top-k kept on device. Memory is bounded by one
chunk whatever the size of the space. Every ``save_every`` chunks the top-k and
the next chunk index are written atomically, so a killed sweep resumes from the
last finished chunk; the state records a fingerprint of everything the
scores depend on (ranker, space, candidates, chunking, k), and a state with
another fingerprint is refused instead of being continued.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import time
from collections.abc import Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import config_checks
from jaxnas import errors
from jaxnas import graphs as graphs_lib
from jaxnas import io_utils
from jaxnas import train
from jaxnas import types
from jaxnas.spaces import base

__all__ = [
    "TopK", "exhaustive_chunks", "load_top_k", "sampled_chunks", "save_top_k", "stream_top_k",
]


@dataclasses.dataclass
class TopK:
  """The best ``k`` candidates seen so far (host copies).

  Attributes:
    encodings: int32 ``[k, D]``.
    scores: float32 ``[k]`` ensemble-mean scores, descending (-inf: empty slot).
    std: float32 ``[k]`` ensemble spread.
    num_scored: candidates scored so far.
    next_chunk: index of the next chunk to score.
  """

  encodings: np.ndarray
  scores: np.ndarray
  std: np.ndarray
  num_scored: int
  next_chunk: int


def exhaustive_chunks(space: base.Space, chunk_size: int, *, start_chunk: int = 0,
                      limit: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
  """``(chunk index, encodings)`` over combination-index ranges (invalid dropped)."""
  total = space.num_combinations if limit is None else min(limit, space.num_combinations)
  num_chunks = -(-total // chunk_size)
  for c in range(start_chunk, num_chunks):
    lo = c * chunk_size
    yield c, space.decode_index(np.arange(lo, min(total, lo + chunk_size), dtype=np.int64))


def sampled_chunks(space: base.Space, chunk_size: int, total: int, *, seed: int = 0,
                   start_chunk: int = 0) -> Iterator[tuple[int, np.ndarray]]:
  """``(chunk index, encodings)`` of seeded uniform samples (chunk c: key fold_in(seed, c))."""
  num_chunks = -(-total // chunk_size)
  base_key = jax.random.key(seed)
  for c in range(start_chunk, num_chunks):
    n = min(chunk_size, total - c * chunk_size)
    yield c, space.sample(jax.random.fold_in(base_key, c), n)


@functools.partial(jax.jit, static_argnames=("graphdef", "template", "k", "sub_chunk"),
                   donate_argnums=(0,))
def _merge_step(carry, graphdef, params, norm, template, arrays, enc, valid, linear, weight, k,
                sub_chunk):
  """Scores one chunk with every member and merges it into the running top-k."""
  top_scores, top_std, top_enc = carry
  scores = train.member_scores(graphdef, params, template, arrays, sub_chunk)
  # Members score on different scales: standardise each with its statistics
  # over the training pool before taking the ensemble mean and spread.
  scores = (scores - norm[0][:, None]) / norm[1][:, None]
  mean = (1 - weight) * scores.mean(axis=0) + weight * linear
  mean = jnp.where(valid, mean, -jnp.inf)
  std = (1 - weight) * scores.std(axis=0)
  all_scores = jnp.concatenate([top_scores, mean])
  all_std = jnp.concatenate([top_std, std])
  all_enc = jnp.concatenate([top_enc, enc])
  best, idx = jax.lax.top_k(all_scores, k)
  return best, all_std[idx], all_enc[idx]


def stream_top_k(space: base.Space, graphdef: types.RankerGraphDef, params: types.RankerParams,
                 chunks: Iterator[tuple[int, np.ndarray]], *,
                 chunk_size: int, top_k: int, score_norm: tuple[np.ndarray, np.ndarray] | None = None,
                 globals_fn: Callable[[np.ndarray], np.ndarray | None] | None = None,
                 resume: TopK | None = None, state_path: str | None = None,
                 save_every: int = 10, total: int | None = None, sub_chunk: int = 1024,
                 progress: Callable[[dict], None] | None = None,
                 fingerprint: str | None = None,
                 linear_fn: Callable[[np.ndarray], np.ndarray] | None = None,
                 blend_weight: float = 0.0) -> TopK:
  """Scores a stream of candidate chunks and keeps the top-k.

  Args:
    space: the candidates' space.
    graphdef: ranker graph definition (built with the space's template).
    params: member parameters stacked on axis 0 (an ensemble of M >= 1).
    chunks: iterator of ``(chunk_index, encodings [n <= chunk_size, D])``.
    chunk_size: static chunk size (short chunks are padded and masked).
    top_k: candidates to keep.
    score_norm: per-member ``(mean [M], std [M])`` of raw scores (default 0, 1).
    globals_fn: per-candidate features ``[n, G]`` (None: no globals).
    resume: a previous :class:`TopK` to continue from.
    state_path: where to save the running state (``.npz``), atomically.
    save_every: save after this many chunks.
    total: expected number of candidates (for the ETA only).
    sub_chunk: graphs per model call inside a chunk (cache-sized; must
      divide ``chunk_size``).
    progress: called after each chunk with ``{"scored", "per_s", "eta_s", "chunk"}``.
    fingerprint: stored with the saved state (see :func:`load_top_k`).
    linear_fn: standardised scores ``[n]`` of a second ranker blended in
      (:mod:`jaxnas.linear_blend`; None: none).
    blend_weight: its weight ``w``: the score is ``(1 - w) * ensemble mean + w * linear``.

  Returns:
    The final :class:`TopK` (sorted, best first; empty slots dropped).
  """
  config_checks.check_int("chunk_size", chunk_size)
  config_checks.check_int("top_k", top_k)
  if resume is not None and resume.scores.shape[0] > top_k:
    raise errors.ConfigError(f"the resumed state keeps {resume.scores.shape[0]} candidates, "
                             f"more than top_k={top_k}")
  template = graphs_lib.template_for(space)
  if chunk_size % min(sub_chunk, chunk_size):
    raise errors.ConfigError(f"sub_chunk={sub_chunk} must divide chunk_size={chunk_size}")
  d = space.num_positions
  m = jax.tree.leaves(params)[0].shape[0]
  norm = (jnp.zeros((m,), jnp.float32), jnp.ones((m,), jnp.float32)) if score_norm is None else (
      jnp.asarray(score_norm[0], jnp.float32), jnp.asarray(score_norm[1], jnp.float32))
  if resume is None:
    carry = (jnp.full((top_k,), -jnp.inf, jnp.float32), jnp.zeros((top_k,), jnp.float32),
             jnp.zeros((top_k, d), jnp.int32))
    scored, next_chunk = 0, 0
  else:
    pad = top_k - resume.scores.shape[0]
    carry = (jnp.asarray(np.concatenate([resume.scores, np.full(pad, -np.inf, np.float32)])),
             jnp.asarray(np.concatenate([resume.std, np.zeros(pad, np.float32)])),
             jnp.asarray(np.concatenate([resume.encodings, np.zeros((pad, d), np.int32)])))
    scored, next_chunk = resume.num_scored, resume.next_chunk
  t0 = time.time()
  start_scored = scored
  since_save = 0
  for c, enc in chunks:
    n = enc.shape[0]
    if n > chunk_size:
      raise errors.ConfigError(f"chunk {c} has {n} candidates > chunk_size={chunk_size}")
    padded = np.zeros((chunk_size, d), np.int32)
    padded[:n] = enc
    if n < chunk_size:  # pad with a valid architecture so encoding stays well-defined
      padded[n:] = enc[0] if n else space.sample(jax.random.key(0), 1)[0]
    valid = np.arange(chunk_size) < n
    glob = globals_fn(padded) if globals_fn is not None else None
    arrays = graphs_lib.encode(space, padded, glob)
    linear = (np.zeros(chunk_size, np.float32) if linear_fn is None or not blend_weight
              else np.asarray(linear_fn(padded), np.float32))
    carry = _merge_step(carry, graphdef, params, norm, template, arrays, padded, valid, linear,
                        np.float32(blend_weight), top_k, min(sub_chunk, chunk_size))
    scored += n
    next_chunk = c + 1
    since_save += 1
    if progress is not None:
      elapsed = time.time() - t0
      rate = (scored - start_scored) / max(elapsed, 1e-9)
      progress({"chunk": c, "scored": scored, "per_s": rate,
                "eta_s": None if total is None else max(0.0, (total - scored) / max(rate, 1e-9))})
    if state_path and since_save >= save_every:
      save_top_k(state_path, _to_host(carry, scored, next_chunk), fingerprint)
      since_save = 0
  result = _to_host(carry, scored, next_chunk)
  if state_path:
    save_top_k(state_path, result, fingerprint)
  keep = np.isfinite(result.scores)
  return TopK(result.encodings[keep], result.scores[keep], result.std[keep], scored, next_chunk)


def _to_host(carry, scored: int, next_chunk: int) -> TopK:
  s, sd, enc = (np.asarray(x) for x in jax.device_get(carry))
  return TopK(enc.astype(np.int32), s.astype(np.float32), sd.astype(np.float32), scored, next_chunk)


def save_top_k(path: str, top: TopK, fingerprint: str | None = None) -> None:
  """Writes the running state atomically (npz, no pickle)."""
  buf = io.BytesIO()
  np.savez(buf, encodings=top.encodings, scores=top.scores, std=top.std,
           meta=np.frombuffer(json.dumps({"num_scored": top.num_scored,
                                          "next_chunk": top.next_chunk,
                                          "fingerprint": fingerprint}).encode(), np.uint8))
  io_utils.atomic_write_bytes(path, buf.getvalue())


def load_top_k(path: str, *, fingerprint: str | None = None) -> TopK | None:
  """Reads a saved state (None if absent); a corrupt file is a clear error.

  Args:
    path: the ``.npz`` state.
    fingerprint: when given, the state must have been saved with it: a sweep
      never continues the state of another ranker, space, chunking or k.
  """
  if not os.path.exists(path):
    return None
  try:
    with np.load(path, allow_pickle=False) as z:
      meta = json.loads(bytes(z["meta"]).decode())
      top = TopK(z["encodings"], z["scores"], z["std"], int(meta["num_scored"]),
                 int(meta["next_chunk"]))
  except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
    raise errors.CheckpointError(f"cannot read streaming state {path}: {e}") from None
  if fingerprint is not None and meta.get("fingerprint") != fingerprint:
    raise errors.CheckpointError(
        f"{path} was written by another scoring run (other ranker, space, candidates, "
        f"chunk size or top_k: fingerprint {meta.get('fingerprint')} != {fingerprint}); "
        "use a fresh workdir")
  return top
