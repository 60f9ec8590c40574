"""Evaluators that score architectures without training each one.

* :class:`RandomWeightEvaluator` — RWE: one random-weight supernet shared by all
  candidates, closed-form ridge probe on its features (``rwe.py``, ``probe.py``);
* :class:`ZeroCostEvaluator` — NASWOT log-determinant and synflow from the same
  random-weight network (``zero_cost.py``);
* :class:`SupernetTrainer` — a weight-sharing supernet trained with uniform
  single-path sampling, then every candidate evaluated with the shared weights
  (``weight_sharing_supernet.py``);
* :mod:`jaxnas.evaluate.weak_labels` — all of the above for a whole space, as a
  cached ``weak_labels.csv`` (AceNAS's weak supervision).
"""

from jaxnas.evaluate import weak_labels
from jaxnas.evaluate.rwe import RandomWeightEvaluator
from jaxnas.evaluate.weight_sharing_supernet import SupernetTrainConfig
from jaxnas.evaluate.weight_sharing_supernet import SupernetTrainer
from jaxnas.evaluate.weak_labels import WeakLabelConfig
from jaxnas.evaluate.zero_cost import ZeroCostConfig
from jaxnas.evaluate.zero_cost import ZeroCostEvaluator

__all__ = [
    "RandomWeightEvaluator", "SupernetTrainConfig", "SupernetTrainer", "WeakLabelConfig",
    "ZeroCostConfig", "ZeroCostEvaluator", "weak_labels",
]
