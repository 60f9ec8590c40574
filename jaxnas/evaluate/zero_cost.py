"""Zero-cost proxies of cell architectures, computed by jaxnas at initialisation.

All candidates share one set of random weights of the cell network of
:mod:`jaxnas.evaluate.random_weight_network`; a candidate only touches the
weights of
its own ops (``lax.switch``), so a gradient taken with respect to the *shared*
weights is exactly the gradient of the directly built network (zero on the
weights of ops it does not use). Proxies:

* ``naswot`` — log-determinant of the binary ReLU-code kernel (Mellor et al.,
  "Neural Architecture Search without Training", ICML 2021), from the same
  forward pass as ``snip``;
* ``snip`` — ``sum |theta * dL/dtheta|`` of the cross-entropy of a random linear
  read-out on a batch of labelled images (Lee et al., "SNIP", ICLR 2019, as a
  proxy: Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021);
* ``grad_norm`` — ``||dL/dtheta||_2`` of the same loss;
* ``synflow`` — ``log sum theta * dR/dtheta`` with ``|theta|`` weights, an
  all-ones input, BN off and ``R`` the sum of the outputs (Tanaka et al.,
  "Pruning neural networks without any data by iteratively conserving synaptic
  flow", NeurIPS 2020). All weights and activations are non-negative, so
  ``|theta * g| = theta * g`` and the sum is one forward-mode JVP with tangent
  ``theta`` (Euler: ``d/dt R((1 + t) theta)``) — no per-candidate gradient
  pytree. Reported as a logarithm (values grow exponentially with depth).

Everything runs in fixed-size jitted chunks (the last one padded), so a sweep
of a whole space compiles once per proxy.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import config_checks
from jaxnas import errors
from jaxnas.evaluate import random_weight_network as rwn
from jaxnas.evaluate import probe

__all__ = ["PROXIES", "ZeroCostConfig", "ZeroCostEvaluator", "naswot", "saliency", "synflow"]

PROXIES = ("naswot", "snip", "grad_norm", "synflow")


@dataclasses.dataclass(frozen=True)
class ZeroCostConfig:
  """Settings of the zero-cost proxies.

  Attributes:
    num_images: labelled images of the snip / grad-norm / NASWOT batch.
    synflow_size: side of the all-ones synflow input.
    chunk: candidates per jitted call.
    seed: seed of the random weights and read-out.
  """

  num_images: int = 64
  synflow_size: int = 16
  chunk: int = 32
  seed: int = 0

  def __post_init__(self):
    config_checks.check_field_types(self)
    for name in ("num_images", "synflow_size", "chunk"):
      config_checks.check_int(name, getattr(self, name))


def _readout(config: rwn.SupernetConfig, key: jax.Array, num_classes: int) -> jax.Array:
  """Random linear read-out ``[feature_dim, num_classes]`` (LeCun-normal)."""
  d = config.feature_dim
  return jax.random.normal(key, (d, num_classes), jnp.float32) / np.sqrt(d)


def saliency(params: rwn.Params, head: jax.Array, images: jax.Array, labels: jax.Array,
             encodings: jax.Array, config: rwn.SupernetConfig) -> dict[str, jax.Array]:
  """NASWOT, snip and grad-norm of candidates ``[B, E]`` (one forward + backward each).

  Args:
    params: shared random weights (:func:`rwn.init_params`).
    head: read-out ``[feature_dim, classes]``.
    images: float32 ``[N, H, W, C]``.
    labels: int ``[N]``.
    encodings: int32 ``[B, E]``.
    config: network shape; ``naswot_images`` sets the NASWOT kernel's size.

  Returns:
    ``{"naswot", "snip", "grad_norm"}``, each float32 ``[B]``.
  """
  def one(ops):
    def loss_fn(p, h):
      feats, gram = rwn.batch_forward(p, images, ops[None], config,
                                                share_first_cell=False)
      logits = feats[0] @ h
      ce = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1))
      return ce, gram[0]

    (_, gram), grads = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)(params, head)
    both = ((params, head), grads)
    leaves_p = jax.tree.leaves(both[0])
    leaves_g = jax.tree.leaves(both[1])
    snip = sum(jnp.sum(jnp.abs(p * g)) for p, g in zip(leaves_p, leaves_g))
    gnorm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in leaves_g))
    nw = probe.naswot_score(gram) if config.naswot_images else jnp.zeros((), jnp.float32)
    return {"naswot": nw, "snip": snip, "grad_norm": gnorm}

  return jax.lax.map(one, encodings)


def naswot(params: rwn.Params, images: jax.Array, encodings: jax.Array,
           config: rwn.SupernetConfig) -> jax.Array:
  """NASWOT ``[B]`` from the forward-only fast path (first-cell terms shared).

  ``-inf`` for cells whose kernel is singular (e.g. no input-output path).
  """
  _, gram = rwn.batch_forward(params, images, encodings, config)
  return jax.vmap(probe.naswot_score)(gram)


def synflow(params: rwn.Params, head: jax.Array, encodings: jax.Array,
            config: rwn.SupernetConfig, size: int) -> jax.Array:
  """``log`` synflow ``[B]`` of candidates ``[B, E]`` (see the module docstring)."""
  cfg = dataclasses.replace(config, batch_norm="none", naswot_images=0)
  ones = jnp.ones((1, size, size, cfg.in_channels), jnp.float32)
  absp = jax.tree.map(jnp.abs, (params, head))

  def total(p):
    feats, _ = rwn.batch_forward(p[0], ones, encodings, cfg, share_first_cell=False)
    return jnp.sum(feats[:, 0] @ p[1], axis=-1)  # R per candidate [B]

  _, tangent = jax.jvp(total, (absp,), (absp,))
  # Empty cells give R = 0; floor them below every connected cell.
  return jnp.log(jnp.maximum(tangent, 1e-30))


class ZeroCostEvaluator:
  """Every zero-cost proxy of any number of candidates, in fixed-size chunks.

  Args:
    config: the random network (``rwn.SupernetConfig``).
    images: float32 ``[N, H, W, C]`` normalised images (snip, NASWOT).
    labels: int ``[N]``.
    zc: proxy settings.
    num_classes: read-out classes.
  """

  def __init__(self, config: rwn.SupernetConfig, images: np.ndarray, labels: np.ndarray,
               zc: ZeroCostConfig = ZeroCostConfig(), *, num_classes: int = 10):
    if images.ndim != 4 or images.shape[0] != labels.shape[0]:
      raise errors.ConfigError(f"images {images.shape} and labels {labels.shape} do not match")
    self.config = config
    self.zc = zc
    k1, k2 = jax.random.split(jax.random.key(zc.seed))
    self.params = rwn.init_params(config, k1)
    self.head = _readout(config, k2, num_classes)
    self.images = jnp.asarray(images[:zc.num_images], jnp.float32)
    self.labels = jnp.asarray(labels[:zc.num_images], jnp.int32)
    self._saliency = jax.jit(lambda p, h, x, y, e: saliency(p, h, x, y, e, config))
    self._synflow = jax.jit(lambda p, h, e: synflow(p, h, e, config, zc.synflow_size))
    self._naswot = jax.jit(lambda p, x, e: naswot(p, x, e, config))

  def score_all(self, encodings: np.ndarray, proxies=PROXIES, *,
                progress=None) -> dict[str, np.ndarray]:
    """Proxies of ``encodings`` ``[N, E]``: ``{name: float64 [N]}``.

    Args:
      encodings: int op ids ``[N, E]``.
      proxies: names from :data:`PROXIES`. ``naswot`` alone takes the fast
        forward path (shared first cell); ``snip`` / ``grad_norm`` need a
        backward pass per candidate through ``lax.switch`` (~10-20x a forward
        on XLA:CPU) and bring ``naswot`` along for free.
      progress: optional callable ``(done, total)`` after every chunk.
    """
    unknown = [p for p in proxies if p not in PROXIES]
    if unknown:
      raise errors.ConfigError(f"unknown zero-cost proxies {unknown}; expected some of {PROXIES}")
    enc = np.asarray(encodings, np.int32)
    if enc.ndim != 2 or enc.shape[1] != len(self.config.edges):
      raise errors.WrongLengthError(
          f"expected encodings [N, {len(self.config.edges)}], got shape {enc.shape}")
    n, c = enc.shape[0], self.zc.chunk
    slow = any(p in ("snip", "grad_norm") for p in proxies)
    out = {k: [] for k in proxies}
    for lo in range(0, n, c):
      chunk = enc[lo:lo + c]
      m = chunk.shape[0]
      if m < c:  # pad with copies: one shape, one compile
        chunk = np.concatenate([chunk, np.repeat(chunk[:1], c - m, axis=0)])
      got = {}
      if slow:
        got.update(self._saliency(self.params, self.head, self.images, self.labels,
                                  jnp.asarray(chunk)))
      elif "naswot" in proxies:
        got["naswot"] = self._naswot(self.params, self.images, jnp.asarray(chunk))
      if "synflow" in proxies:
        got["synflow"] = self._synflow(self.params, self.head, jnp.asarray(chunk))
      for k in proxies:
        out[k].append(np.asarray(got[k])[:m])
      if progress is not None:
        progress(min(lo + c, n), n)
    return {k: (np.concatenate(v).astype(np.float64) if v else np.zeros(0)) for k, v in out.items()}
