"""Weak-label pretraining of the ranker's encoder (AceNAS), then fine-tuning.

Zhang et al., "AceNAS: Learning to Rank Ace Neural Architectures with Weak
Supervision of Weight Sharing" (ECML-PKDD 2021): pretrain the GNN encoder on
cheap labels of *every* architecture of the space, then fine-tune on the few
architectures with true labels. The weak labels here are jaxnas's own
(:mod:`jaxnas.evaluate.weak_labels`): params/FLOPs, zero-cost proxies, the
random-weight probe and, optionally, weight-sharing supernet accuracy.

Two ways in, used together by default:

* **pretraining** (multi-task): every member's ranker is trained on the whole
  pool (all architectures of the benchmark; no true labels) with

  - a ranking loss (``loss``) of its *score head* against the combined weak
    label (:func:`weak_labels.combined`: mean oriented rank of the signals), so
    fine-tuning starts from a sensible ranking, and
  - a regression of auxiliary linear heads on the score head's hidden layer
    onto every standardised signal (MSE), so the shared representation
    carries each signal separately and fine-tuning can re-weight them — even
    a signal that turns out to be anti-correlated with accuracy helps here,
    where a fixed combination would hurt.

  The per-architecture global inputs (``pool_globals``) are zeroed during
  pretraining: otherwise the heads could copy the signals from the inputs
  and the encoder would learn nothing.
* **inputs**: the standardised weak signals are appended to the ranker's
  per-architecture global features (legitimate architecture-only inputs:
  jaxnas computed them from the architecture, no benchmark column is read).

Fine-tuning is the ordinary :class:`jaxnas.train.RankerTrainer` run (any
ranking loss, e.g. LambdaRank) from the pretrained parameters. Pretraining
uses only the public pieces of the trainer (its pool, template, graph
definition, optimiser factory) and vmaps over *distinct* initialisations:
members that share an init seed (e.g. the same seed at several train sizes)
are pretrained once.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxnas import config_checks
from jaxnas import errors
from jaxnas import graphs as graphs_lib
from jaxnas import losses
from jaxnas import train as train_lib
from jaxnas.evaluate import weak_labels as weak_lib
from jaxnas.spaces import base

__all__ = [
    "MODES", "Plan", "PretrainConfig", "USES", "columns_for", "combine_hooks", "prepare",
    "pretrain_state",
]

MODES = ("none", "zero_cost", "supernet")
USES = ("pretrain", "features", "both")


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
  """Weak-label pretraining settings.

  Attributes:
    mode: ``none``, ``zero_cost`` (params/FLOPs, NASWOT, synflow, probe) or
      ``supernet`` (those plus weight-sharing supernet accuracy/loss).
    use: ``pretrain`` (pretrain the encoder only), ``features`` (weak
      signals as extra global inputs only) or ``both``.
    columns: weak-label columns to use (None: all of the mode's); ablations.
    rank_columns: columns whose combined rank is the score head's pretraining
      target (None: all of ``columns``). Every column of ``columns`` is still
      an auxiliary regression target, whose sign fine-tuning is free to pick.
    num_steps: pretraining steps.
    batch_size: architectures per pretraining list.
    learning_rate: peak AdamW learning rate of pretraining.
    loss: ranking loss of the score head against the combined weak label.
    rank_weight: weight of that ranking loss.
    aux_weight: weight of the auxiliary per-signal regression.
    weak_labels: path of the weak-label CSV (None: the cache, see
      :func:`weak_labels.default_path`).
    cache_dir: cache root (None: ``$JAXNAS_CACHE_DIR`` or ``~/.cache/jaxnas``).
    images_dir: CIFAR-10 folder for the image-based signals.
    weak: settings of the weak-label computation (its ``signals`` are set
      from ``mode``).
  """

  mode: str = "none"
  use: str = "both"
  columns: tuple[str, ...] | None = None
  rank_columns: tuple[str, ...] | None = None
  num_steps: int = 1000
  batch_size: int = 128
  learning_rate: float = 2e-3
  loss: str = "pairwise_logistic"
  rank_weight: float = 1.0
  aux_weight: float = 1.0
  weak_labels: str | None = None
  cache_dir: str | None = None
  images_dir: str | None = None
  weak: weak_lib.WeakLabelConfig = weak_lib.WeakLabelConfig()

  def __post_init__(self):
    config_checks.check_field_types(self)
    if self.mode not in MODES:
      raise errors.ConfigError(f"pretrain mode {self.mode!r}; expected one of {list(MODES)}")
    if self.use not in USES:
      raise errors.ConfigError(f"pretrain use {self.use!r}; expected one of {list(USES)}")
    losses.get_loss(self.loss)
    if self.num_steps < 1 or self.batch_size < 2:
      raise errors.ConfigError(
          f"pretrain num_steps >= 1 and batch_size >= 2 required, got {self.num_steps}, "
          f"{self.batch_size}")
    known = set(self.weak_config().columns())
    for name in ("columns", "rank_columns"):
      chosen = getattr(self, name)
      if chosen is not None and (not chosen or any(c not in known for c in chosen)):
        raise errors.ConfigError(
            f"pretrain {name} {list(chosen)!r}: must be a non-empty subset of "
            f"{sorted(known)} for mode {self.mode!r}")

  def weak_config(self) -> weak_lib.WeakLabelConfig:
    signals = weak_lib.SUPERNET_SIGNALS if self.mode == "supernet" else weak_lib.ZERO_COST_SIGNALS
    return dataclasses.replace(self.weak, signals=signals)

  def fingerprint_dict(self) -> dict:
    """What determines the trained rankers (locations of caches left out)."""
    d = dataclasses.asdict(self)
    for k in ("weak_labels", "cache_dir", "images_dir"):
      d.pop(k)
    d["weak"] = dataclasses.asdict(self.weak_config())
    return d


@dataclasses.dataclass
class Plan:
  """What a run needs from the weak labels of its pool.

  Attributes:
    columns: the weak-label columns used.
    features: float32 ``[P, S]`` standardised signals to append to the pool's
      global inputs, or None.
    targets: float32 ``[P, S]`` standardised signals (auxiliary regression).
    combined: float32 ``[P]`` combined weak label (score-head pretraining).
    table: the weak-label table (pool order).
    hook: ``(trainer, state) -> state`` that pretrains, or None.
  """

  columns: list[str]
  features: np.ndarray | None
  targets: np.ndarray
  combined: np.ndarray
  table: weak_lib.WeakLabels
  hook: Callable | None


def prepare(config: PretrainConfig, space: base.Space, encodings: np.ndarray, *,
            log: Callable[[str], None] = lambda m: None) -> Plan:
  """Loads (or computes) the pool's weak labels and returns the run's :class:`Plan`."""
  if config.mode == "none":
    raise errors.ConfigError("prepare() needs a pretrain mode other than 'none'")
  weak_cfg = config.weak_config()
  if not isinstance(space, weak_lib.cell_lib.CellSpace):
    # Only architecture cost signals exist outside cell spaces.
    weak_cfg = dataclasses.replace(weak_cfg, signals=("params", "flops"))
  table = weak_lib.load_or_compute(space, encodings, weak_cfg, path=config.weak_labels,
                                   cache_dir=config.cache_dir, images_dir=config.images_dir,
                                   log=log)
  columns = list(config.columns) if config.columns is not None else list(table.columns)
  missing = [c for c in columns if c not in table.columns]
  if missing:
    raise errors.ConfigError(f"weak labels of {space.name} have no columns {missing}")
  rank_columns = [c for c in (config.rank_columns or columns) if c in columns]
  if not rank_columns:
    raise errors.ConfigError(
        f"pretrain rank_columns {config.rank_columns!r} share no column with {columns}")
  z = weak_lib.standardize(table.matrix(columns))
  comb = weak_lib.combined(table, rank_columns)
  comb = ((comb - comb.mean()) / (comb.std() + 1e-12)).astype(np.float32)
  feats = z if config.use in ("features", "both") else None
  plan = Plan(columns, feats, z, comb, table, None)
  if config.use in ("pretrain", "both"):
    plan.hook = lambda trainer, state: pretrain_state(trainer, state, plan, config, log=log)
  log(f"weak labels: {len(columns)} signals {columns} for {len(table.archs)} archs "
      f"(use: {config.use})")
  return plan


# --------------------------------------------------------------------------- pretraining
def _aux_init(key: jax.Array, hidden: int, num_targets: int) -> dict:
  return {"w": jax.random.normal(key, (hidden, num_targets), jnp.float32) / np.sqrt(hidden),
          "b": jnp.zeros((num_targets,), jnp.float32)}


def _forward(graphdef, params, aux, graphs):
  """Score ``[B]`` and auxiliary predictions ``[B, S]`` (padding graph dropped)."""
  model = nnx.merge(graphdef, params)
  z = jax.nn.relu(model.head_a(model.encoder(graphs)))
  score = model.head_b(z)[:, 0]
  return score[:-1], (z @ aux["w"] + aux["b"])[:-1]


def pretrain_state(trainer: train_lib.RankerTrainer, state: train_lib.TrainState, plan: Plan,
                   config: PretrainConfig, *, log: Callable[[str], None] = lambda m: None
                   ) -> train_lib.TrainState:
  """Pretrains every distinct initialisation of ``state`` on the weak labels.

  Args:
    trainer: the fine-tuning trainer (its pool must be the plan's pool).
    state: fresh members (``trainer.init_state``).
    plan: weak labels of the pool.
    config: pretraining settings.

  Returns:
    ``state`` with pretrained ``params``/``best_params`` and a fresh optimiser
    state for fine-tuning.
  """
  if plan.targets.shape[0] != trainer.pool_size:
    raise errors.ConfigError(
        f"weak labels cover {plan.targets.shape[0]} archs, the trainer's pool {trainer.pool_size}")
  key_data = np.asarray(state.key_data)
  flat = key_data.reshape(key_data.shape[0], -1)
  uniq, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
  inverse = inverse.reshape(-1)
  params0 = jax.tree.map(lambda x: x[first], state.params)
  u = len(first)
  t0 = time.time()
  params = _pretrain(trainer, params0, jnp.asarray(key_data[first]), plan, config, log)
  jax.block_until_ready(params)
  log(f"pretrained {u} distinct initialisation(s) on {trainer.pool_size} archs x "
      f"{plan.targets.shape[1]} weak signals, {config.num_steps} steps in {time.time() - t0:.1f}s")
  params = jax.tree.map(lambda x: x[inverse], params)
  return dataclasses.replace(state, params=params, best_params=params,
                             opt_state=jax.vmap(trainer.tx.init)(params))


def _pretrain(trainer, params, key_data, plan: Plan, config: PretrainConfig, log):
  hidden = trainer.model_config.head_hidden
  s = plan.targets.shape[1]
  u = key_data.shape[0]
  keys = jax.random.wrap_key_data(key_data)
  aux = jax.vmap(lambda k: _aux_init(jax.random.fold_in(k, 7), hidden, s))(keys)
  schedule = optax.warmup_cosine_decay_schedule(
      0.0, config.learning_rate, min(50, config.num_steps - 1), config.num_steps, end_value=0.0)
  tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=1e-4))
  opt = jax.vmap(tx.init)((params, aux))
  targets = jnp.asarray(plan.targets)
  comb = jnp.asarray(plan.combined)
  rank_loss = losses.get_loss(config.loss)
  pool, template, graphdef = trainer.pool, trainer.template, trainer.graphdef
  n, bs = trainer.pool_size, min(config.batch_size, trainer.pool_size)

  def member_loss(p, a, rows):
    g = graphs_lib.to_graphs_tuple(pool.take(rows), template)
    g = g._replace(globals=jnp.zeros_like(g.globals))  # no shortcut through the inputs
    score, pred = _forward(graphdef, p, a, g)
    loss = config.rank_weight * rank_loss(score, comb[rows])
    return loss + config.aux_weight * jnp.mean(jnp.square(pred - targets[rows]))

  def member_step(p, a, o, key):
    rows = jax.random.choice(key, n, (bs,), replace=False)
    loss, grads = jax.value_and_grad(lambda pa: member_loss(pa[0], pa[1], rows))((p, a))
    updates, o = tx.update(grads, o, (p, a))
    p, a = optax.apply_updates((p, a), updates)
    return p, a, o, loss

  seg = math.gcd(config.num_steps, 50)  # segments tile num_steps exactly

  @jax.jit
  def segment(p, a, o, keys, start):
    def body(carry, i):
      p, a, o = carry
      ks = jax.vmap(lambda k: jax.random.fold_in(k, start + i))(keys)
      p, a, o, loss = jax.vmap(member_step)(p, a, o, ks)
      return (p, a, o), loss
    (p, a, o), losses_ = jax.lax.scan(body, (p, a, o), jnp.arange(seg))
    return p, a, o, losses_.mean(0)

  step = 0
  t0 = time.time()
  while step < config.num_steps:
    params, aux, opt, loss = segment(params, aux, opt, keys, step)
    step += seg
    if step % 250 < seg or step >= config.num_steps:
      log(f"pretrain step {min(step, config.num_steps)}/{config.num_steps}  "
          f"loss {float(np.mean(loss)):.4f}  {step / max(time.time() - t0, 1e-9):.1f} steps/s "
          f"({u} member(s))")
  return params


def combine_hooks(*hooks: Callable | None) -> Callable | None:
  """``(trainer, state) -> state`` applying the non-None hooks in order."""
  hooks = [h for h in hooks if h is not None]
  if not hooks:
    return None

  def run(trainer, state):
    for h in hooks:
      state = h(trainer, state)
    return state
  return run


def columns_for(mode: str) -> list[str]:
  """All weak-label columns of a pretrain mode."""
  return PretrainConfig(mode=mode).weak_config().columns()


