"""Settings of the training evaluator (jax-free: entry points read their flag defaults here).

:class:`TrainingConfig` is the budget (EcoNAS's reduction factors), the network
and the optimisation of :class:`jaxnas.evaluate.group_training.GroupTrainer`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from jaxnas import config_checks
from jaxnas import errors

__all__ = ["EXECUTIONS", "OPTIMIZERS", "TrainingConfig"]

EXECUTIONS = ("map_switch", "map_mixed", "vmap_mixed")
OPTIMIZERS = ("sgd", "adamw")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
  """Budget, network and optimisation of the training evaluator.

  Attributes:
    epochs: training epochs (EcoNAS ``e``).
    channels: width of the first stage (EcoNAS ``c``; NB201 uses 16).
    image_size: images are average-pooled to this size (EcoNAS ``r``; must
      divide the image size).
    train_fraction: fraction of the training images used (EcoNAS ``s``),
      class-balanced, chosen by ``seed``.
    cells_per_stage: cells per stage (NB201: 5).
    num_stages: stages (reduction blocks between them).
    batch_size: images per step (shared by the group).
    optimizer: ``"sgd"`` (Nesterov momentum) or ``"adamw"``.
    learning_rate: peak learning rate, cosine decay to 0 over the run.
    momentum: SGD momentum.
    weight_decay: L2 (SGD) or decoupled (AdamW) weight decay.
    augment: random crop (pad ``image_size // 8``) and horizontal flip.
    eval_images: held-out images scored after every epoch (0: all).
    eval_batch: held-out images per forward; BN uses their statistics.
    group_size: candidates trained together.
    execution: how a group runs, one of :data:`EXECUTIONS`.
    seed: weights, image subset, batches, augmentation.
  """

  epochs: int = 10
  channels: int = 8
  image_size: int = 16
  train_fraction: float = 1.0
  cells_per_stage: int = 1
  num_stages: int = 3
  batch_size: int = 64
  optimizer: str = "sgd"
  learning_rate: float = 0.1
  momentum: float = 0.9
  weight_decay: float = 5e-4
  augment: bool = True
  eval_images: int = 0
  eval_batch: int = 500
  group_size: int = 8
  execution: str = "map_switch"
  seed: int = 0

  def __post_init__(self):
    config_checks.check_field_types(self)
    for name in ("epochs", "channels", "image_size", "cells_per_stage", "num_stages",
                 "batch_size", "eval_batch", "group_size"):
      config_checks.check_int(name, getattr(self, name))
    if self.eval_images < 0:
      raise errors.ConfigError(f"eval_images must be >= 0 (0: all), got {self.eval_images!r}")
    if not 0.0 < self.train_fraction <= 1.0:
      raise errors.ConfigError(f"train_fraction must be in (0, 1], got {self.train_fraction!r}")
    if self.optimizer not in OPTIMIZERS:
      raise errors.ConfigError(f"optimizer={self.optimizer!r}; expected one of {list(OPTIMIZERS)}")
    if self.execution not in EXECUTIONS:
      raise errors.ConfigError(f"execution={self.execution!r}; expected one of {list(EXECUTIONS)}")
    if not (self.learning_rate > 0 and self.weight_decay >= 0 and 0 <= self.momentum < 1):
      raise errors.ConfigError(
          f"need learning_rate > 0, weight_decay >= 0, 0 <= momentum < 1; got "
          f"{self.learning_rate!r}, {self.weight_decay!r}, {self.momentum!r}")
    if self.image_size % 2 ** (self.num_stages - 1):
      raise errors.ConfigError(
          f"image_size={self.image_size} cannot be halved num_stages - 1 = "
          f"{self.num_stages - 1} times")

  @property
  def edge_mode(self) -> str:
    return self.execution.split("_")[1]

  def budget(self) -> dict:
    """The EcoNAS reduction factors and depth, as results report them."""
    return {"epochs": self.epochs, "channels": self.channels, "image_size": self.image_size,
            "train_fraction": self.train_fraction, "cells_per_stage": self.cells_per_stage}

  def fingerprint(self, space, data) -> str:
    """Hash of the config, the space and the images: what a checkpoint must match.

    Args:
      space: the :class:`jaxnas.spaces.cell.CellSpace` trained.
      data: the :class:`jaxnas.evaluate.group_training.TrainingData` (its content hash).
    """
    d = dataclasses.asdict(self)
    d["space"] = [space.num_nodes, list(space.ops)]
    d["data"] = data.fingerprint
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]
