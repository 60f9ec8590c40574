"""Evaluators: score architectures without a table.

* :class:`RandomWeightEvaluator` — RWE: one random-weight supernet shared by all
  candidates, closed-form ridge probe on its features (``rwe.py``, ``probe.py``);
* :class:`ZeroCostEvaluator` — NASWOT log-determinant and synflow from the same
  random-weight network (``zero_cost.py``);
* :class:`SupernetTrainer` — a weight-sharing supernet trained with uniform
  single-path sampling, then every candidate evaluated with the shared weights
  (``weight_sharing_supernet.py``);
* :mod:`jaxnas.evaluate.weak_labels` — all of the above for a whole space, as a
  cached ``weak_labels.csv`` (AceNAS's weak supervision);
* the training evaluator — groups of candidates trained from scratch
  (``group_training.py``, ``training_evaluator.py``, ``candidate_table.py``,
  ``successive_halving.py``; its settings in the jax-free ``training_config.py``).

Names are imported on first use (PEP 562), so importing a light submodule such
as ``training_config`` (an entry point's flag defaults) does not load JAX.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jaxnas import lazy_exports

# Public name -> (module, attribute); attribute None: the module itself.
_EXPORTS = {
    "RandomWeightEvaluator": ("jaxnas.evaluate.rwe", "RandomWeightEvaluator"),
    "SupernetTrainConfig": ("jaxnas.evaluate.weight_sharing_supernet", "SupernetTrainConfig"),
    "SupernetTrainer": ("jaxnas.evaluate.weight_sharing_supernet", "SupernetTrainer"),
    "WeakLabelConfig": ("jaxnas.evaluate.weak_labels", "WeakLabelConfig"),
    "ZeroCostConfig": ("jaxnas.evaluate.zero_cost", "ZeroCostConfig"),
    "ZeroCostEvaluator": ("jaxnas.evaluate.zero_cost", "ZeroCostEvaluator"),
    "weak_labels": ("jaxnas.evaluate.weak_labels", None),
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports.attach(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # what static analysers and IDEs see: the same names, eagerly
  from jaxnas.evaluate import weak_labels
  from jaxnas.evaluate.rwe import RandomWeightEvaluator
  from jaxnas.evaluate.weak_labels import WeakLabelConfig
  from jaxnas.evaluate.weight_sharing_supernet import SupernetTrainConfig
  from jaxnas.evaluate.weight_sharing_supernet import SupernetTrainer
  from jaxnas.evaluate.zero_cost import ZeroCostConfig
  from jaxnas.evaluate.zero_cost import ZeroCostEvaluator
