"""absl flags of the random-weight probe, shared by its entry points.

``experiments.rwe`` and ``experiments.nsga`` keep the defaults, which are the
settings measured best on NB201 (README, "Random-weight evaluation"): C=16,
one cell per stage, inference-mode BN, features pooled from every stage and
from every edge of the first cell, orthogonal random kernels, four
random-weight draws whose features meet one ridge probe, 1,000 fit images
scored by leave-one-out -MSE averaged over ridges 1/3/10.
``experiments.bench_rwe`` overrides them with its speed setting.
"""

from __future__ import annotations

from absl import flags

from jaxnas.evaluate import random_weight_network as rwn
from jaxnas.evaluate import rwe

FLAGS = flags.FLAGS

# Names of the flags define_probe_flags() defined (read back by probe_config()).
_DEFINED: list[str] = []


def define_probe_flags() -> None:
  """Defines the probe's flags (call once, from the entry point's ``__main__``)."""
  holders = [
    flags.DEFINE_integer("channels", 16, "Width of the first stage."),
    flags.DEFINE_integer("cells_per_stage", 1, "Cells per stage."),
    flags.DEFINE_integer("num_stages", 3, "Stages (reduction blocks between them)."),
    flags.DEFINE_integer("image_size", 32, "Images are average-pooled to this size."),
    flags.DEFINE_integer("pool_grid", 1, "Final features pooled over a grid x grid partition."),
    flags.DEFINE_integer("num_fit_images", 1000, "Probe fit images (train split, class-balanced)."),
    flags.DEFINE_integer("num_eval_images", 100,
                         "Probe held-out images (test split, class-balanced); with a leave-one-out "
                         "--score_by they only cross-check it."),
    flags.DEFINE_integer("weight_seeds", 4, "Random-weight draws of every candidate's network."),
    flags.DEFINE_enum("combine_seeds", "concat", list(rwe.SEED_COMBINES),
                      "concat: one probe on the draws' features side by side; mean: one probe "
                      "per draw, scores averaged."),
    flags.DEFINE_integer("batch_size", 32, "Candidates per jitted call."),
    flags.DEFINE_integer("naswot_images", 64, "Images of the NASWOT kernel (0: off)."),
    flags.DEFINE_enum("batch_norm", "none", ["batch", "none"],
                      "BN with per-candidate batch statistics, or in inference mode."),
    flags.DEFINE_enum("features", "stages_edges", list(rwn.FEATURE_MODES),
                      "Probe features: pooled last stage; every stage concatenated; or every "
                      "stage plus every edge of the first cell."),
    flags.DEFINE_enum("kernel_init", "orthogonal", list(rwn.KERNEL_INITS),
                      "Random conv kernels: orthogonal columns with He variance, or plain He."),
    flags.DEFINE_list("ridges", ["1", "3", "10"], "Ridge strengths (relative to unit variance)."),
    flags.DEFINE_enum("ridge_reduce", "mean", list(rwe.RIDGE_REDUCTIONS),
                      "How the score is reduced over ridges."),
    flags.DEFINE_enum("score_by", "loo_neg_mse", list(rwe.SCORE_KINDS),
                      "The probe score: held-out accuracy / -MSE, or leave-one-out over the fit "
                      "images."),
    flags.DEFINE_string("images_dir", None, "Folder holding cifar10/{train,test}.npz."),
    flags.DEFINE_string("data_dir", None, "Folder holding nb201/nb201.csv."),
    flags.DEFINE_string("target", "cifar10_test", "Benchmark column of true accuracy."),
  ]
  _DEFINED[:] = [h.name for h in holders]


def probe_config() -> dict:
  """The probe flags' values as a plain dict (what ``experiments.rwe.make_evaluator`` takes)."""
  if not _DEFINED:
    raise RuntimeError("call rwe_flags.define_probe_flags() before reading the probe flags")
  return {k: FLAGS[k].value for k in _DEFINED}
