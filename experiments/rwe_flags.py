"""absl flags of the random-weight probe, shared by its entry points.

``--rwe_preset`` names one of the library's presets
(:data:`jaxnas.evaluate.rwe_config.PRESETS`); every other probe flag, when
given, overrides that one field. The flags only build an
:class:`~jaxnas.evaluate.rwe_config.RWEConfig`; the numbers live in the library.
"""

from __future__ import annotations

import dataclasses

from absl import flags

from jaxnas import errors
from jaxnas.evaluate import rwe_config

FLAGS = flags.FLAGS

# Flag name -> help; the flag's kind follows the RWEConfig field's type.
_HELP = {
    "channels": "width of the first stage",
    "cells_per_stage": "cells per stage",
    "num_stages": "stages (reduction blocks between them)",
    "image_size": "images are average-pooled to this size",
    "pool_grid": "final features pooled over a grid x grid partition",
    "batch_norm": "BN with per-candidate batch statistics, or in inference mode",
    "features": "probe features: pooled last stage; every stage; or every stage plus every edge "
                "of the first cell",
    "kernel_init": "random conv kernels",
    "naswot_images": "images of the NASWOT kernel (0: off)",
    "num_fit_images": "probe fit images (train split, class-balanced)",
    "num_eval_images": "probe held-out images (test split, class-balanced)",
    "weight_seeds": "random-weight draws of every candidate's network",
    "combine_seeds": "concat: one probe on the draws' features side by side; mean: one probe "
                     "per draw, scores averaged",
    "ridges": "ridge strengths (relative to unit variance)",
    "ridge_reduce": "how the score is reduced over ridges",
    "score_by": "the probe score (held-out or leave-one-out accuracy / -MSE)",
    "candidates_per_call": "candidates per jitted call of the probe",
}
_DEFINED: list[str] = []


def define_probe_flags(default_preset: str = "quality") -> None:
  """Defines ``--rwe_preset`` and one override flag per probe setting (call once)."""
  base = rwe_config.PRESETS[default_preset]
  flags.DEFINE_enum("rwe_preset", default_preset, sorted(rwe_config.PRESETS),
                    "named probe settings (jaxnas.evaluate.rwe_config); the flags below "
                    "override single fields")
  fields = {f.name: f for f in dataclasses.fields(rwe_config.RWEConfig)}
  for name, text in _HELP.items():
    text = f"{text} (default: the preset's; {default_preset}: {getattr(base, name)})"
    kind = fields[name].type
    if name in rwe_config.CHOICES:
      flags.DEFINE_enum(name, None, list(rwe_config.CHOICES[name]), text)
    elif name == "ridges":
      flags.DEFINE_list(name, None, text)
    elif kind == "int":
      flags.DEFINE_integer(name, None, text)
    else:
      raise AssertionError(f"no flag kind for RWEConfig.{name}: {kind}")
  _DEFINED[:] = list(_HELP)


def probe_config(seed: int = 0) -> rwe_config.RWEConfig:
  """The :class:`RWEConfig` of the flags: the preset, with every given flag applied."""
  if not _DEFINED:
    raise RuntimeError("call rwe_flags.define_probe_flags() before reading the probe flags")
  changes = {k: FLAGS[k].value for k in _DEFINED if FLAGS[k].value is not None}
  if "ridges" in changes:
    try:
      changes["ridges"] = tuple(float(r) for r in changes["ridges"])
    except ValueError:
      raise errors.ConfigError(f"--ridges={','.join(FLAGS.ridges)!r}: expected positive "
                               "numbers, e.g. 1,3,10") from None
  try:
    return rwe_config.preset(FLAGS.rwe_preset, seed=seed, **changes)
  except errors.ConfigError as e:  # name the flag, not the field
    raise errors.ConfigError(str(e).replace("RWEConfig.", "--")) from None
