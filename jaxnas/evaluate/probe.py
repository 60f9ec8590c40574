"""Closed-form linear probes on frozen features, and the NASWOT score.

The ridge probe follows big_vision's few-shot evaluator
(``big_vision/evaluators/fewshot_lsr.py``): regress one-hot labels on the
features in closed form. The ``d x d`` covariance of the (standardised) fit
features is eigendecomposed once, ``G = V diag(s) V^T``; then for any ridge
strength ``lam`` the weights are ``W = V diag(1 / (s + lam)) V^T X^T Y`` —
a rescaling of one cached ``V^T X^T Y``, so a grid of strengths costs no more
than one. Everything is a pure function of arrays, vmappable over candidates
and seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

__all__ = ["naswot_score", "ridge_probe"]

def ridge_probe(fit_x: jax.Array, fit_y: jax.Array, eval_x: jax.Array, eval_y: jax.Array, *,
                num_classes: int, ridges: Sequence[float]) -> dict[str, jax.Array]:
  """Held-out accuracy of ridge regression onto one-hot labels.

  Features are centred and scaled by the fit set's statistics (so ridge
  strengths are relative to unit feature variance, whatever the network's
  activation scale), then ``W = (X^T X / n + lam I)^-1 X^T Y / n`` with a bias
  from centring. Constant features (e.g. a cell whose output is unreachable)
  give the majority-class prediction.

  Args:
    fit_x: float ``[n, d]`` features of the fit images.
    fit_y: int ``[n]`` labels.
    eval_x: float ``[m, d]`` features of the held-out images.
    eval_y: int ``[m]`` labels.
    num_classes: number of classes.
    ridges: ridge strengths ``[R]``.

  Returns:
    ``{"accuracy": [R], "mse": [R], "loo_accuracy": [R], "loo_mse": [R]}``:
    held-out accuracy and mean squared error of the one-hot regression, per
    ridge strength; and the same two measured by leave-one-out on the fit
    images, in closed form (``loo residual = residual / (1 - h_ii)`` with the
    hat-matrix diagonal ``h_ii`` from the cached eigendecomposition), so every
    fit image is also a held-out image at no extra forward cost.
  """
  fit_x = fit_x.astype(jnp.float32)
  eval_x = eval_x.astype(jnp.float32)
  n = fit_x.shape[0]
  mu = jnp.mean(fit_x, axis=0)
  var = jnp.mean(jnp.square(fit_x - mu), axis=0)
  # Zero-variance features carry nothing: scale them by 1 so they stay 0.
  scale = jnp.where(var > 1e-12, jax.lax.rsqrt(jnp.maximum(var, 1e-12)), 1.0)
  xs = (fit_x - mu) * scale
  xe = (eval_x - mu) * scale
  y1 = jax.nn.one_hot(fit_y, num_classes, dtype=jnp.float32)
  ymean = jnp.mean(y1, axis=0)
  gram = xs.T @ xs / n
  s, v = jnp.linalg.eigh(gram)  # cached: every ridge below reuses (s, v)
  s = jnp.maximum(s, 0.0)
  proj = v.T @ (xs.T @ (y1 - ymean)) / n  # [d, classes]
  lam = jnp.asarray(ridges, jnp.float32)
  w = jnp.einsum("kd,rd,dc->rkc", v, 1.0 / (s[None, :] + lam[:, None]), proj)  # v[:, d]: eigvec d
  pred = jnp.einsum("md,rdc->rmc", xe, w) + ymean
  acc = jnp.mean(jnp.argmax(pred, axis=-1) == eval_y[None, :], axis=-1)
  ye = jax.nn.one_hot(eval_y, num_classes, dtype=jnp.float32)
  mse = jnp.mean(jnp.sum(jnp.square(pred - ye[None]), axis=-1), axis=-1)
  # Leave-one-out on the fit set. The centring (mu, ymean) is not redone per
  # left-out image: its 1/n share of the hat matrix is added to h_ii, the
  # usual generalised-cross-validation shortcut.
  xv = xs @ v  # [n, d]
  fit_pred = jnp.einsum("nd,rdc->rnc", xs, w) + ymean
  hat = jnp.einsum("nd,rd->rn", jnp.square(xv), 1.0 / (s[None, :] + lam[:, None])) / n + 1.0 / n
  loo_pred = y1[None] - (y1[None] - fit_pred) / (1.0 - jnp.minimum(hat, 1.0 - 1e-6))[..., None]
  loo_acc = jnp.mean(jnp.argmax(loo_pred, axis=-1) == fit_y[None, :], axis=-1)
  loo_mse = jnp.mean(jnp.sum(jnp.square(loo_pred - y1[None]), axis=-1), axis=-1)
  return {"accuracy": acc, "mse": mse, "loo_accuracy": loo_acc, "loo_mse": loo_mse}


def naswot_score(kernel: jax.Array) -> jax.Array:
  """NASWOT: ``log|det K|`` of the binary-code kernel ``[n, n]`` (Mellor et al. 2021)."""
  return jnp.linalg.slogdet(kernel.astype(jnp.float32))[1]
