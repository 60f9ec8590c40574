"""A ranker ensemble over a fixed pool of candidates: what ranker-based searches share.

Ranker-based strategies (NAR, RankNAS, AceNAS, ReNAS) all do the same two
things every round: train ``K`` rankers on the architectures queried so far,
then score every candidate of a pool (all 15,625 NB201 cells, or a large sample
of a bigger space) to decide what to query next. :class:`RankerSurrogate` does
both with :class:`jaxnas.train.RankerTrainer`:

* members are vmapped (one compiled program trains the whole ensemble);
* the per-member data are padded to a fixed *capacity* (a multiple of
  ``capacity_step`` rows), so a search of a few hundred queries compiles the
  train step once or twice instead of once per round;
* one jitted call per chunk scores the pool and returns both the ranking score
  and NAR's tier logits for every member.

Nothing here is a ground-truth query: training and scoring are free for the
search budget, and their wall time is accumulated in ``wall_time``.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import config_checks
from jaxnas import errors
from jaxnas import features
from jaxnas import graphs as graphs_lib
from jaxnas import models
from jaxnas import train
from jaxnas.data import benchmark as benchmark_lib
from jaxnas.spaces import base

__all__ = ["PoolIndex", "Predictions", "RankerSurrogate", "SEARCH_MODEL", "SEARCH_TRAIN",
           "SurrogateConfig", "pool_for", "sample_without_replacement", "stack_rows", "top_unseen"]

# Small rankers: on NB201 a 32-wide, 3-layer GIN trained for 300 steps ranks as
# well as the 64-wide default (Kendall tau ~0.75 at 60 archs) at a fraction of
# the cost, which is what lets a search retrain every round in ~2 s on a CPU.
SEARCH_MODEL = models.ModelConfig(encoder="gin", hidden=32, num_layers=3, head_hidden=32,
                                  num_tiers=0)
SEARCH_TRAIN = train.TrainConfig(num_steps=300, batch_size=32, eval_every=300,
                                 val_fraction=0.0, warmup_steps=20)


@dataclasses.dataclass(frozen=True)
class SurrogateConfig:
  """How a search trains its rankers.

  Attributes:
    ensemble_size: members ``K`` trained together on the same labels (their
      spread is the uncertainty ReNAS uses).
    model: ranker architecture (``num_globals`` is set from the pool).
    train: optimisation settings of a (re)training from scratch.
    use_cost_features: feed params/FLOPs computed from the architecture as
      global inputs (spaces without ``params()`` get none).
    capacity_step: fit data are padded to a multiple of this many rows.
    subsample: each member trains on this random share of the labelled rows
      (bagging: members disagree where the data are thin, which is what
      Thompson sampling and UCB feed on); 1.0 gives every member all rows.
  """

  ensemble_size: int = 4
  model: models.ModelConfig = SEARCH_MODEL
  train: train.TrainConfig = SEARCH_TRAIN
  use_cost_features: bool = True
  capacity_step: int = 256
  subsample: float = 1.0

  def __post_init__(self):
    config_checks.check_field_types(self)
    if self.ensemble_size < 1:
      raise errors.ConfigError(f"ensemble_size must be >= 1, got {self.ensemble_size!r}")
    if self.capacity_step < 2:
      raise errors.ConfigError(f"capacity_step must be >= 2, got {self.capacity_step!r}")
    if not 0.0 < self.subsample <= 1.0:
      raise errors.ConfigError(f"subsample must be in (0, 1], got {self.subsample!r}")


def pool_for(space: base.Space, *, key: jax.Array, max_size: int = 20_000) -> np.ndarray:
  """The candidate pool of a search: the whole space if small, else a sample.

  Args:
    space: the search space.
    key: PRNG key of the sample (unused when the space is enumerated).
    max_size: enumerate spaces with at most this many combinations; sample
      this many distinct architectures from larger ones.

  Returns:
    int32 ``[P, D]`` distinct valid encodings (sorted by their mixed-radix key).
  """
  if space.num_combinations <= max_size:
    return space.enumerate()
  enc = space.sample(key, 2 * max_size)
  keys = benchmark_lib.encoding_keys(space, enc)
  _, first = np.unique(keys, return_index=True)
  return enc[np.sort(first)][:max_size]


class PoolIndex:
  """Vectorised encoding -> pool row lookup (``-1`` for archs not in the pool)."""

  def __init__(self, space: base.Space, pool: np.ndarray):
    self.space = space
    keys = benchmark_lib.encoding_keys(space, pool)
    self._order = np.argsort(keys, kind="stable")
    self._sorted = keys[self._order]
    if np.any(np.diff(self._sorted) == 0):
      raise errors.ConfigError(f"{space.name}: the candidate pool holds duplicate architectures")

  def rows(self, encodings: base.Encodings) -> np.ndarray:
    """Pool rows ``[N]`` of encodings ``[N, D]``, ``-1`` where absent."""
    enc = np.asarray(encodings, np.int32).reshape(-1, self.space.num_positions)
    if not enc.shape[0] or not self._sorted.size:
      return np.full(enc.shape[0], -1, np.int64)
    keys = benchmark_lib.encoding_keys(self.space, enc)
    pos = np.minimum(np.searchsorted(self._sorted, keys), self._sorted.size - 1)
    return np.where(self._sorted[pos] == keys, self._order[pos], -1)


@dataclasses.dataclass
class Predictions:
  """An ensemble's view of the pool.

  Attributes:
    scores: float ``[K, P]`` each member's scores, z-scored over the pool
      (members' raw scores live on different scales).
    tier_probs: float ``[K, P, T]`` tier probabilities (``T`` = 0 without a
      tier head); tier 0 is the best.
    raw_mean: float ``[K]`` each member's mean raw score over the pool.
    raw_std: float ``[K]`` each member's raw score spread over the pool (with
      ``raw_mean``: puts scores of archs outside the pool on the same scale).
  """

  scores: np.ndarray
  tier_probs: np.ndarray
  raw_mean: np.ndarray
  raw_std: np.ndarray

  @property
  def mean(self) -> np.ndarray:
    """Ensemble-mean score ``[P]``."""
    return self.scores.mean(axis=0)

  @property
  def std(self) -> np.ndarray:
    """Ensemble spread ``[P]`` (0 for a single member)."""
    return self.scores.std(axis=0)


class RankerSurrogate:
  """Trains ranker ensembles on labelled pool rows and scores the whole pool.

  Args:
    space: the search space.
    pool: int ``[P, D]`` candidate architectures (distinct).
    config: ensemble, model and training settings.
    pool_globals: float ``[P, G]`` global input features; default: the
      standardised cost features of the pool when ``config.use_cost_features``.
    score_chunk: architectures per scoring step (bounds memory).
  """

  def __init__(self, space: base.Space, pool: np.ndarray, config: SurrogateConfig = SurrogateConfig(),
               *, pool_globals: np.ndarray | None = None, score_chunk: int = 2048):
    self.space = space
    self.pool = np.asarray(pool, np.int32).reshape(-1, space.num_positions)
    if not self.pool.shape[0]:
      raise errors.ConfigError(f"{space.name}: the candidate pool is empty")
    self.config = config
    self.index = PoolIndex(space, self.pool)
    if pool_globals is None and config.use_cost_features:
      raw = features.cost_features(space, self.pool)
      pool_globals = features.standardize(raw) if raw.shape[1] else None
    self.pool_globals = pool_globals
    num_globals = 0 if pool_globals is None else int(np.asarray(pool_globals).shape[1])
    self.model_config = dataclasses.replace(config.model, num_globals=num_globals)
    self.score_chunk = int(min(score_chunk, self.pool.shape[0]))
    self._trainers: dict[train.TrainConfig, train.RankerTrainer] = {}
    self.wall_time = 0.0  # seconds spent training and scoring (free, but reported)
    self.num_fits = 0
    first = self.trainer(config.train)
    self._apply = jax.jit(functools.partial(_apply_chunks, first.graphdef, first.template,
                                            self.score_chunk))

  @property
  def pool_size(self) -> int:
    return int(self.pool.shape[0])

  def trainer(self, train_config: train.TrainConfig) -> train.RankerTrainer:
    """The (cached) trainer of one training configuration over the pool."""
    if train_config not in self._trainers:
      self._trainers[train_config] = train.RankerTrainer(
          self.space, self.pool, self.model_config, train_config,
          pool_globals=self.pool_globals, score_chunk=self.score_chunk)
    return self._trainers[train_config]

  def member_seeds(self, seed: int) -> list[int]:
    """Init seeds of the ensemble members of one fit."""
    return [int(seed) * 7919 + k for k in range(self.config.ensemble_size)]

  # ----------------------------------------------------------- training
  def fit(self, rows: np.ndarray, labels: np.ndarray, seed: int, *,
          train_config: train.TrainConfig | None = None, init_params=None):
    """Trains the ensemble on labelled pool rows; returns stacked params ``[K, ...]``.

    Args:
      rows: int ``[n]`` pool rows with labels (``n >= 2``).
      labels: float ``[n]``; higher is better.
      seed: seed of the members' initialisation and list sampling.
      train_config: overrides ``config.train`` (e.g. a LambdaRank finetune).
      init_params: start from these stacked params (finetuning) instead of
        a fresh initialisation; the optimiser starts fresh.
    """
    rows = np.asarray(rows, np.int64)
    labels = np.asarray(labels, np.float64)
    if rows.ndim != 1 or rows.shape != labels.shape or rows.size < 2:
      raise errors.ConfigError(
          f"fit needs >= 2 labelled rows with one label each, got rows {rows.shape} and "
          f"labels {labels.shape}")
    if rows.min() < 0 or rows.max() >= self.pool_size:
      raise errors.ConfigError(
          f"fit rows must be pool rows 0..{self.pool_size - 1}, got {int(rows.min())}..{int(rows.max())}")
    t0 = time.perf_counter()
    tc = train_config or self.config.train
    trainer = self.trainer(tc)
    seeds = self.member_seeds(seed)
    member_rows, member_labels = [], []
    for s in seeds:
      if self.config.subsample < 1.0:
        m = max(2, int(np.ceil(self.config.subsample * rows.size)))
        pick = np.sort(np.random.default_rng(s).permutation(rows.size)[:m])
      else:
        pick = np.arange(rows.size)
      member_rows.append(rows[pick])
      member_labels.append(labels[pick])
    data = train.make_member_data(member_rows, member_labels, seeds, val_fraction=tc.val_fraction,
                                  num_tiers=self.model_config.num_tiers)
    data = _pad_fit(data, self.config.capacity_step)
    state = trainer.init_state(seeds)
    if init_params is not None:
      state = dataclasses.replace(state, params=init_params, best_params=init_params,
                                  opt_state=jax.vmap(trainer.tx.init)(init_params))
    state = trainer.train(data, state)
    params = trainer.final_params(state, data)
    jax.block_until_ready(params)
    self.wall_time += time.perf_counter() - t0
    self.num_fits += 1
    return params

  # ----------------------------------------------------------- scoring
  def predict(self, params) -> Predictions:
    """Scores and tier probabilities of every pool architecture."""
    t0 = time.perf_counter()
    n = self.pool_size
    rows = np.arange(n + (-n) % self.score_chunk, dtype=np.int32) % n
    trainer = self.trainer(self.config.train)
    scores, tiers = self._apply(params, trainer.pool, jnp.asarray(rows))
    scores = np.asarray(scores, np.float64)[:, :n]
    tiers = np.asarray(tiers, np.float64)[:, :n]
    self.wall_time += time.perf_counter() - t0
    mu, sd = scores.mean(axis=1), scores.std(axis=1) + 1e-8
    z = (scores - mu[:, None]) / sd[:, None]
    if tiers.shape[-1]:
      tiers = np.exp(tiers - tiers.max(axis=-1, keepdims=True))
      tiers /= tiers.sum(axis=-1, keepdims=True)
    return Predictions(scores=z, tier_probs=tiers, raw_mean=mu, raw_std=sd)


def _apply_chunks(graphdef, template, chunk, params, pool_arrays, rows):
  """Scores ``[K, n]`` and tier logits ``[K, n, T]`` of pool ``rows`` ``[n]``."""
  chunks = rows.reshape(-1, chunk)

  def per_member(p):
    def one(r):
      g = graphs_lib.to_graphs_tuple(pool_arrays.take(r), template)
      s, t = models.apply(graphdef, p, g)
      return s[:-1], t[:-1]  # drop the padding graph
    s, t = jax.lax.map(one, chunks)
    return s.reshape(-1), t.reshape((s.size,) + t.shape[2:])

  return jax.vmap(per_member)(params)


def _pad_fit(data: train.MemberData, step: int) -> train.MemberData:
  """Pads the fit arrays to a multiple of ``step`` rows (masked), for static shapes."""
  f = int(data.fit_rows.shape[1])
  cap = -(-f // step) * step
  if cap == f:
    return data
  pad = lambda a: np.pad(np.asarray(a), ((0, 0), (0, cap - f)))
  return dataclasses.replace(data, fit_rows=pad(data.fit_rows), fit_mask=pad(data.fit_mask),
                             fit_labels=pad(data.fit_labels), fit_tiers=pad(data.fit_tiers))


def top_unseen(scores: np.ndarray, seen: np.ndarray, n: int,
               allowed: np.ndarray | None = None) -> np.ndarray:
  """Indices ``[<=n]`` of the highest ``scores`` ``[P]`` not ``seen`` (bool ``[P]``).

  Ties are broken by index so the choice is deterministic.
  """
  ok = ~np.asarray(seen, bool)
  if allowed is not None:
    ok &= np.asarray(allowed, bool)
  cand = np.nonzero(ok)[0]
  order = np.lexsort((cand, -np.asarray(scores)[cand]))
  return cand[order[:n]]


def sample_without_replacement(key: jax.Array, log_weights: np.ndarray, n: int,
                               allowed: np.ndarray | None = None) -> np.ndarray:
  """``n`` distinct indices drawn with probability ``∝ exp(log_weights)`` (Gumbel top-k).

  Args:
    key: PRNG key.
    log_weights: float ``[P]`` unnormalised log-probabilities.
    n: how many to draw (fewer if fewer are allowed).
    allowed: bool ``[P]`` mask of drawable indices.
  """
  lw = np.asarray(log_weights, np.float64)
  g = np.asarray(jax.random.gumbel(key, lw.shape), np.float64)
  z = lw + g
  if allowed is not None:
    z = np.where(allowed, z, -np.inf)
  n = int(min(n, np.sum(np.isfinite(z))))
  return np.argsort(-z, kind="stable")[:n]


def stack_rows(*parts: Sequence[int]) -> np.ndarray:
  """Concatenates row lists keeping the first occurrence of each row."""
  out = list(dict.fromkeys(int(r) for p in parts for r in p))
  return np.asarray(out, np.int64)
