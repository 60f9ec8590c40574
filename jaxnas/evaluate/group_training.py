"""Training groups of candidate networks together: one compiled step for a whole group.

A group of ``G`` candidates of a cell space trains as one program: their
parameters and optimizer states are stacked on a leading ``[G]`` axis, every
step feeds all of them the same (augmented) image batch, and the op ids are
data (:mod:`jaxnas.evaluate.trainable_network`), so one compilation serves
every group of the same size. Each candidate keeps its own BN batch
statistics, weights and optimizer state: its result does not depend on which
other candidates share its group (its initial weights come from ``(seed,
architecture)``, the batches from ``(seed, epoch, step)``).

The budget is EcoNAS's reduction factors (Zhou et al., "EcoNAS: Finding Proxies
for Economical Neural Architecture Search", CVPR 2020): epochs, width
(``channels``), resolution (``image_size``) and the fraction of the training
images. After every epoch each candidate's accuracy on the held-out images is
recorded (its learning curve); the last one is its score.

How the candidates of a group run (:data:`EXECUTIONS`), measured on a 2-core
CPU (README, "Training evaluator"):

* ``"map_switch"``: ``lax.map`` over candidates, ``lax.switch`` per edge: only
  each candidate's own ops run. The fastest on CPU (the default).
* ``"map_mixed"``: ``lax.map``, one-hot mixture per edge (a 3x3 conv on every
  edge).
* ``"vmap_mixed"``: ``vmap`` over candidates, one-hot mixture per edge:
  convolutions over all candidates at once, for accelerators.

Checkpoints (:mod:`jaxnas.checkpoint`) are written after every epoch; a group
resumes from its latest one and ends with the same numbers as an
uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import zlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnas import checkpoint as checkpoint_lib
from jaxnas import errors
from jaxnas.data import images as images_lib
from jaxnas.evaluate import trainable_network as tn
from jaxnas.evaluate.training_config import EXECUTIONS
from jaxnas.evaluate.training_config import OPTIMIZERS
from jaxnas.evaluate.training_config import TrainingConfig
from jaxnas.spaces import cell as cell_lib

__all__ = ["EXECUTIONS", "GroupTrainer", "OPTIMIZERS", "TrainingConfig", "TrainingData",
           "candidate_key", "prepare_data", "shared_trainer", "short_group_trainers"]

@dataclasses.dataclass(frozen=True)
class TrainingData:
  """Normalised training and held-out images of the evaluator.

  Attributes:
    train_x: float32 ``[N, S, S, C]``.
    train_y: int32 ``[N]``.
    eval_x: float32 ``[M, S, S, C]``.
    eval_y: int32 ``[M]``.
    num_classes: label classes.
    fingerprint: content hash of the arrays (checkpoints must match it).
  """

  train_x: np.ndarray
  train_y: np.ndarray
  eval_x: np.ndarray
  eval_y: np.ndarray
  num_classes: int
  fingerprint: str


def prepare_data(train: images_lib.ImageSet, test: images_lib.ImageSet,
                 config: TrainingConfig) -> TrainingData:
  """Subsamples, downsamples and standardises (training-set channel statistics) two image sets.

  Raises:
    ConfigError: the fraction leaves fewer images than a batch, ``eval_images``
      exceeds the held-out set, or ``image_size`` does not divide the images.
  """
  n = int(round(config.train_fraction * len(train)))
  if n < config.batch_size:
    raise errors.ConfigError(
        f"train_fraction={config.train_fraction} leaves {n} training images, fewer than "
        f"batch_size={config.batch_size}")
  if config.eval_images > len(test):
    raise errors.ConfigError(
        f"eval_images={config.eval_images} exceeds the {len(test)} held-out images")
  if train.x.shape[1:] != test.x.shape[1:]:
    raise errors.ConfigError(f"training images {train.x.shape[1:]} and held-out images "
                             f"{test.x.shape[1:]} differ in shape")
  train = train.stratified(n, config.seed) if n < len(train) else train
  test = test.stratified(config.eval_images, config.seed) if config.eval_images else test
  # Held-out images are scored in chunks of eval_batch whose BN uses the chunk's
  # own statistics: a chunk must be a random mix of classes. Image files may be
  # sorted by class (the shared CIFAR-10 test.npz is), and BN over a chunk of
  # one or two classes scored every network near chance.
  order = np.random.default_rng(config.seed).permutation(len(test))
  test = images_lib.ImageSet(test.x[order], test.y[order], test.source)
  train = images_lib.downsample(train, config.image_size)
  test = images_lib.downsample(test, config.image_size)
  x = train.x.astype(np.float32) / 255.0
  mean, std = x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2)) + 1e-6
  prep = lambda s: ((s.x.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)
  num_classes = int(max(train.y.max(), test.y.max())) + 1
  h = hashlib.sha256()
  for a in (train.x, train.y, test.x, test.y):
    h.update(np.ascontiguousarray(a).tobytes())
  return TrainingData(prep(train), train.y.astype(np.int32), prep(test), test.y.astype(np.int32),
                      max(num_classes, 2), h.hexdigest()[:16])


def candidate_key(seed: int, encoding: np.ndarray) -> jax.Array:
  """The initial-weight key of one architecture: a function of ``(seed, architecture)`` only."""
  digest = zlib.crc32(np.asarray(encoding, np.int32).tobytes())
  return jax.random.fold_in(jax.random.key(seed), digest & 0x7FFFFFFF)


class GroupTrainer:
  """Trains groups of candidates of a cell space (see module docstring).

  Args:
    space: a cell space (``nb201``, ``complete_dag:N``).
    config: budget and optimisation.
    data: images from :func:`prepare_data`.
  """

  def __init__(self, space: cell_lib.CellSpace, config: TrainingConfig, data: TrainingData):
    if not isinstance(space, cell_lib.CellSpace):
      raise errors.ConfigError(
          f"the training evaluator builds networks of cell spaces (nb201, complete_dag:N); "
          f"got {getattr(space, 'spec', space)!r}")
    self.space, self.config, self.data = space, config, data
    self.shape = tn.CellNetworkShape(
        channels=config.channels, cells_per_stage=config.cells_per_stage,
        num_stages=config.num_stages, num_classes=data.num_classes,
        in_channels=int(data.train_x.shape[-1]))
    self.body = self.shape.body(space)
    self.steps_per_epoch = data.train_x.shape[0] // config.batch_size
    total = config.epochs * self.steps_per_epoch
    schedule = optax.cosine_decay_schedule(config.learning_rate, total)
    if config.optimizer == "sgd":
      self.tx = optax.chain(optax.add_decayed_weights(config.weight_decay),
                            optax.sgd(schedule, momentum=config.momentum, nesterov=True))
    else:
      self.tx = optax.adamw(schedule, weight_decay=config.weight_decay)
    self.fingerprint = config.fingerprint(space, data)
    self._train_x = jnp.asarray(data.train_x)
    self._train_y = jnp.asarray(data.train_y)
    self._eval_x = jnp.asarray(data.eval_x)
    self._eval_y = jnp.asarray(data.eval_y)
    self.num_traces = 0  # train_epoch traces (tests: one per group shape)
    self._train_epoch = jax.jit(self._train_epoch_impl)
    self._evaluate = jax.jit(self._evaluate_impl)
    # One program per group shape: run eagerly, the vmapped initialisation compiles
    # every primitive of every parameter shape on its own (~100 small programs).
    self._init_group = jax.jit(self._init_group_impl)

  # ------------------------------------------------------------------ state
  def init_state(self, encodings: np.ndarray) -> dict:
    """Stacked ``{"params": [G, ...], "opt_state": [G, ...]}`` of a group."""
    enc = np.asarray(encodings, np.int32)
    keys = jnp.stack([candidate_key(self.config.seed, e) for e in enc])
    return self._init_group(keys)

  def _init_group_impl(self, keys: jax.Array) -> dict:
    params = jax.vmap(lambda k: tn.init_params(self.body, k, self.data.num_classes))(keys)
    return {"params": params, "opt_state": jax.vmap(self.tx.init)(params)}

  # ------------------------------------------------------------------ steps
  def candidate_step(self, params, opt_state, ops, x, y):
    """One SGD/AdamW step of one candidate on a batch: ``(params, opt_state, loss)``."""
    def loss_fn(p):
      out = tn.logits(p, x, ops, self.body, self.config.edge_mode)
      return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(out, y))
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = self.tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  def group_step(self, state: dict, ops: jax.Array, x: jax.Array, y: jax.Array):
    """:meth:`candidate_step` of every candidate of a group on the same batch.

    Returns:
      ``(state, losses [G])``.
    """
    step = lambda p, o, e: self.candidate_step(p, o, e, x, y)
    if self.config.execution.startswith("vmap"):
      params, opt_state, loss = jax.vmap(step)(state["params"], state["opt_state"], ops)
    else:
      params, opt_state, loss = jax.lax.map(lambda a: step(*a),
                                            (state["params"], state["opt_state"], ops))
    return {"params": params, "opt_state": opt_state}, loss

  def epoch_order(self, epoch) -> jax.Array:
    """The order ``[N]`` in which an epoch visits the training images (seed, epoch)."""
    base = jax.random.key(self.config.seed + 1)
    return jax.random.permutation(jax.random.fold_in(base, epoch), self._train_x.shape[0])

  def batch(self, epoch, step, order: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Images ``[B, S, S, C]`` and labels ``[B]`` of one step (a function of seed, epoch, step).

    ``order``: :meth:`epoch_order` of ``epoch``, when the caller has it already.
    """
    cfg = self.config
    order = self.epoch_order(epoch) if order is None else order
    idx = jax.lax.dynamic_slice_in_dim(order, step * cfg.batch_size, cfg.batch_size)
    x, y = self._train_x[idx], self._train_y[idx]
    if cfg.augment:
      key = jax.random.fold_in(jax.random.fold_in(jax.random.key(cfg.seed + 2), epoch), step)
      x = images_lib.random_crop_flip(key, x)
    return x, y

  def _train_epoch_impl(self, state, ops, epoch):
    self.num_traces += 1  # runs only while tracing

    order = self.epoch_order(epoch)

    def body(state, step):
      x, y = self.batch(epoch, step, order)
      return self.group_step(state, ops, x, y)
    state, losses = jax.lax.scan(body, state, jnp.arange(self.steps_per_epoch))
    return state, jnp.mean(losses, axis=0)

  def _evaluate_impl(self, params, ops):
    cfg = self.config
    n = self._eval_x.shape[0]
    chunks = [(lo, min(lo + cfg.eval_batch, n)) for lo in range(0, n, cfg.eval_batch)]

    def one(args):
      p, e = args
      correct = 0
      for lo, hi in chunks:
        out = tn.logits(p, self._eval_x[lo:hi], e, self.body, cfg.edge_mode)
        correct = correct + jnp.sum(jnp.argmax(out, -1) == self._eval_y[lo:hi])
      return correct / n
    if cfg.execution.startswith("vmap"):
      return jax.vmap(lambda p, e: one((p, e)))(params, ops)
    return jax.lax.map(one, (params, ops))

  def train_epoch(self, state: dict, encodings: np.ndarray, epoch: int):
    """One epoch of a group: ``(state, mean training loss [G])``."""
    return self._train_epoch(state, jnp.asarray(encodings, jnp.int32), jnp.int32(epoch))

  def evaluate(self, params, encodings: np.ndarray) -> np.ndarray:
    """Held-out accuracy ``[G]`` of a group's current weights."""
    return np.asarray(self._evaluate(params, jnp.asarray(encodings, jnp.int32)), np.float64)

  # ------------------------------------------------------------------ whole group
  def train_group(self, encodings: np.ndarray, *,
                  checkpointer: checkpoint_lib.Checkpointer | None = None,
                  log: Callable[[str], None] | None = None,
                  stop_after_epochs: int | None = None) -> dict | None:
    """Trains a group for the whole budget, resuming from ``checkpointer``'s latest epoch.

    Args:
      encodings: int ``[G, E]`` candidates (``G <= group_size``; a short group
        is padded with copies of its first candidate, so every group has one
        shape and one compilation).
      checkpointer: saves the group after every epoch; its latest epoch is
        restored first.
      log: progress lines.
      stop_after_epochs: stop after this many epochs of this call (resume tests).

    Returns:
      ``{"accuracy": [G], "curves": [G, epochs] held-out accuracy per epoch,
      "train_loss": [G, epochs], "seconds": wall seconds of the group}``, or
      None when stopped early.
    """
    enc = np.asarray(encodings, np.int32)
    g = enc.shape[0]
    if enc.ndim != 2 or enc.shape[1] != self.space.num_positions or not 1 <= g <= \
        self.config.group_size:
      raise errors.WrongLengthError(
          f"expected a group [1..{self.config.group_size}, {self.space.num_positions}], got "
          f"shape {enc.shape}")
    padded = np.concatenate([enc, np.repeat(enc[:1], self.config.group_size - g, axis=0)])
    state = self.init_state(padded)
    epoch, curves, losses, seconds = 0, [], [], 0.0
    if checkpointer is not None:
      restored = checkpointer.restore_latest(state, fingerprint=self.fingerprint)
      if restored is not None:
        epoch, state, meta = restored
        if meta.get("encodings") != padded.tolist():
          raise errors.CheckpointError(
              f"{checkpointer.directory} holds a different group of candidates; use a fresh "
              "workdir")
        curves, losses, seconds = meta["curves"], meta["train_loss"], meta["seconds"]
    done = 0
    while epoch < self.config.epochs:
      if stop_after_epochs is not None and done >= stop_after_epochs:
        return None
      t0 = time.perf_counter()
      state, loss = self.train_epoch(state, padded, epoch)
      acc = self.evaluate(state["params"], padded)
      seconds += time.perf_counter() - t0
      epoch += 1
      done += 1
      curves.append(acc.tolist())
      losses.append(np.asarray(loss, np.float64).tolist())
      if log:
        log(f"  epoch {epoch}/{self.config.epochs}  held-out acc mean {acc[:g].mean():.3f} "
            f"max {acc[:g].max():.3f}  loss {np.mean(losses[-1][:g]):.3f}  {seconds:.0f}s")
      if checkpointer is not None:
        checkpointer.save(epoch, state, {"fingerprint": self.fingerprint,
                                         "encodings": padded.tolist(), "curves": curves,
                                         "train_loss": losses, "seconds": seconds})
    curves_arr = np.asarray(curves, np.float64).T[:g]
    return {"accuracy": curves_arr[:, -1], "curves": curves_arr,
            "train_loss": np.asarray(losses, np.float64).T[:g], "seconds": seconds}


