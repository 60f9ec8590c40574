"""Random-weight evaluation (RWE): score architectures with a frozen random net.

Hu et al., "Accelerating Multi-Objective Neural Architecture Search by
Random-Weight Evaluation" (2021): keep a candidate network's weights random,
fit only a linear read-out on its features, and use the read-out's held-out
accuracy as a seconds-cheap estimate of the architecture's quality.

Here all candidates share one set of random weights
(:mod:`jaxnas.evaluate.random_weight_network`); a batch of candidates
``[B, E]`` runs in one jitted call that also fits the closed-form ridge probe
(:mod:`jaxnas.evaluate.probe`) of every candidate and computes its NASWOT
score from the same forward pass. :class:`RandomWeightEvaluator` splits any
number of candidates into fixed-size batches (the last one padded), so a sweep
of the whole space compiles once.

What makes the probe rank NB201 cells (README, "Random-weight evaluation"):
one random draw of a narrow network is mostly weight noise — on 300 cells
the probe scores of two He-initialised draws agree at Kendall tau 0.28-0.50,
and one draw ranks the cells at 0.18-0.46 — so the evaluator draws
``weight_seeds`` networks per candidate and fits ONE probe on their features
side by side (``combine_seeds="concat"``: a wider random network made of
independent channel groups), with orthogonal kernels (fewer degenerate draws),
inference-mode BN, and leave-one-out -MSE over the fit images as the score.
Features are pooled from every stage **and from every edge of the first cell**
(``features="stages_edges"``): with stage outputs alone the probe cannot tell
a cell of few paths from one of many (a ``none`` edge costs a random network
no feature quality, a trained one depth and capacity) and ranks 1,000 cells at
tau 0.58, level with the parameter count; the edge taps let it count the
distinct random features a cell makes, and the defaults reach 0.65 (README).
"""

from __future__ import annotations

import functools

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import errors
from jaxnas.data import images as images_lib
from jaxnas.evaluate import cell_costs
from jaxnas.evaluate import random_weight_network as rwn
from jaxnas.evaluate import probe
from jaxnas.evaluate import rwe_config
from jaxnas.evaluate import xla_cpu
from jaxnas.spaces import base
from jaxnas.spaces import cell as cell_lib

__all__ = ["RIDGE_REDUCTIONS", "RandomWeightEvaluator", "SCORE_KINDS", "SEED_COMBINES",
           "per_ridge_scores"]

# The settings and their choices live in rwe_config (one place); re-exported here.
RIDGE_REDUCTIONS = rwe_config.RIDGE_REDUCTIONS
SEED_COMBINES = rwe_config.SEED_COMBINES
SCORE_KINDS = rwe_config.SCORE_KINDS
RWEConfig = rwe_config.RWEConfig


