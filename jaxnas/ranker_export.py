"""A trained ranker as a self-contained checkpoint that other commands can load.

``export_ranker`` writes the final (model-selected) parameters of M members with
everything needed to score new architectures: the space spec, the model config,
the standardisation of the cost features and of each member's scores, and the
second ranker (kernel ridge on the one-hot choices) blended in with its weight
(:mod:`jaxnas.linear_blend`). It goes through :mod:`jaxnas.checkpoint` (orbax).
``load_ranker`` rebuilds it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil

import jax
import numpy as np

from jaxnas import checkpoint as checkpoint_lib
from jaxnas import errors
from jaxnas import features
from jaxnas import graphs as graphs_lib
from jaxnas import linear_blend
from jaxnas import models
from jaxnas import spaces
from jaxnas import types

__all__ = ["LoadedRanker", "ensemble_standardisation", "export_ranker", "load_ranker"]


@dataclasses.dataclass
class LoadedRanker:
  """A ranker ready to score: ``(1 - w) * mean over members of (apply(params) - mean) / std
  + w * linear``, ``w = blend_weight``."""

  space: spaces.Space
  space_spec: str
  model_config: models.ModelConfig
  graphdef: types.RankerGraphDef
  params: types.RankerParams  # M members stacked on axis 0
  feature_mean: np.ndarray | None  # [G]
  feature_std: np.ndarray | None  # [G]
  score_mean: np.ndarray  # [M]
  score_std: np.ndarray  # [M]
  linear: linear_blend.KernelRanker | linear_blend.LinearRanker | None = None
  blend_weight: float = 0.0
  # How many of the M members are fold members (trained without one fold of the
  # training archs; they chose the blend weight and then joined the ensemble).
  fold_members: int = 0

  @property
  def num_members(self) -> int:
    return int(self.score_mean.shape[0])

  def graphdef_for(self, space: spaces.Space):
    """The model for another space with the same node ops (parameters do not
    depend on the graph layout, only on the op vocabulary and feature width)."""
    if tuple(space.node_vocab) != tuple(self.space.node_vocab):
      raise errors.ConfigError(
          f"the ranker was trained on {self.space_spec!r} with node ops {list(self.space.node_vocab)}; "
          f"{space.spec or space.name!r} has {list(space.node_vocab)}")
    if self.linear is not None and space.spec != self.space.spec:
      # The blended second ranker reads this space's one-hot choices.
      raise errors.ConfigError(
          f"the ranker was trained on {self.space_spec!r} with a second ranker blended in "
          f"(weight {self.blend_weight}); it cannot score {space.spec or space.name!r} "
          "(train with --blend_folds=0 for a ranker that transfers to other spaces)")
    if self.space.num_node_features and space.spec != self.space.spec:
      # Numeric node features (chains) are laid out and standardised per space.
      raise errors.ConfigError(
          f"the ranker was trained on {self.space_spec!r}, whose node features are specific "
          f"to that space; it cannot score {space.spec or space.name!r}")
    if self.feature_mean is not None:
      width = features.cost_features(space, space.sample(jax.random.key(0), 1)).shape[1]
      if width != self.feature_mean.shape[0]:
        raise errors.ConfigError(
            f"the ranker uses {self.feature_mean.shape[0]} cost features that "
            f"{space.spec or space.name!r} cannot compute; train it with --nocost_features")
    template = graphs_lib.template_for(space)
    return models.create_model(self.model_config, template.vocab_size, jax.random.key(0),
                               template=template)[0]

  def globals_fn(self, encodings: np.ndarray) -> np.ndarray | None:
    """Standardised cost features of new candidates (training statistics)."""
    if self.feature_mean is None:
      return None
    raw = features.cost_features(self.space, encodings)
    return ((raw - self.feature_mean) / self.feature_std).astype(np.float32)

  def linear_fn(self, encodings: np.ndarray) -> np.ndarray:
    """Standardised scores ``[n]`` of the blended second ranker (zeros without one)."""
    if self.linear is None:
      return np.zeros(encodings.shape[0], np.float32)
    x = linear_blend.design(self.space, encodings, self.globals_fn(encodings),
                            wl_labels=self.linear.num_wl_labels > 0)
    return self.linear.scores_f32(x)


def ensemble_standardisation(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """How the raw scores of an ensemble become one standardised score.

  Each member is z-scored with its own statistics over the pool, and the mean of
  those z-scores is rescaled to unit standard deviation, so that a blend mixes it
  with another unit-scale score (:mod:`jaxnas.linear_blend`). The rescaling is
  folded into every member's std: :class:`LoadedRanker` scores the plain mean over
  members of ``(raw - score_mean) / score_std``.

  Args:
    raw: ``[M, N]`` raw scores of M members on a pool of N archs.

  Returns:
    ``(z [M, N], score_mean [M], score_std [M])``: each member's own z-scores (unit
    scale: what out-of-fold choices read) and the statistics a ranker stores.
  """
  raw = np.asarray(raw)
  mean, std = raw.mean(axis=1), raw.std(axis=1) + 1e-8
  z = (raw - mean[:, None]) / std[:, None]
  return z, mean, std * (z.mean(axis=0).std() + 1e-8)


def export_ranker(directory: str, *, space_spec: str, model_config: models.ModelConfig,
                  params: types.RankerParams, feature_mean=None, feature_std=None, score_mean,
                  score_std,
                  linear: linear_blend.KernelRanker | linear_blend.LinearRanker | None = None,
                  blend_weight: float = 0.0, fold_members: int = 0) -> None:
  """Writes the ranker to ``directory``, replacing an earlier export atomically.

  ``fold_members`` of the M members (the last ones) are fold members; it is
  recorded so that a loaded predictor knows its ensemble size and folds.

  The new export is written beside the old one and swapped in by renames, so a
  kill at any point leaves either the old or the new ranker loadable.
  """
  directory = os.path.abspath(directory)
  tmp = f"{directory}.tmp-{os.getpid()}"
  if os.path.exists(tmp):
    shutil.rmtree(tmp)
  meta = {"space": space_spec, "model_config": dataclasses.asdict(model_config),
          "feature_mean": None if feature_mean is None else np.asarray(feature_mean).tolist(),
          "feature_std": None if feature_std is None else np.asarray(feature_std).tolist(),
          "score_mean": np.asarray(score_mean).tolist(), "score_std": np.asarray(score_std).tolist(),
          "linear": None if linear is None or not blend_weight else linear.to_json(),
          "blend_weight": float(blend_weight) if linear is not None else 0.0,
          "fold_members": int(fold_members)}
  ckpt = checkpoint_lib.Checkpointer(tmp, max_to_keep=1)
  ckpt.save(0, params, meta)
  ckpt.close()
  old = f"{directory}.old-{os.getpid()}"
  if os.path.exists(directory):
    os.rename(directory, old)
  os.rename(tmp, directory)
  if os.path.exists(old):
    shutil.rmtree(old)


def load_ranker(directory: str) -> LoadedRanker:
  """Loads an exported ranker (a train_ranker workdir or its ``ranker/`` folder)."""
  if os.path.isdir(os.path.join(directory, "ranker")):
    directory = os.path.join(directory, "ranker")
  if not os.path.isdir(directory):
    raise errors.CheckpointError(f"no exported ranker at {directory!r}")
  ckpt = checkpoint_lib.Checkpointer(directory, max_to_keep=1)
  steps = ckpt.steps()
  if not steps:
    raise errors.CheckpointError(f"{directory!r} holds no ranker checkpoint")
  meta = ckpt.restore_meta(steps[-1])
  try:
    space = spaces.get_space(meta["space"])
    config = models.ModelConfig(**meta["model_config"])
    linear = (None if meta.get("linear") is None
              else linear_blend.ranker_from_json(meta["linear"]))
    blend_weight = float(meta.get("blend_weight", 0.0)) if linear is not None else 0.0
    fold_members = int(meta.get("fold_members", 0))  # exports before it held none
  except (KeyError, TypeError, ValueError) as e:
    raise errors.CheckpointError(f"{directory!r}: malformed ranker metadata ({e})") from None
  template = graphs_lib.template_for(space)
  m = len(meta["score_mean"])
  if not 0 <= fold_members < m:
    raise errors.CheckpointError(f"{directory!r}: malformed ranker metadata ({fold_members} fold "
                                 f"members of {m})")
  graphdef, _ = models.create_model(config, template.vocab_size, jax.random.key(0), template=template)
  like = models.init_params(config, template.vocab_size, jax.random.split(jax.random.key(0), m),
                            template=template)
  restored = ckpt.restore_latest(like, move_damaged=False)  # read-only: not our workdir
  ckpt.close()
  if restored is None:
    raise errors.CheckpointError(f"{directory!r}: the ranker checkpoint cannot be restored")
  fm, fs = meta.get("feature_mean"), meta.get("feature_std")
  return LoadedRanker(space, meta["space"], config, graphdef, restored[1],
                      None if fm is None else np.asarray(fm, np.float32),
                      None if fs is None else np.asarray(fs, np.float32),
                      np.asarray(meta["score_mean"], np.float32),
                      np.asarray(meta["score_std"], np.float32), linear, blend_weight,
                      fold_members)
