"""Every setting of the random-weight probe, in one frozen config, and its named presets.

One :class:`RWEConfig` is built once (from flags, or a preset) and passed to
:class:`jaxnas.evaluate.rwe.RandomWeightEvaluator`, to the image loader
(:func:`load_probe_images`) and into ``config.json``; no caller re-types the
probe's numbers. The presets are the settings the project measured
(docs/rwe.md):

* ``"quality"`` (the default): the best ranking measured on NB201 — C=16, one
  cell per stage, inference-mode BN, features from every stage and every edge
  of the first cell, orthogonal kernels, four random-weight draws concatenated
  into one ridge probe, 1,000 fit images scored by leave-one-out -MSE averaged
  over ridges 1/3/10 (Kendall tau 0.65 vs ``cifar10_test``).
* ``"speed"``: the speed comparison with the PyTorch loop
  (``experiments.bench_rwe``): C=8, batch-statistics BN, last-stage features,
  one network per candidate, 128 + 128 images.
* ``"search"``: the searchers' evaluator (``experiments.search
  --evaluator=rwe``): the quality probe without the NASWOT kernel, 16
  candidates per call, small requests padded only to the next power of two
  (REA asks for one candidate at a time).
* ``"weak_label"``: the probe exactly as the cached weak-label tables (and the
  AceNAS results) computed it; pinned so that changing another preset can never
  change a cached table under the same fingerprint.
"""

from __future__ import annotations

import dataclasses

from jaxnas import config_checks
from jaxnas import errors
__all__ = ["BATCH_NORM_MODES", "CHOICES", "FEATURE_MODES", "KERNEL_INITS", "NETWORK_FIELDS", "PRESETS", "RIDGE_REDUCTIONS", "RWEConfig", "SCORE_KINDS",
           "SEED_COMBINES", "load_probe_images", "preset"]

# The random-weight network's options (jaxnas.evaluate.random_weight_network reads them
# from here, so that flags and configs load without JAX).
BATCH_NORM_MODES = ("batch", "none")
FEATURE_MODES = ("last", "stages", "stages_edges")
KERNEL_INITS = ("he", "he_over_edges", "orthogonal")
RIDGE_REDUCTIONS = ("mean", "max")
# How the features of several random-weight draws of a candidate meet the probe.
SEED_COMBINES = ("concat", "mean")
# What the score is: per ridge strength, a quality of the probe; higher is better.
# Each maps to (the score_all key of its per-ridge values, sign).
SCORE_KINDS = {
    "accuracy": ("probe_accuracy_per_ridge", 1.0),  # held-out accuracy (RWE's score)
    "neg_mse": ("probe_mse_per_ridge", -1.0),       # held-out one-hot regression error
    "loo_accuracy": ("loo_accuracy_per_ridge", 1.0),  # leave-one-out over the fit images
    "loo_neg_mse": ("loo_mse_per_ridge", -1.0),
}
# The choices of every string setting.
CHOICES = {"batch_norm": BATCH_NORM_MODES, "features": FEATURE_MODES,
           "kernel_init": KERNEL_INITS, "ridge_reduce": RIDGE_REDUCTIONS,
           "combine_seeds": SEED_COMBINES, "score_by": tuple(SCORE_KINDS)}
# Fields that shape the random network (SupernetConfig fields of the same name).
NETWORK_FIELDS = ("channels", "cells_per_stage", "num_stages", "pool_grid", "batch_norm",
                  "features", "kernel_init", "naswot_images")


