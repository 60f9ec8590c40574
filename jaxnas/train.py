"""Training rankers: many *members* at once, vmapped over parameters.

A member is one ranker with its own initialisation, its own training
architectures and its own early-stopping split. Ensembles (K members on the
same data), seeds and train-set sizes of a protocol sweep are all just members,
trained together by one compiled program: parameters, optimiser states and
data carry a leading member axis ``M`` and the train step is ``jax.vmap``-ed
over it. Shapes are static (members' data are padded and masked), so a whole
run compiles once.

Data flow: a *pool* of architectures is encoded once into fixed-slot graph
arrays (:mod:`jaxnas.graphs`); members refer to rows of the pool. Each step,
every member draws a list of ``batch_size`` of its training rows, scores them
and takes the ranking loss over all pairs of the list (plus NAR's tier loss).
Every ``eval_every`` steps each member measures Kendall tau on its held-out
validation rows (a split of *its own* training archs — no extra labels) and
keeps its best parameters; ``patience`` stops members that stopped improving.
Training runs in segments of ``eval_every`` steps so progress can be reported
and orbax checkpoints written between segments.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnas import config_checks
from jaxnas import checkpoint as checkpoint_lib
from jaxnas import errors
from jaxnas import graphs as graphs_lib
from jaxnas import losses
from jaxnas import metrics
from jaxnas import models
from jaxnas import types
from jaxnas.spaces import base

__all__ = [
    "MemberData", "RankerTrainer", "TrainConfig", "TrainState", "make_member_data",
    "member_scores", "score_arrays",
]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """How rankers are trained.

  Attributes:
    loss: ranking loss name (see :data:`jaxnas.losses.RANKING_LOSSES`).
    tier_weight: weight of NAR's tier cross-entropy (0 disables it).
    learning_rate: peak AdamW learning rate (cosine decay to 0).
    weight_decay: AdamW weight decay.
    num_steps: optimisation steps per member.
    batch_size: architectures per list per step (all pairs of a list count).
    eval_every: steps between validation checks (one compiled segment).
    val_fraction: fraction of each member's train archs held out for early
      stopping / model selection (0 disables; then the last parameters win).
      Default 0: on NB201 fitting all labels beat holding 10% out for early
      stopping at every train size (README, "Results").
    patience: stop a member after this many checks without improvement
      (0: never stop early; the best checkpoint is still kept).
    grad_clip: global gradient-norm clip.
    warmup_steps: linear learning-rate warm-up.
  """

  loss: str = "pairwise_logistic"
  tier_weight: float = 0.0
  learning_rate: float = 2e-3
  weight_decay: float = 1e-4
  num_steps: int = 600
  batch_size: int = 64
  eval_every: int = 50
  val_fraction: float = 0.0
  patience: int = 0
  grad_clip: float = 1.0
  warmup_steps: int = 50

  def __post_init__(self):
    config_checks.check_field_types(self)
    losses.get_loss(self.loss)
    if self.num_steps < 1 or self.batch_size < 2 or self.eval_every < 1:
      raise errors.ConfigError("num_steps >= 1, batch_size >= 2 and eval_every >= 1 are required")
    if self.patience < 0:  # a negative patience stopped every run at its first check
      raise errors.ConfigError(f"patience must be >= 0, got {self.patience!r}")
    if not 0.0 <= self.val_fraction < 1.0:
      raise errors.ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
    for name in ("learning_rate", "weight_decay", "tier_weight", "grad_clip"):
      v = getattr(self, name)
      if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
        raise errors.ConfigError(f"{name} must be a finite number >= 0, got {v!r}")


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MemberData:
  """Padded per-member training data (leading axis M = members).

  Attributes:
    fit_rows: int32 ``[M, F]`` pool rows used for gradients.
    fit_mask: bool ``[M, F]``.
    fit_labels: float32 ``[M, F]`` standardised labels (higher = better).
    fit_tiers: int32 ``[M, F]`` NAR quality tiers (0 = best) among fit rows.
    val_rows: int32 ``[M, V]`` pool rows for early stopping.
    val_mask: bool ``[M, V]``.
    val_labels: float32 ``[M, V]``.
  """

  fit_rows: jax.Array
  fit_mask: jax.Array
  fit_labels: jax.Array
  fit_tiers: jax.Array
  val_rows: jax.Array
  val_mask: jax.Array
  val_labels: jax.Array

  @property
  def num_members(self) -> int:
    return int(self.fit_rows.shape[0])


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TrainState:
  """Everything a run needs to resume (leading axis M except ``step``)."""

  params: types.RankerParams
  opt_state: optax.OptState
  best_params: types.RankerParams
  best_val: jax.Array  # float32 [M]
  bad_checks: jax.Array  # int32 [M]
  key_data: jax.Array  # uint32 [M, ...] raw PRNG keys
  step: jax.Array  # int32 []


def make_member_data(train_rows: Sequence[np.ndarray], train_labels: Sequence[np.ndarray],
                     seeds: Sequence[int], *, val_fraction: float,
                     num_tiers: int) -> MemberData:
  """Splits each member's archs into fit/validation rows and pads them.

  Args:
    train_rows: per member, int ``[n_m]`` pool rows it may use.
    train_labels: per member, float ``[n_m]`` labels of those rows.
    seeds: per member, the seed of its fit/validation split.
    val_fraction: fraction held out for validation (at least 4 rows, else none).
    num_tiers: K for NAR tiers (computed over each member's fit labels).

  Returns:
    :class:`MemberData` (numpy arrays).
  """
  fits, vals = [], []
  for rows, labels, seed in zip(train_rows, train_labels, seeds):
    rows = np.asarray(rows, np.int64)
    labels = np.asarray(labels, np.float64)
    if rows.shape != labels.shape or rows.ndim != 1:
      raise errors.ConfigError(f"rows {rows.shape} and labels {labels.shape} must be equal 1-D")
    if not np.all(np.isfinite(labels)):
      raise errors.BenchmarkDataError(
          f"{int(np.sum(~np.isfinite(labels)))} training labels are NaN/inf")
    perm = np.random.default_rng(seed).permutation(rows.size)
    n_val = int(round(val_fraction * rows.size))
    if n_val < 4 or rows.size - n_val < 2:
      n_val = 0
    vals.append((rows[perm[:n_val]], labels[perm[:n_val]]))
    fits.append((rows[perm[n_val:]], labels[perm[n_val:]]))
  f_max = max(r.size for r, _ in fits)
  v_max = max(1, max(r.size for r, _ in vals))
  m = len(fits)
  out = {k: np.zeros((m, f_max), t) for k, t in (("fit_rows", np.int32), ("fit_mask", bool),
                                                  ("fit_labels", np.float32), ("fit_tiers", np.int32))}
  out.update({k: np.zeros((m, v_max), t) for k, t in (("val_rows", np.int32), ("val_mask", bool),
                                                       ("val_labels", np.float32))})
  for i, ((fr, fl), (vr, vl)) in enumerate(zip(fits, vals)):
    mu, sd = fl.mean(), fl.std() + 1e-8  # standardise with fit statistics only
    out["fit_rows"][i, :fr.size] = fr
    out["fit_mask"][i, :fr.size] = True
    out["fit_labels"][i, :fr.size] = (fl - mu) / sd
    if num_tiers:
      out["fit_tiers"][i, :fr.size] = np.asarray(
          losses.quantile_tiers(jnp.asarray(fl, jnp.float32), num_tiers))
    out["val_rows"][i, :vr.size] = vr
    out["val_mask"][i, :vr.size] = True
    out["val_labels"][i, :vr.size] = (vl - mu) / sd
  return MemberData(**out)


class RankerTrainer:
  """Trains and applies M rankers over a fixed pool of architectures.

  Args:
    space: the search space of the pool.
    pool_encodings: int ``[P, D]`` every architecture that will be trained on
      or scored by index (e.g. all archs of a benchmark).
    model_config: ranker architecture.
    train_config: optimisation settings.
    pool_globals: optional float ``[P, G]`` per-architecture input features
      (computed from the architecture, e.g. standardised log-params).
    score_chunk: architectures per scoring call (bounds memory; static).
  """

  def __init__(self, space: base.Space, pool_encodings: np.ndarray,
               model_config: models.ModelConfig, train_config: TrainConfig, *,
               pool_globals: np.ndarray | None = None, score_chunk: int = 1024):
    self.space = space
    self.model_config = model_config
    self.config = train_config
    self.template = graphs_lib.template_for(space)
    arrays = graphs_lib.encode(space, pool_encodings, pool_globals)
    if arrays.globals.shape[1] != model_config.num_globals:
      raise errors.ConfigError(
          f"model expects {model_config.num_globals} global features, pool has "
          f"{arrays.globals.shape[1]}")
    self.pool = jax.device_put(arrays)
    self.pool_size = len(arrays)
    self.score_chunk = score_chunk
    self.graphdef, _ = models.create_model(model_config, self.template.vocab_size,
                                           jax.random.key(0), template=self.template)
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, train_config.learning_rate, min(train_config.warmup_steps, train_config.num_steps - 1),
        train_config.num_steps, end_value=0.0)
    self.tx = optax.chain(optax.clip_by_global_norm(train_config.grad_clip),
                          optax.adamw(schedule, weight_decay=train_config.weight_decay))
    self._segment = jax.jit(self._segment_impl)
    self._score_rows = jax.jit(self._score_rows_impl)
    # One program: run eagerly, the vmapped model creation compiles each primitive of
    # each parameter shape on its own (~100 small programs, seconds on a CPU).
    self._init_members = jax.jit(self._init_members_impl)
    self.trace_count = 0  # incremented on every (re)compilation of the train segment

  # ----------------------------------------------------------- state
  def init_state(self, seeds: Sequence[int]) -> TrainState:
    """Fresh parameters and optimiser states for one member per seed."""
    keys = jnp.stack([jax.random.key(int(s)) for s in seeds])
    params, opt_state = self._init_members(keys)
    m = len(seeds)
    return TrainState(params=params, opt_state=opt_state, best_params=params,
                      best_val=jnp.full((m,), -jnp.inf, jnp.float32),
                      bad_checks=jnp.zeros((m,), jnp.int32),
                      key_data=jax.random.key_data(keys), step=jnp.zeros((), jnp.int32))

  def _init_members_impl(self, keys: jax.Array):
    init_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    params = models.init_params(self.model_config, self.template.vocab_size, init_keys,
                                template=self.template)
    return params, jax.vmap(self.tx.init)(params)

  # ----------------------------------------------------------- compiled pieces
  def _apply_rows(self, params, rows):
    """Scores and tier logits of pool rows ``[n]`` for one member."""
    g = graphs_lib.to_graphs_tuple(self.pool.take(rows), self.template)
    scores, tiers = models.apply(self.graphdef, params, g)
    return scores[:-1], tiers[:-1]

  def _member_loss(self, params, rows, labels, tiers, where):
    scores, tier_logits = self._apply_rows(params, rows)
    loss = losses.get_loss(self.config.loss)(scores, labels, where=where)
    if self.config.tier_weight and self.model_config.num_tiers:
      loss = loss + self.config.tier_weight * losses.tier_cross_entropy(
          tier_logits, tiers, where=where)
    return loss

  def _segment_impl(self, state: TrainState, data: MemberData):
    self.trace_count += 1
    cfg = self.config
    f = data.fit_rows.shape[1]
    bs = min(cfg.batch_size, f)
    patience = cfg.patience

    def member_step(params, opt_state, key, fit_rows, fit_mask, fit_labels, fit_tiers):
      # A random list of `bs` fit rows (without replacement): top-k of noise.
      noise = jax.random.uniform(key, (f,))
      _, idx = jax.lax.top_k(jnp.where(fit_mask, noise, -1.0), bs)
      where = fit_mask[idx]
      loss, grads = jax.value_and_grad(self._member_loss)(
          params, fit_rows[idx], fit_labels[idx], fit_tiers[idx], where)
      updates, opt_state = self.tx.update(grads, opt_state, params)
      return optax.apply_updates(params, updates), opt_state, loss

    m = data.fit_rows.shape[0]
    group = _member_group_size(m, bs * self.template.num_nodes * self.model_config.hidden * 4)

    def all_members_step(*args):
      # Members are independent: vmap within small cache-sized groups, loop
      # over groups (lax.map). Same results as one vmap over all M; on a
      # 2-core CPU one member is already compute-bound, and vmapping 8 or 25
      # members at once was 1.3-2x slower per member than groups of 1-2.
      if group == m:
        return jax.vmap(member_step)(*args)
      grouped = jax.tree.map(lambda x: x.reshape((m // group, group) + x.shape[1:]), args)
      out = jax.lax.map(lambda a: jax.vmap(member_step)(*a), grouped)
      return jax.tree.map(lambda x: x.reshape((m,) + x.shape[2:]), out)

    def step(carry, i):
      params, opt_state, key_data, active = carry
      # Steps past num_steps (the last segment of a num_steps that is not a
      # multiple of eval_every) keep the parameters: same program, no recompile.
      live = active & (state.step + i < cfg.num_steps)
      keys = jax.random.wrap_key_data(key_data)
      split = jax.vmap(lambda k: jax.random.split(k))(keys)
      new_params, new_opt, loss = all_members_step(
          params, opt_state, split[:, 1], data.fit_rows, data.fit_mask, data.fit_labels,
          data.fit_tiers)
      keep = lambda new, old: jnp.where(
          live.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)
      params = jax.tree.map(keep, new_params, params)
      opt_state = jax.tree.map(keep, new_opt, opt_state)
      return (params, opt_state, jax.random.key_data(split[:, 0]), active), loss

    active = (state.bad_checks < patience) if patience else jnp.ones_like(state.bad_checks, bool)
    (params, opt_state, key_data, _), loss_hist = jax.lax.scan(
        step, (state.params, state.opt_state, state.key_data, active), jnp.arange(cfg.eval_every))
    counted = (state.step + jnp.arange(cfg.eval_every) < cfg.num_steps)[:, None]
    mean_loss = jnp.sum(jnp.where(counted, loss_hist, 0.0), axis=0) / jnp.maximum(
        jnp.sum(counted), 1)
    # Validation: Kendall tau on each member's held-out rows.
    val_scores = jax.vmap(lambda p, r: self._apply_rows(p, r)[0])(params, data.val_rows)
    has_val = jnp.any(data.val_mask, axis=1)
    val_tau = jax.vmap(lambda s, y, w: metrics.kendall_tau(s, y, where=w))(
        val_scores, data.val_labels, data.val_mask)
    val_tau = jnp.where(has_val, val_tau, -jnp.inf)
    improved = active & (val_tau > state.best_val)
    sel = lambda new, old: jnp.where(improved.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)
    best_params = jax.tree.map(sel, params, state.best_params)
    best_val = jnp.where(improved, val_tau, state.best_val)
    bad = jnp.where(improved, 0, state.bad_checks + active.astype(jnp.int32))
    new_state = TrainState(params=params, opt_state=opt_state, best_params=best_params,
                           best_val=best_val, bad_checks=bad, key_data=key_data,
                           step=jnp.minimum(state.step + cfg.eval_every, cfg.num_steps))
    return new_state, {"loss": mean_loss, "val_tau": val_tau}

  def _score_rows_impl(self, params, rows):
    """Scores ``[M, n]`` of pool rows ``[n]`` (n a multiple of score_chunk)."""
    chunks = rows.reshape(-1, self.score_chunk)
    per_member = lambda p: jax.lax.map(lambda r: self._apply_rows(p, r)[0], chunks).reshape(-1)
    # One member at a time (lax.map): a vmap over members multiplies each
    # chunk's activations by M and falls out of cache (~3x slower for M=25).
    return jax.lax.map(per_member, params)

  # ----------------------------------------------------------- public API
  def final_params(self, state: TrainState, data: MemberData):
    """Best-validation parameters (last parameters for members without validation)."""
    has_val = jnp.any(data.val_mask, axis=1)
    sel = lambda best, last: jnp.where(has_val.reshape((-1,) + (1,) * (best.ndim - 1)), best, last)
    return jax.tree.map(sel, state.best_params, state.params)

  def train(self, data: MemberData, state: TrainState, *,
            on_segment: Callable[[dict], None] | None = None,
            checkpointer: checkpoint_lib.Checkpointer | None = None,
            checkpoint_every: int = 0, meta: dict | None = None) -> TrainState:
    """Runs segments until ``num_steps``; resumes from ``state.step``.

    Args:
      data: members' data (from :func:`make_member_data`).
      state: initial or restored state.
      on_segment: called after every segment with ``{"step", "loss" [M],
        "val_tau" [M], "steps_per_s", "eta_s"}``; the rate and ETA leave out
        the first segment (compilation) and are None until a second one ran.
      checkpointer: where to save states.
      checkpoint_every: save every this many steps (rounded up to segments;
        0 disables). The final state is always saved when a checkpointer is given.
      meta: JSON-able metadata stored with each checkpoint.
    """
    data = jax.device_put(data)
    cfg = self.config
    step = int(state.step)
    last_saved = step
    t0, start, rate = None, step, None
    while step < cfg.num_steps:
      state, info = self._segment(state, data)
      step = int(state.step)
      # The first segment of a call includes the compilation: the rate (and
      # the ETA) count the segments after it only.
      if t0 is None:
        t0, start = time.time(), step
      elif step > start:
        rate = (step - start) / max(time.time() - t0, 1e-9)
      report = {"step": step, "loss": np.asarray(info["loss"]),
                "val_tau": np.asarray(info["val_tau"]), "steps_per_s": rate,
                "eta_s": None if rate is None else (cfg.num_steps - step) / rate}
      if on_segment is not None:
        on_segment(report)
      if checkpointer is not None and checkpoint_every and (
          step - last_saved >= checkpoint_every or step >= cfg.num_steps):
        checkpointer.save(step, state, meta)
        last_saved = step
    if checkpointer is not None and last_saved != step:
      checkpointer.save(step, state, meta)
    return state

  def score(self, params, rows: np.ndarray | None = None) -> np.ndarray:
    """Scores ``[M, n]`` of pool rows (all pool rows by default)."""
    rows = np.arange(self.pool_size) if rows is None else np.asarray(rows)
    n = rows.size
    pad = (-n) % self.score_chunk
    padded = np.concatenate([rows, np.zeros(pad, rows.dtype)]).astype(np.int32)
    return np.asarray(self._score_rows(params, padded))[:, :n]


# Activation bytes of the members vmapped together in one train step (the
# rest are looped over with lax.map); see _member_group_size.
MEMBER_GROUP_BYTES = 1 << 18


def _member_group_size(m: int, bytes_per_member: int, budget: int | None = None) -> int:
  """Largest divisor of ``m`` whose activations (``bytes_per_member`` each) fit ``budget``."""
  budget = MEMBER_GROUP_BYTES if budget is None else budget
  cap = max(1, budget // max(bytes_per_member, 1))
  return max(d for d in range(1, m + 1) if m % d == 0 and d <= cap)


def score_arrays(graphdef: types.RankerGraphDef, params: types.RankerParams,
                 template: graphs_lib.GraphTemplate,
                 arrays: graphs_lib.GraphArrays, *, chunk: int = 1024) -> np.ndarray:
  """Scores ``[M, N]`` of arbitrary architectures' graph arrays by M rankers.

  Jitted per (M, chunk) shape; arrays are padded to a multiple of ``chunk``.
  """
  n = len(arrays)
  pad = (-n) % chunk
  padded = jax.tree.map(lambda a: np.concatenate([a, np.zeros((pad,) + a.shape[1:], a.dtype)]),
                        arrays)
  return np.asarray(_score_arrays_jit(graphdef, params, template, padded, chunk))[:, :n]


@functools.partial(jax.jit, static_argnames=("graphdef", "template", "chunk"))
def _score_arrays_jit(graphdef, params, template, arrays, chunk):
  return member_scores(graphdef, params, template, arrays, chunk)


def member_scores(graphdef: types.RankerGraphDef, params: types.RankerParams,
                  template: graphs_lib.GraphTemplate,
                  arrays: graphs_lib.GraphArrays, chunk: int) -> jax.Array:
  """Traceable scoring core: ``[M, N]`` scores of N graphs (N a multiple of chunk).

  Members run one at a time and graphs in chunks of ``chunk``, so each step's
  working set stays cache-sized (XLA:CPU is memory-bound on these small
  models). Used inside jitted scorers: this module, streaming, distributed.
  """
  n = arrays.node_ops.shape[0]
  chunks = jax.tree.map(lambda a: a.reshape((n // chunk, chunk) + a.shape[1:]), arrays)

  def per_member(p):
    f = lambda c: models.apply(graphdef, p, graphs_lib.to_graphs_tuple(c, template))[0][:-1]
    return jax.lax.map(f, chunks).reshape(-1)

  return jax.lax.map(per_member, params)  # one member at a time: cache-sized work
