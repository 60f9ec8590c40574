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
from collections.abc import Sequence

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import errors
from jaxnas.data import images as images_lib
from jaxnas.evaluate import random_weight_network as rwn
from jaxnas.evaluate import probe
from jaxnas.evaluate import xla_cpu
from jaxnas.spaces import base
from jaxnas.spaces import cell as cell_lib

RIDGE_REDUCTIONS = ("mean", "max")
# How the features of several random-weight draws of a candidate meet the probe.
SEED_COMBINES = ("concat", "mean")
# The evaluator's defaults are the settings measured best on NB201 (README,
# "Random-weight evaluation"); network fields not given fall back to these
# before SupernetConfig's own defaults.
DEFAULT_NET = {"channels": 16, "batch_norm": "none", "features": "stages_edges",
               "kernel_init": "orthogonal"}
DEFAULT_RIDGES = (1.0, 3.0, 10.0)
# What the score is: per ridge strength, a quality of the probe; higher is better.
# Each maps to (the score_all key of its per-ridge values, sign).
SCORE_KINDS = {
    "accuracy": ("probe_accuracy_per_ridge", 1.0),  # held-out accuracy (RWE's score)
    "neg_mse": ("probe_mse_per_ridge", -1.0),       # held-out one-hot regression error
    "loo_accuracy": ("loo_accuracy_per_ridge", 1.0),  # leave-one-out over the fit images
    "loo_neg_mse": ("loo_mse_per_ridge", -1.0),
}