def per_ridge_scores(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Every score kind ``[N, R]`` (higher is better) from a ``score_all`` result."""
  return {kind: sign * out[key] for kind, (key, sign) in SCORE_KINDS.items()}


@functools.partial(jax.jit, static_argnums=0)
def _init_weight_seeds(config: rwn.SupernetConfig, keys: jax.Array):
  """Random weights of every weight seed, stacked ``[S, ...]`` (one compiled program:
  run eagerly, each primitive of each parameter shape compiles on its own)."""
  return jax.vmap(lambda k: rwn.init_params(config, k))(keys)


class RandomWeightEvaluator:
  """Scores architectures of a cell space by a random-weight linear probe.

  Args:
    space: a :class:`~jaxnas.spaces.CellSpace` (``nb201``, ``complete_dag:N``).
    fit_images: images whose features fit the ridge probe.
    eval_images: held-out images; probe accuracy on them is the score.
    config: every setting (:class:`~jaxnas.evaluate.rwe_config.RWEConfig`;
      default: the ``"quality"`` preset, the best ranking measured on NB201).
      Its ``image_size`` / ``num_*_images`` say how
      :func:`~jaxnas.evaluate.rwe_config.load_probe_images` picks the images;
      the evaluator uses the images it is given.
    num_classes: label classes.

  What the settings do (measured on NB201, docs/rwe.md): ``weight_seeds``
  independent random-weight draws per candidate; ``combine_seeds="concat"``
  fits one probe on the draws' features side by side (the features of a
  ``weight_seeds`` times wider random network whose channels form independent
  groups) — a single draw's probe is mostly weight noise (two draws' scores
  agree at Kendall tau 0.28-0.50), one probe over four draws' features ranks
  300 cells at 0.54-0.63 where averaging their four scores gives 0.57. The
  continuous ``*_mse`` scores order cells that tie on accuracy; the ``loo_*``
  ones score every fit image by leave-one-out (less noise for the same
  forward). ``parallel_candidates=0`` picks 1 on CPU (only the chosen op of
  each edge runs) and on GPU/TPU as many as fit an ~8 GB activation budget.
  """

  def __init__(self, space: base.Space, fit_images: images_lib.ImageSet,
               eval_images: images_lib.ImageSet,
               config: rwe_config.RWEConfig = rwe_config.RWEConfig(), *, num_classes: int = 10):
    if not isinstance(space, cell_lib.CellSpace):
      raise errors.ConfigError(
          f"RandomWeightEvaluator needs a cell space (nb201, complete_dag:N), got {space!r}")
    if not isinstance(config, rwe_config.RWEConfig):
      raise errors.ConfigError(f"config must be an RWEConfig, got {type(config).__name__}")
    if len(fit_images) < 2 or len(eval_images) < 1:
      raise errors.ConfigError(
          f"need >= 2 fit images and >= 1 eval image, got {len(fit_images)} and {len(eval_images)}")
    if fit_images.x.shape[1:] != eval_images.x.shape[1:]:
      raise errors.ConfigError(
          f"fit images {fit_images.x.shape[1:]} and eval images {eval_images.x.shape[1:]} "
          "differ in shape")
    self.space = space
    self.settings = config  # every probe setting; read, never copied
    self.config = rwn.SupernetConfig.for_space(space, **config.network_fields())  # the network
    self.parallel_candidates = config.parallel_candidates or self._auto_parallel()
    self.num_classes = num_classes
    self.num_fit = len(fit_images)
    self.num_eval = len(eval_images)
    x = np.concatenate([fit_images.x, eval_images.x])
    self.images = jnp.asarray(images_lib.normalize(x) if x.dtype == np.uint8 else x, jnp.float32)
    self.fit_y = jnp.asarray(fit_images.y, jnp.int32)
    self.eval_y = jnp.asarray(eval_images.y, jnp.int32)
    keys = jax.random.split(jax.random.key(config.seed), config.weight_seeds)
    self.params = _init_weight_seeds(self.config, keys)
    self.num_traces = 0  # how often the jitted step was traced (= compiled)
    # On CPU, convolutions go to XLA's Eigen path (faster here, see xla_cpu).
    self._step = jax.jit(self._step_impl, compiler_options=xla_cpu.eigen_conv_options())

  def _auto_parallel(self, budget_bytes: float = 8e9) -> int:
    """1 on CPU; on an accelerator as many candidates side by side as keep
    about 16 first-stage activations each (a vmapped cell holds every op's
    output) within ``budget_bytes``, at most ``batch_size``."""
    if jax.default_backend() == "cpu":
      return 1
    n, h, w, _ = self.images.shape
    per_candidate = 16 * n * h * w * self.config.channels * 4
    return int(max(1, min(self.settings.candidates_per_call, budget_bytes // per_candidate)))

  # ----------------------------------------------------------- jitted core
  def _step_impl(self, params, images, fit_y, eval_y, encodings):
    self.num_traces += 1  # Runs only while tracing: counts compilations.
    n_fit = self.num_fit
    config = self.config

    def forward(p):  # one draw: features [B, N, d], NASWOT [B]
      feats, gram = rwn.batch_forward(p, images, encodings, config,
                                                share_first_cell=self.settings.share_first_cell,
                                                parallel_candidates=self.parallel_candidates)
      nw = (jax.vmap(probe.naswot_score)(gram) if config.naswot_images
            else jnp.zeros(encodings.shape[0], jnp.float32))
      return feats, nw

    feats, nw = jax.lax.map(forward, params)  # [S, B, N, d], [S, B]
    if self.settings.combine_seeds == "concat":  # one probe on [B, N, S * d]
      s, b, n, d = feats.shape
      feats = jnp.moveaxis(feats, 0, 2).reshape(1, b, n, s * d)
    fit = functools.partial(probe.ridge_probe, num_classes=self.num_classes,
                            ridges=self.settings.ridges)
    per_candidate = jax.vmap(lambda f: fit(f[:n_fit], fit_y, f[n_fit:], eval_y))
    return jax.lax.map(per_candidate, feats), nw  # each [S or 1, B, ...]

  def features(self, encodings: base.Encodings, seed_index: int = 0) -> np.ndarray:
    """Features ``[B, N_fit + N_eval, feature_dim]`` of a few candidates (for checks)."""
    enc = self._check(encodings)
    p = jax.tree.map(lambda a: a[seed_index], self.params)
    feats, _ = rwn.batch_forward(p, self.images, jnp.asarray(enc), self.config,
                                           share_first_cell=self.settings.share_first_cell)
    return np.asarray(feats)

  # ----------------------------------------------------------- public API
  def _check(self, encodings) -> np.ndarray:
    enc = np.asarray(encodings)
    if enc.ndim != 2 or enc.shape[1] != self.space.num_positions:
      raise errors.WrongLengthError(
          f"{self.space.name}: expected encodings [N, {self.space.num_positions}], got shape "
          f"{enc.shape}")
    ok = base.Space.is_valid(self.space, enc)  # op ids in range; connectivity not needed
    if not np.all(ok):
      i = int(np.nonzero(~ok)[0][0])
      raise errors.InvalidArchitectureError(
          f"{self.space.name}: row {i} {enc[i].tolist()} has op ids outside "
          f"0..{len(self.space.ops) - 1}")
    return enc.astype(np.int32)

  def score_all(self, encodings: base.Encodings) -> dict[str, np.ndarray]:
    """Every signal for ``encodings`` ``[N, E]``.

    Returns:
      ``score [N]`` (``score_by``, reduced over ridges by ``ridge_reduce``;
      with ``combine_seeds="mean"`` every per-ridge value is a mean over
      weight seeds), ``probe_accuracy [N]``
      (held-out accuracy reduced the same way), ``probe_accuracy_per_ridge [N, R]``,
      ``probe_mse [N]`` (held-out MSE at the best ridge),
      ``probe_mse_per_ridge [N, R]``, ``loo_accuracy_per_ridge [N, R]`` and
      ``loo_mse_per_ridge [N, R]`` (leave-one-out on the fit images, see
      :func:`probe.ridge_probe`), ``naswot [N]``.
    """
    enc = self._check(encodings)
    n = enc.shape[0]
    probes, nws = [], []
    size = self.settings.candidates_per_call
    if self.settings.small_request_buckets and 0 < n < size:
      size = min(size, 1 << (n - 1).bit_length())  # next power of two
    for lo in range(0, n, size):
      chunk = enc[lo:lo + size]
      m = chunk.shape[0]
      if m < size:  # pad with copies so the shape (and the compile) stays
        chunk = np.concatenate([chunk, np.repeat(chunk[:1], size - m, axis=0)])
      out, nw = self._step(self.params, self.images, self.fit_y, self.eval_y, jnp.asarray(chunk))
      probes.append({k: np.asarray(v)[:, :m] for k, v in out.items()})
      nws.append(np.asarray(nw)[:, :m])
      # Long sweeps (minutes on a CPU) show they are alive.
      logging.log_every_n_seconds(logging.INFO, "random-weight probe: %d / %d candidates scored",
                                  60, lo + m, n)
    if n == 0:
      r = len(self.settings.ridges)
      return {"score": np.zeros(0), "probe_accuracy": np.zeros(0), "probe_accuracy_per_ridge": np.zeros((0, r)),
              "probe_mse": np.zeros(0), "probe_mse_per_ridge": np.zeros((0, r)),
              "loo_accuracy_per_ridge": np.zeros((0, r)), "loo_mse_per_ridge": np.zeros((0, r)),
              "naswot": np.zeros(0)}

    def joined(key):  # [N, R], mean over weight seeds (one "seed" when concatenated)
      return np.concatenate([p[key] for p in probes], axis=1).astype(np.float64).mean(axis=0)

    def reduce(per_ridge):  # [N, R] -> [N]
      if self.settings.ridge_reduce == "mean":
        return per_ridge.mean(axis=1)
      return per_ridge.max(axis=1)

    acc, mse = joined("accuracy"), joined("mse")
    out = {"probe_accuracy": reduce(acc), "probe_accuracy_per_ridge": acc,
           "probe_mse": mse.min(axis=1), "probe_mse_per_ridge": mse,
           "loo_accuracy_per_ridge": joined("loo_accuracy"),
           "loo_mse_per_ridge": joined("loo_mse"),
           "naswot": np.concatenate(nws, axis=1).astype(np.float64).mean(axis=0)}
    out["score"] = reduce(per_ridge_scores(out)[self.settings.score_by])
    return out

  def score(self, encodings: base.Encodings) -> np.ndarray:
    """The probe score ``[N]`` (``score_by``) of ``encodings`` ``[N, E]``; higher is better."""
    return self.score_all(encodings)["score"]

  __call__ = score
  evaluate = score  # the searchers' evaluator protocol: evaluate(encodings) -> scores

  def flops_per_candidate(self, encodings: base.Encodings) -> np.ndarray:
    """FLOPs ``[N]`` a directly built network spends on the evaluator's images."""
    h, w = self.images.shape[1:3]
    return cell_costs.network_flops(self.config, self._check(encodings), h, w,
                                       int(self.images.shape[0])) * self.settings.weight_seeds