@dataclasses.dataclass(frozen=True)
class RWEConfig:
  """The random-weight probe: network, images, probe and execution.

  Attributes:
    channels: width ``C`` of the first stage.
    cells_per_stage: cells per stage.
    num_stages: stages (reduction blocks between them).
    image_size: images are average-pooled to this size.
    pool_grid: final features pooled over a ``pool_grid x pool_grid`` grid.
    batch_norm: ``"none"`` (inference-mode BN) or ``"batch"`` (per-candidate
      batch statistics).
    features: ``"last"`` (pooled last stage), ``"stages"`` (every stage), or
      ``"stages_edges"`` (every stage and every edge of the first cell).
    kernel_init: ``"orthogonal"``, ``"he"`` or ``"he_over_edges"`` (the legacy
      draw of the weak-label tables).
    naswot_images: images of the NASWOT kernel from the same forward (0: off).
    num_fit_images: images whose features fit the ridge probe (train split,
      class-balanced).
    num_eval_images: held-out images (test split, class-balanced).
    weight_seeds: independent random-weight draws of every candidate.
    combine_seeds: ``"concat"`` (one probe on the draws' features side by side)
      or ``"mean"`` (one probe per draw, scores averaged).
    ridges: ridge strengths, relative to unit feature variance.
    ridge_reduce: ``"mean"`` or ``"max"`` over ``ridges``.
    score_by: the score, one of :data:`SCORE_KINDS` (higher is better).
    candidates_per_call: candidates per jitted call (memory grows with it).
    small_request_buckets: pad a request of fewer candidates only to the next
      power of two (a searcher asking one at a time pays for one).
    share_first_cell: see ``random_weight_network.batch_forward``.
    parallel_candidates: candidates vmapped side by side in a call; 0 picks per
      backend (1 on CPU).
    seed: seed of the random weights and of the image choice.
  """

  channels: int = 16
  cells_per_stage: int = 1
  num_stages: int = 3
  image_size: int = 32
  pool_grid: int = 1
  batch_norm: str = "none"
  features: str = "stages_edges"
  kernel_init: str = "orthogonal"
  naswot_images: int = 64
  num_fit_images: int = 1000
  num_eval_images: int = 100
  weight_seeds: int = 4
  combine_seeds: str = "concat"
  ridges: tuple[float, ...] = (1.0, 3.0, 10.0)
  ridge_reduce: str = "mean"
  score_by: str = "loo_neg_mse"
  candidates_per_call: int = 32
  small_request_buckets: bool = False
  share_first_cell: bool = True
  parallel_candidates: int = 0
  seed: int = 0

  def __post_init__(self):
    config_checks.check_field_types(self)
    for name in ("channels", "cells_per_stage", "num_stages", "image_size", "pool_grid",
                 "num_fit_images", "num_eval_images", "weight_seeds", "candidates_per_call"):
      config_checks.check_int(f"RWEConfig.{name}", getattr(self, name))
    for name in ("naswot_images", "parallel_candidates"):
      config_checks.check_int(f"RWEConfig.{name}", getattr(self, name), low=0)
    config_checks.check_seed("RWEConfig.seed", self.seed)
    if self.num_fit_images < 2:
      raise errors.ConfigError(f"RWEConfig.num_fit_images must be >= 2, got {self.num_fit_images}")
    for name, choices in CHOICES.items():
      if getattr(self, name) not in choices:
        raise errors.ConfigError(
            f"RWEConfig.{name}={getattr(self, name)!r}; expected one of {list(choices)}")
    ridges = self.ridges
    if (not isinstance(ridges, tuple) or not ridges
        or not all(isinstance(r, (int, float)) and not isinstance(r, bool) and 0 < r < float("inf")
                   for r in ridges)):
      raise errors.ConfigError(f"RWEConfig.ridges must be a tuple of positive numbers, got "
                               f"{ridges!r}")
    object.__setattr__(self, "ridges", tuple(float(r) for r in ridges))

  def network_fields(self) -> dict:
    """The fields that shape the random network (``SupernetConfig`` keywords)."""
    return {k: getattr(self, k) for k in NETWORK_FIELDS}

  def replace(self, **changes) -> "RWEConfig":
    """A copy with ``changes`` (checked like the constructor's arguments)."""
    unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
    if unknown:
      raise errors.ConfigError(f"RWEConfig has no field(s) {unknown}")
    return dataclasses.replace(self, **changes)

  @classmethod
  def from_json(cls, d: dict) -> "RWEConfig":
    """The config of a :meth:`to_json` dict (``ridges`` back to a tuple)."""
    return cls(**{**d, "ridges": tuple(d.get("ridges", cls.ridges))})

  def to_json(self) -> dict:
    d = dataclasses.asdict(self)
    d["ridges"] = list(self.ridges)
    return d


PRESETS: dict[str, RWEConfig] = {
    "quality": RWEConfig(),
    "speed": RWEConfig(channels=8, num_fit_images=128, num_eval_images=128, batch_norm="batch",
                       features="last", weight_seeds=1),
    "search": RWEConfig(naswot_images=0, candidates_per_call=16, small_request_buckets=True),
    "weak_label": RWEConfig(channels=8, cells_per_stage=1, naswot_images=0, batch_norm="batch",
                            features="last", kernel_init="he_over_edges", weight_seeds=1,
                            ridges=(1e-3, 1e-2, 1e-1, 1.0), score_by="accuracy",
                            num_fit_images=128, num_eval_images=128, candidates_per_call=16),
}


def preset(name: str, **changes) -> RWEConfig:
  """The named preset (:data:`PRESETS`), with ``changes`` applied."""
  if name not in PRESETS:
    raise errors.ConfigError(f"RWE preset {name!r}; expected one of {sorted(PRESETS)}")
  return PRESETS[name].replace(**changes) if changes else PRESETS[name]


def load_probe_images(config: RWEConfig, images_dir=None):
  """Class-balanced fit (train split) and held-out (test split) CIFAR-10 images at
  ``config.image_size``, chosen by ``config.seed``: ``(fit, eval)`` ``ImageSet``\\ s."""
  from jaxnas.data import images as images_lib  # pylint: disable=import-outside-toplevel
  fit = images_lib.load_cifar10_npz("train", images_dir).stratified(config.num_fit_images,
                                                                    config.seed)
  ev = images_lib.load_cifar10_npz("test", images_dir).stratified(config.num_eval_images,
                                                                  config.seed)
  return (images_lib.downsample(fit, config.image_size),
          images_lib.downsample(ev, config.image_size))