# Trainers by what they compute (config, space, image content): a resumed, repeated or
# second run in the same process reuses their traced and compiled programs.
_SHARED: dict[str, GroupTrainer] = {}


def shared_trainer(space: cell_lib.CellSpace, config: TrainingConfig,
                   data: TrainingData) -> GroupTrainer:
  """The process's :class:`GroupTrainer` of ``(space, config, data)`` (built once)."""
  key = config.fingerprint(space, data)
  if key not in _SHARED:
    _SHARED[key] = GroupTrainer(space, config, data)
  return _SHARED[key]


def short_group_trainers(make: Callable[[int], GroupTrainer],
                         group_size: int) -> Callable[[int], GroupTrainer]:
  """``trainer_for(n)``: the trainer of a short group of ``n <= group_size`` candidates.

  A candidate's training depends only on (seed, architecture), not on its
  group, so a short group (the last of a list, a rung's survivors) may train
  with a smaller trainer instead of padding with copies, each of which costs as
  much as a candidate. The size is ``n`` rounded up to a power of two, used only
  when that at least halves the group (otherwise ``group_size``, padded): at
  most ``log2(group_size)`` extra compilations, each bought by at least half a
  group's work on every such group.

  Args:
    make: builds the trainer of a group size (e.g. cached per size).
    group_size: the full group size.
  """
  def trainer_for(n: int) -> GroupTrainer:
    size = 1 << max(0, int(n) - 1).bit_length()
    return make(size if size <= group_size // 2 else group_size)
  return trainer_for
