"""A trained weight-sharing supernet for cell spaces (NAS-Bench-201, complete DAGs).

One-shot NAS with uniform single-path sampling (Guo et al., "Single Path
One-Shot Neural Architecture Search with Uniform Sampling", ECCV 2020), the
weak-label source of AceNAS (Zhang et al., "AceNAS: Learning to Rank Ace
Neural Architectures with Weak Supervision of Weight Sharing", ECML-PKDD
2021): every candidate of the space is a path through one set of shared
weights; training samples a few candidates per step and takes a gradient step
on their image loss; afterwards *every* candidate is evaluated with the shared
weights (held-out accuracy and loss), which labels the whole space cheaply.

The network is the one of :mod:`jaxnas.evaluate.random_weight_network`
(NB201's
skeleton; affine-free BN, as NB201's own weight-sharing baselines use) plus a
trained linear classifier on the pooled features. Two forward paths compute the
same function of the shared weights:

* **training** (:func:`mixed_logits`): per edge, the chosen conv is one 3x3
  conv whose kernel is ``m3 * W3 + m1 * pad(W1)`` for the candidate's one-hot
  op mask ``m`` (a 1x1 kernel padded to 3x3 is the same conv), plus ``m_skip *
  x + m_pool * pool(x)``. Exactly one mask entry is 1, so this equals the
  chosen op (an all-zero kernel gives BN(0) = 0). Every candidate then has the
  same static structure and ``vmap`` over candidates is plain batched work
  whose gradient is an ordinary conv gradient. (Differentiating the
  ``lax.switch`` fast path instead was ~20x slower than the forward pass on
  XLA:CPU.) Gradients reach only the chosen ops' weights.
* **evaluation sweeps** (:func:`switch_logits`): the committed
  ``random_weight_network.batch_forward`` (``lax.switch`` per candidate,
  first-cell
  terms shared by all candidates), forward only, in fixed-size jitted chunks.

BN always normalises with the statistics of the batch it sees: during training
the candidate's image batch, during evaluation all held-out images of the
sweep at once, so every candidate is evaluated with statistics recalibrated to
its own path on the held-out set (running statistics shared across paths are
meaningless in a weight-sharing supernet).

Training state (weights, optimiser state, step) is saved through
:mod:`jaxnas.checkpoint` every ``checkpoint_every`` steps; :meth:`SupernetTrainer.train`
resumes from the latest checkpoint of its directory. Candidates and image
batches of step ``t`` are functions of ``(seed, t)`` only, so a resumed run
continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnas import config_checks
from jaxnas import checkpoint as checkpoint_lib
from jaxnas import errors
from jaxnas import io_utils
from jaxnas.data import images as images_lib
from jaxnas.evaluate import random_weight_network as cs
from jaxnas.spaces import cell as cell_lib

__all__ = ["SupernetTrainConfig", "SupernetTrainer", "cross_entropy", "extract_subnet",
           "init_params", "load_images", "mixed_conv_kernel", "mixed_edge", "mixed_logits",
           "standalone_logits", "subnet_logits", "switch_logits"]


@dataclasses.dataclass(frozen=True)
class SupernetTrainConfig:
  """Shape and optimisation of the weight-sharing supernet.

  Attributes:
    channels: width ``C`` of the first stage.
    cells_per_stage: cells per stage.
    num_stages: stages (reduction blocks between them).
    image_size: images are average-pooled to ``image_size x image_size``.
    num_steps: optimisation steps.
    batch_size: images per step.
    candidates_per_step: uniformly sampled candidates per step (1: single path;
      more: a vmapped batch of paths on the same images, losses averaged).
    learning_rate: peak SGD (Nesterov momentum 0.9) learning rate, cosine decay.
    weight_decay: L2 weight decay.
    warmup_steps: linear warm-up.
    augment: random horizontal flips and crops (pad ``image_size // 8``).
    eval_images: held-out images (test split, class-balanced) of the sweep.
    eval_chunk: candidates per jitted sweep call.
    seed: weights, candidates, image batches.
  """

  channels: int = 16
  cells_per_stage: int = 1
  num_stages: int = 3
  image_size: int = 16
  num_steps: int = 1500
  batch_size: int = 64
  candidates_per_step: int = 1
  learning_rate: float = 0.05
  weight_decay: float = 5e-4
  warmup_steps: int = 50
  augment: bool = True
  eval_images: int = 256
  eval_chunk: int = 32
  seed: int = 0

  def __post_init__(self):
    config_checks.check_field_types(self)
    for name in ("channels", "cells_per_stage", "num_stages", "image_size", "num_steps",
                 "batch_size", "candidates_per_step", "eval_images", "eval_chunk"):
      config_checks.check_int(name, getattr(self, name))
    if 32 % self.image_size:
      raise errors.ConfigError(f"image_size={self.image_size} must divide 32 (CIFAR-10)")
    if self.image_size % 2 ** (self.num_stages - 1):
      raise errors.ConfigError(
          f"image_size={self.image_size} cannot be halved num_stages - 1 = "
          f"{self.num_stages - 1} times (num_stages={self.num_stages})")
    if not (self.learning_rate > 0 and self.weight_decay >= 0):
      raise errors.ConfigError(
          f"learning_rate must be > 0 and weight_decay >= 0, got "
          f"learning_rate={self.learning_rate!r}, weight_decay={self.weight_decay!r}")

  def net_config(self, space: cell_lib.CellSpace) -> cs.SupernetConfig:
    return cs.SupernetConfig.for_space(
        space, channels=self.channels, cells_per_stage=self.cells_per_stage,
        num_stages=self.num_stages, batch_norm="batch", features="last", naswot_images=0,
        kernel_init="he_over_edges")  # the init the cached weak-label tables were trained from

  def fingerprint(self, space: cell_lib.CellSpace) -> str:
    d = dataclasses.asdict(self)
    d.pop("eval_chunk")
    d["space"] = [space.num_nodes, list(space.ops)]
    return io_utils.fingerprint(d)


# --------------------------------------------------------------------------- parameters
def init_params(config: cs.SupernetConfig, key: jax.Array, num_classes: int = 10) -> dict:
  """``{"net": cs.init_params(...), "head": {"w": [F, classes], "b": [classes]}}``."""
  return {"net": cs.init_params(config, key),
          "head": {"w": jnp.zeros((config.feature_dim, num_classes), jnp.float32),
                   "b": jnp.zeros((num_classes,), jnp.float32)}}


def mixed_conv_kernel(kinds: tuple[str, ...], cell_params: dict, edge: int,
                 mask: jax.Array) -> tuple[jax.Array, jax.Array] | None:
  """The candidate's conv kernel on one edge and the mask of "a conv was chosen"."""
  conv_ids = [k for k, kind in enumerate(kinds) if kind in cs.CONV_KINDS]
  if not conv_ids:
    return None
  size = 3 if "conv3" in kinds else 1
  kernel = 0.0
  for k in conv_ids:
    w = cell_params[kinds[k]][edge]
    if w.shape[0] < size:  # 1x1 kernel as the centre of a 3x3 one: the same conv
      w = jnp.pad(w, ((1, 1), (1, 1), (0, 0), (0, 0)))
    kernel = kernel + mask[k] * w
  return kernel, sum(mask[k] for k in conv_ids)


def mixed_edge(kinds: tuple[str, ...], bn: str, cell_params: dict, masks: jax.Array,
               cell_bn: dict | None = None):
  """``(edge, total, h) -> total + op(h)`` from one-hot op masks ``[E, K]`` (module docstring).

  ``cell_bn`` (``{conv kind: {"scale": [E, c], "bias": [E, c]}}``, the trained
  networks' learned BN parameters) mixes the chosen conv's BN affine the same
  way; None is the supernet's affine-free BN.
  """
  conv_ids = [k for k, kind in enumerate(kinds) if kind in cs.CONV_KINDS]

  def accumulate(e, total, h):
    m = masks[e]
    conv = mixed_conv_kernel(kinds, cell_params, e, m)
    if conv is not None:
      affine = None if cell_bn is None else {
          part: sum(m[k] * cell_bn[kinds[k]][part][e] for k in conv_ids)
          for part in ("scale", "bias")}
      total = total + conv[1] * cs.relu_conv_bn(h, conv[0], bn, affine=affine)
    for k, kind in enumerate(kinds):
      if kind == "skip":
        total = total + m[k] * h
      elif kind == "pool":
        total = total + m[k] * cs.avg_pool3(h)
    return total
  return accumulate


def _mixed_cell(cell_params: dict, x: jax.Array, mask: jax.Array,
                config: cs.SupernetConfig) -> jax.Array:
  """One cell of one candidate from its one-hot op mask ``[E, K]`` (see module docstring)."""
  accumulate = mixed_edge(config.kinds, config.batch_norm, cell_params, mask)
  return cs.cell_nodes(x, config.num_nodes, accumulate)[-1]


def mixed_logits(params: dict, images: jax.Array, encodings: jax.Array,
                 config: cs.SupernetConfig) -> jax.Array:
  """Logits ``[B, N, classes]`` of candidates ``[B, E]`` (training path, differentiable)."""
  masks = jax.nn.one_hot(encodings, len(config.ops), dtype=jnp.float32)  # [B, E, K]
  net, bn = params["net"], config.batch_norm
  x0 = cs.stem(net, images, bn)  # the stem does not depend on the candidate

  def one(mask):
    x = x0
    for s in range(config.num_stages):
      if s > 0:
        x, _ = cs.reduction_block(net["reductions"][s - 1], x, bn)
      for c in range(config.cells_per_stage):
        x = _mixed_cell(net["cells"][s * config.cells_per_stage + c], x, mask, config)
    return cs.pooled(x, bn) @ params["head"]["w"] + params["head"]["b"]

  return jax.vmap(one)(masks)


def switch_logits(params: dict, images: jax.Array, encodings: jax.Array,
                  config: cs.SupernetConfig) -> jax.Array:
  """Logits ``[B, N, classes]`` through ``cs.batch_forward`` (sweep path)."""
  feats, _ = cs.batch_forward(params["net"], images, encodings, config)
  return feats @ params["head"]["w"] + params["head"]["b"]


def standalone_logits(params: dict, images: jax.Array, encoding, config: cs.SupernetConfig
                      ) -> jax.Array:
  """Logits ``[N, classes]`` of one candidate built directly (only its ops)."""
  feats, _ = cs.single_forward(params["net"], images, encoding, config)
  return feats @ params["head"]["w"] + params["head"]["b"]


def extract_subnet(params: dict, encoding, config: cs.SupernetConfig) -> dict:
  """The weights a directly built network of ``encoding`` owns (a copy).

  Returns ``{"stem", "reductions", "head", "cells": [per cell {edge: {kind: kernel}}]}``
  holding only the chosen conv kernels; :func:`subnet_logits` runs it.
  """
  ops = [int(o) for o in np.asarray(encoding).reshape(-1)]
  kinds = config.kinds
  cells = []
  for cp in params["net"]["cells"]:
    cells.append({e: {kinds[o]: jnp.array(cp[kinds[o]][e])} for e, o in enumerate(ops)
                  if kinds[o] in cs.CONV_KINDS})
  return {"stem": jnp.array(params["net"]["stem"]),
          "reductions": jax.tree.map(jnp.array, params["net"]["reductions"]),
          "head": jax.tree.map(jnp.array, params["head"]), "cells": cells, "ops": ops}


def subnet_logits(subnet: dict, images: jax.Array, config: cs.SupernetConfig) -> jax.Array:
  """Forward pass of an extracted standalone network ``[N, classes]``."""
  bn, kinds, ops = config.batch_norm, config.kinds, subnet["ops"]
  x = cs.batch_norm(cs.conv(images, subnet["stem"]), bn)
  for s in range(config.num_stages):
    if s > 0:
      x, _ = cs.reduction_block(subnet["reductions"][s - 1], x, bn)
    for c in range(config.cells_per_stage):
      own = subnet["cells"][s * config.cells_per_stage + c]

      def accumulate(e, total, h, own=own):
        kind = kinds[ops[e]]
        if kind == "skip":
          return total + h
        if kind == "pool":
          return total + cs.avg_pool3(h)
        if kind in cs.CONV_KINDS:
          return total + cs.batch_norm(cs.conv(jax.nn.relu(h), own[e][kind]), bn)
        return total
      x = cs.cell_nodes(x, config.num_nodes, accumulate)[-1]
  return cs.pooled(x, bn) @ subnet["head"]["w"] + subnet["head"]["b"]


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Per-image cross-entropy ``[..., N]`` of logits ``[..., N, classes]`` (labels broadcast)."""
  logp = jax.nn.log_softmax(logits)
  labels = jnp.broadcast_to(labels, logits.shape[:-1])
  return -jnp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]


# --------------------------------------------------------------------------- data
def load_images(config: SupernetTrainConfig, images_dir=None, *,
                train: images_lib.ImageSet | None = None,
                test: images_lib.ImageSet | None = None):
  """Normalised ``(train_x, train_y, eval_x, eval_y)`` at ``config.image_size``.

  Real CIFAR-10 from ``images_dir`` (see :func:`jaxnas.data.paths.images_dir`)
  unless ``train``/``test`` image sets are given (tests pass synthetic ones).
  """
  train = train if train is not None else images_lib.load_cifar10_npz("train", images_dir)
  test = test if test is not None else images_lib.load_cifar10_npz("test", images_dir)
  if config.eval_images > len(test):
    raise errors.ConfigError(
        f"eval_images={config.eval_images} exceeds the {len(test)} held-out images")
  test = test.stratified(config.eval_images, config.seed)
  prep = lambda s: images_lib.normalize(images_lib.downsample(s, config.image_size).x)
  return prep(train), train.y.astype(np.int32), prep(test), test.y.astype(np.int32)


# --------------------------------------------------------------------------- trainer
class SupernetTrainer:
  """Trains the weight-sharing supernet of a cell space and sweeps its candidates.

  Args:
    space: a cell space (``nb201``, ``complete_dag:N``).
    config: supernet shape and optimisation.
    train_x, train_y: normalised training images ``[N, H, W, 3]`` and labels.
    eval_x, eval_y: held-out images and labels of the sweep.
  """

  def __init__(self, space: cell_lib.CellSpace, config: SupernetTrainConfig,
               train_x: np.ndarray, train_y: np.ndarray, eval_x: np.ndarray,
               eval_y: np.ndarray):
    if not isinstance(space, cell_lib.CellSpace):
      raise errors.ConfigError(f"the supernet needs a cell space (nb201, complete_dag:N), got {space!r}")
    if len(train_x) < config.batch_size:
      raise errors.ConfigError(
          f"batch_size={config.batch_size} exceeds the {len(train_x)} training images")
    self.space = space
    self.config = config
    self.net = config.net_config(space)
    self.train_x = jnp.asarray(train_x, jnp.float32)
    self.train_y = jnp.asarray(train_y, jnp.int32)
    self.eval_x = jnp.asarray(eval_x, jnp.float32)
    self.eval_y = jnp.asarray(eval_y, jnp.int32)
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, config.learning_rate, min(config.warmup_steps, config.num_steps - 1),
        config.num_steps, end_value=0.0)
    self.tx = optax.chain(optax.add_decayed_weights(config.weight_decay),
                          optax.sgd(schedule, momentum=0.9, nesterov=True))
    self._step = jax.jit(self._step_impl)
    self._eval = jax.jit(self._eval_impl)
    # One program instead of one eager compile per primitive and parameter shape.
    self._init = jax.jit(self._init_impl)
    self.num_eval_traces = 0

  # ----------------------------------------------------------- training
  def init_state(self) -> dict:
    return self._init(jax.random.key(self.config.seed))

  def _init_impl(self, key: jax.Array) -> dict:
    params = init_params(self.net, key)
    return {"params": params, "opt_state": self.tx.init(params),
            "step": jnp.zeros((), jnp.int32)}

  def _candidates(self, step: int) -> np.ndarray:
    key = jax.random.fold_in(jax.random.key(self.config.seed + 1), step)
    return self.space.sample(key, self.config.candidates_per_step)

  def _step_impl(self, state, encodings, key):
    cfg = self.config
    k_idx, k_aug = jax.random.split(key)
    idx = jax.random.choice(k_idx, self.train_x.shape[0], (cfg.batch_size,), replace=False)
    x, y = self.train_x[idx], self.train_y[idx]
    if cfg.augment:
      x = images_lib.random_crop_flip(k_aug, x)

    def loss_fn(p):
      logits = mixed_logits(p, x, encodings, self.net)  # [K, N, classes]
      ce = cross_entropy(logits, y[None])
      acc = jnp.mean(jnp.argmax(logits, -1) == y[None])
      return jnp.mean(ce), acc

    (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    updates, opt_state = self.tx.update(grads, state["opt_state"], state["params"])
    new = {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state,
           "step": state["step"] + 1}
    return new, {"loss": loss, "accuracy": acc}

  def train(self, state: dict | None = None, *,
            checkpointer: checkpoint_lib.Checkpointer | None = None,
            checkpoint_every: int = 100, log: Callable[[str], None] | None = None,
            log_every: int = 50, stop_after: int | None = None) -> dict:
    """Trains to ``num_steps``, resuming from ``checkpointer``'s latest state.

    Args:
      state: initial state (default: fresh, or the latest checkpoint).
      checkpointer: where states are saved every ``checkpoint_every`` steps
        and at the end; its latest state is restored first.
      log: progress lines (step, loss, accuracy, steps/s).
      stop_after: stop after this many steps of this call (tests of resume).

    Returns:
      The final state ``{"params", "opt_state", "step"}``.
    """
    fp = self.config.fingerprint(self.space)
    state = state or self.init_state()
    if checkpointer is not None:
      restored = checkpointer.restore_latest(state, fingerprint=fp)
      if restored is not None:
        step, state, _ = restored
        if log:
          log(f"supernet: resumed from step {step}")
    step = int(state["step"])
    base_key = jax.random.key(self.config.seed + 2)
    t0, start, run_loss, run_acc, n = time.time(), step, 0.0, 0.0, 0
    done = 0
    while step < self.config.num_steps and (stop_after is None or done < stop_after):
      enc = jnp.asarray(self._candidates(step))
      state, info = self._step(state, enc, jax.random.fold_in(base_key, step))
      step += 1
      done += 1
      run_loss += float(info["loss"])
      run_acc += float(info["accuracy"])
      n += 1
      if log and (step % log_every == 0 or step == self.config.num_steps):
        rate = (step - start) / max(time.time() - t0, 1e-9)
        log(f"supernet step {step}/{self.config.num_steps}  loss {run_loss / n:.4f}  "
            f"train acc {run_acc / n:.3f}  {rate:.2f} steps/s  "
            f"eta {(self.config.num_steps - step) / max(rate, 1e-9):.0f}s")
        run_loss, run_acc, n = 0.0, 0.0, 0
      if checkpointer is not None and (step % checkpoint_every == 0
                                       or step == self.config.num_steps):
        checkpointer.save(step, state, {"fingerprint": fp})
    return state

  # ----------------------------------------------------------- sweep
  def _eval_impl(self, params, encodings):
    self.num_eval_traces += 1  # runs only while tracing
    logits = switch_logits(params, self.eval_x, encodings, self.net)  # [B, N, classes]
    acc = jnp.mean(jnp.argmax(logits, -1) == self.eval_y[None], axis=-1)
    loss = jnp.mean(cross_entropy(logits, self.eval_y[None]), axis=-1)
    return acc, loss

  def evaluate(self, params: dict, encodings: np.ndarray, *,
               progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """Held-out accuracy and loss of every candidate with the shared weights.

    Args:
      params: trained supernet parameters (``state["params"]``).
      encodings: int ``[N, E]`` candidates.
      progress: optional ``(done, total)`` callback after each chunk.

    Returns:
      ``{"accuracy": [N], "loss": [N]}`` (float64).
    """
    enc = np.asarray(encodings, np.int32)
    if enc.ndim != 2 or enc.shape[1] != self.space.num_positions:
      raise errors.WrongLengthError(
          f"expected encodings [N, {self.space.num_positions}], got shape {enc.shape}")
    c = self.config.eval_chunk
    accs, losses = [], []
    for lo in range(0, enc.shape[0], c):
      chunk = enc[lo:lo + c]
      m = chunk.shape[0]
      if m < c:  # pad with copies: one shape, one compile
        chunk = np.concatenate([chunk, np.repeat(chunk[:1], c - m, axis=0)])
      acc, loss = self._eval(params, jnp.asarray(chunk))
      accs.append(np.asarray(acc)[:m])
      losses.append(np.asarray(loss)[:m])
      if progress is not None:
        progress(lo + m, enc.shape[0])
    cat = lambda v: np.concatenate(v).astype(np.float64) if v else np.zeros(0)
    return {"accuracy": cat(accs), "loss": cat(losses)}