def per_ridge_scores(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Every score kind ``[N, R]`` (higher is better) from a ``score_all`` result."""
  return {kind: sign * out[key] for kind, (key, sign) in SCORE_KINDS.items()}


class RandomWeightEvaluator:
  """Scores architectures of a cell space by a random-weight linear probe.

  Args:
    space: a :class:`~jaxnas.spaces.CellSpace` (``nb201``, ``complete_dag:N``).
    fit_images: images whose features fit the ridge probe.
    eval_images: held-out images; probe accuracy on them is the score.
    config: network shape; default ``SupernetConfig.for_space(space, **DEFAULT_NET, **net)``
      (C=16, inference-mode BN, features pooled from every stage and from every
      edge of the first cell, orthogonal kernels).
    weight_seeds: independent random-weight draws of every candidate's network.
    combine_seeds: ``"concat"`` (default) fits one probe on the draws'
      features side by side — the features of a ``weight_seeds`` times wider
      random network whose channels form independent groups; ``"mean"`` fits
      one probe per draw and averages the scores. Measured on NB201 (README),
      concatenating is what makes extra draws pay: a single draw's probe is
      mostly weight noise (two draws' scores agree at Kendall tau 0.28-0.50),
      and one probe over four draws' features ranks 300 cells at 0.54-0.63
      where averaging their four scores gives 0.57.
    seed: seed of the random weights.
    batch_size: candidates per jitted call (memory grows linearly with it).
    ridges: ridge strengths of the probe (relative to unit feature variance).
    ridge_reduce: ``"mean"`` (average over ``ridges``; smoother scores with
      fewer ties) or ``"max"`` (the best ridge).
    score_by: the score: ``"loo_neg_mse"`` (default), ``"accuracy"``
      (held-out accuracy, RWE's),
      ``"neg_mse"`` (minus held-out squared error of the one-hot regression),
      ``"loo_accuracy"`` / ``"loo_neg_mse"`` (the same by leave-one-out over
      the fit images: every fit image is also a held-out one, so the score is
      less noisy for the same forward cost). The continuous ``*_mse`` scores
      order cells that tie on accuracy.
    share_first_cell: see :func:`rwn.batch_forward`.
    parallel_candidates: candidates vmapped side by side inside a batch (see
      :func:`rwn.batch_forward`); ``None`` picks 1 on CPU (only the
      chosen op of each edge runs) and on GPU/TPU as many as fit an ~8 GB
      activation budget, at most ``batch_size`` (one convolution over every
      candidate's images). Not yet measured on an accelerator.
    small_request_buckets: pad a request of fewer than ``batch_size``
      candidates only to the next power of two, not to ``batch_size``. Off,
      every request compiles to one shape (a sweep compiles once); on, a
      searcher asking one candidate at a time (REA) pays for 1, not
      ``batch_size``, at the price of at most ``log2(batch_size)`` extra
      compilations, each once.
    num_classes: label classes.
    **net: fields of :class:`rwn.SupernetConfig` (``channels``,
      ``cells_per_stage``, ``batch_norm``, ``features``, ``naswot_images``...).
  """

  def __init__(self, space: base.Space, fit_images: images_lib.ImageSet,
               eval_images: images_lib.ImageSet, *,
               config: rwn.SupernetConfig | None = None, weight_seeds: int = 4,
               combine_seeds: str = "concat", seed: int = 0, batch_size: int = 32,
               ridges: Sequence[float] = DEFAULT_RIDGES, ridge_reduce: str = "mean",
               score_by: str = "loo_neg_mse", share_first_cell: bool = True,
               parallel_candidates: int | None = None, small_request_buckets: bool = False,
               num_classes: int = 10, **net):
    if not isinstance(space, cell_lib.CellSpace):
      raise errors.ConfigError(
          f"RandomWeightEvaluator needs a cell space (nb201, complete_dag:N), got {space!r}")
    if ridge_reduce not in RIDGE_REDUCTIONS:
      raise errors.ConfigError(
          f"ridge_reduce={ridge_reduce!r}; expected one of {list(RIDGE_REDUCTIONS)}")
    if combine_seeds not in SEED_COMBINES:
      raise errors.ConfigError(
          f"combine_seeds={combine_seeds!r}; expected one of {list(SEED_COMBINES)}")
    if score_by not in SCORE_KINDS:
      raise errors.ConfigError(f"score_by={score_by!r}; expected one of {list(SCORE_KINDS)}")
    counts = {"weight_seeds": weight_seeds, "batch_size": batch_size}
    if parallel_candidates is not None:  # None: chosen per backend below
      counts["parallel_candidates"] = parallel_candidates
    for name, value in counts.items():
      if not isinstance(value, (int, np.integer)) or value < 1:
        raise errors.ConfigError(f"{name} must be a positive int, got {value!r}")
    if not ridges or any(r <= 0 for r in ridges):
      raise errors.ConfigError(f"ridges must be positive strengths, got {list(ridges)!r}")
    if len(fit_images) < 2 or len(eval_images) < 1:
      raise errors.ConfigError(
          f"need >= 2 fit images and >= 1 eval image, got {len(fit_images)} and {len(eval_images)}")
    if fit_images.x.shape[1:] != eval_images.x.shape[1:]:
      raise errors.ConfigError(
          f"fit images {fit_images.x.shape[1:]} and eval images {eval_images.x.shape[1:]} "
          "differ in shape")
    self.space = space
    self.config = config or rwn.SupernetConfig.for_space(space, **{**DEFAULT_NET, **net})
    if config is not None and net:
      raise errors.ConfigError(
          f"pass either config or network fields, not both (got {sorted(net)})")
    if self.config.num_nodes != space.num_nodes or tuple(self.config.ops) != tuple(space.ops):
      raise errors.ConfigError(f"config {self.config} does not match the space {space!r}")
    self.batch_size = int(batch_size)
    self.weight_seeds = int(weight_seeds)
    self.combine_seeds = combine_seeds
    self.ridges = tuple(float(r) for r in ridges)
    self.ridge_reduce = ridge_reduce
    self.score_by = score_by
    self.share_first_cell = share_first_cell
    self.small_request_buckets = bool(small_request_buckets)
    self.parallel_candidates = (int(parallel_candidates) if parallel_candidates is not None
                                else self._auto_parallel())
    self.num_classes = num_classes
    self.num_fit = len(fit_images)
    self.num_eval = len(eval_images)
    x = np.concatenate([fit_images.x, eval_images.x])
    self.images = jnp.asarray(images_lib.normalize(x) if x.dtype == np.uint8 else x, jnp.float32)
    self.fit_y = jnp.asarray(fit_images.y, jnp.int32)
    self.eval_y = jnp.asarray(eval_images.y, jnp.int32)
    keys = jax.random.split(jax.random.key(seed), self.weight_seeds)
    self.params = jax.vmap(lambda k: rwn.init_params(self.config, k))(keys)
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
    return int(max(1, min(self.batch_size, budget_bytes // per_candidate)))

  # ----------------------------------------------------------- jitted core
  def _step_impl(self, params, images, fit_y, eval_y, encodings):
    self.num_traces += 1  # Runs only while tracing: counts compilations.
    n_fit = self.num_fit
    config = self.config

    def forward(p):  # one draw: features [B, N, d], NASWOT [B]
      feats, gram = rwn.batch_forward(p, images, encodings, config,
                                                share_first_cell=self.share_first_cell,
                                                parallel_candidates=self.parallel_candidates)
      nw = (jax.vmap(probe.naswot_score)(gram) if config.naswot_images
            else jnp.zeros(encodings.shape[0], jnp.float32))
      return feats, nw

    feats, nw = jax.lax.map(forward, params)  # [S, B, N, d], [S, B]
    if self.combine_seeds == "concat":  # one probe on [B, N, S * d]
      s, b, n, d = feats.shape
      feats = jnp.moveaxis(feats, 0, 2).reshape(1, b, n, s * d)
    fit = functools.partial(probe.ridge_probe, num_classes=self.num_classes, ridges=self.ridges)
    per_candidate = jax.vmap(lambda f: fit(f[:n_fit], fit_y, f[n_fit:], eval_y))
    return jax.lax.map(per_candidate, feats), nw  # each [S or 1, B, ...]

  def features(self, encodings: base.Encodings, seed_index: int = 0) -> np.ndarray:
    """Features ``[B, N_fit + N_eval, feature_dim]`` of a few candidates (for checks)."""
    enc = self._check(encodings)
    p = jax.tree.map(lambda a: a[seed_index], self.params)
    feats, _ = rwn.batch_forward(p, self.images, jnp.asarray(enc), self.config,
                                           share_first_cell=self.share_first_cell)
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
    size = self.batch_size
    if self.small_request_buckets and 0 < n < size:
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
      r = len(self.ridges)
      return {"score": np.zeros(0), "probe_accuracy": np.zeros(0), "probe_accuracy_per_ridge": np.zeros((0, r)),
              "probe_mse": np.zeros(0), "probe_mse_per_ridge": np.zeros((0, r)),
              "loo_accuracy_per_ridge": np.zeros((0, r)), "loo_mse_per_ridge": np.zeros((0, r)),
              "naswot": np.zeros(0)}

    def joined(key):  # [N, R], mean over weight seeds (one "seed" when concatenated)
      return np.concatenate([p[key] for p in probes], axis=1).astype(np.float64).mean(axis=0)

    def reduce(per_ridge):  # [N, R] -> [N]
      return per_ridge.mean(axis=1) if self.ridge_reduce == "mean" else per_ridge.max(axis=1)

    acc, mse = joined("accuracy"), joined("mse")
    out = {"probe_accuracy": reduce(acc), "probe_accuracy_per_ridge": acc,
           "probe_mse": mse.min(axis=1), "probe_mse_per_ridge": mse,
           "loo_accuracy_per_ridge": joined("loo_accuracy"),
           "loo_mse_per_ridge": joined("loo_mse"),
           "naswot": np.concatenate(nws, axis=1).astype(np.float64).mean(axis=0)}
    out["score"] = reduce(per_ridge_scores(out)[self.score_by])
    return out

  def score(self, encodings: base.Encodings) -> np.ndarray:
    """The probe score ``[N]`` (``score_by``) of ``encodings`` ``[N, E]``; higher is better."""
    return self.score_all(encodings)["score"]

  __call__ = score
  evaluate = score  # the searchers' evaluator protocol: evaluate(encodings) -> scores

  def flops_per_candidate(self, encodings: base.Encodings) -> np.ndarray:
    """FLOPs ``[N]`` a directly built network spends on the evaluator's images."""
    h, w = self.images.shape[1:3]
    return rwn.network_flops(self.config, self._check(encodings), h, w,
                                       int(self.images.shape[0])) * self.weight_seeds
