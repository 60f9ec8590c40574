"""A NASLib-shaped predictor: ``fit(xtrain, ytrain)`` / ``query(xtest)``.

NASLib's predictor evaluator calls ``fit`` with training architectures and
their accuracies and ``query`` with test architectures, then correlates the
returned values with the truth. :class:`JaxnasPredictor` plugs jaxnas's ranker
(optionally an ensemble, vmapped) into that loop::

    predictor = JaxnasPredictor("nb201", ensemble_size=4)
    predictor.fit(xtrain, ytrain)
    scores = predictor.query(xtest)          # [n] higher = better
    mean, std = predictor.query_with_std(xtest)

Architectures may be given as the space's strings, int encodings, and for
NB201 also NASLib 6-tuples (or their string form) and NNI dicts. ``query``
returns ranking *scores* (standardised, ensemble-averaged), not accuracies:
NASLib's metrics (Kendall tau, Spearman, precision@k) only use their order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from jaxnas import errors
from jaxnas import features
from jaxnas import graphs as graphs_lib
from jaxnas import models
from jaxnas import spaces
from jaxnas import train


class JaxnasPredictor:
  """Ranker with NASLib's predictor interface.

  Args:
    space: a :class:`~jaxnas.spaces.Space` or a space spec (``"nb201"``).
    model_config: ranker architecture (default: GIN, 4 layers, width 64).
    train_config: optimisation settings.
    ensemble_size: rankers trained together (vmapped); ``query_with_std``
      returns their spread.
    seed: seed of initialisation and validation splits.
    use_cost_features: feed params/FLOPs when the space computes them.
  """

  def __init__(self, space: str | spaces.Space = "nb201", *,
               model_config: models.ModelConfig | None = None,
               train_config: train.TrainConfig | None = None, ensemble_size: int = 1,
               seed: int = 0, use_cost_features: bool = True):
    self.space = spaces.get_space(space) if isinstance(space, str) else space
    self.model_config = model_config or models.ModelConfig()
    self.train_config = train_config or train.TrainConfig(num_steps=600)
    if ensemble_size < 1:
      raise errors.ConfigError(f"ensemble_size must be >= 1, got {ensemble_size}")
    self.ensemble_size = ensemble_size
    self.seed = seed
    self.use_cost_features = use_cost_features
    self._trainer: train.RankerTrainer | None = None
    self._params = None
    self._feature_ref: np.ndarray | None = None

  # ----------------------------------------------------------- conversion
  def encode(self, archs: Sequence) -> np.ndarray:
    """Architectures in any accepted form -> int encodings ``[n, D]``."""
    rows = []
    for i, a in enumerate(archs):
      try:
        rows.append(self._encode_one(a))
      except errors.InvalidArchitectureError as e:
        raise type(e)(f"architecture {i}: {e}") from None
    return np.stack(rows).astype(np.int32) if rows else np.zeros((0, self.space.num_positions), np.int32)

  def _encode_one(self, arch) -> np.ndarray:
    is_nb201 = isinstance(self.space, spaces.NB201Space)
    if isinstance(arch, str):
      if is_nb201 and arch.strip().startswith("("):
        return self.space.from_naslib(arch)
      return self.space.parse(arch)
    if isinstance(arch, Mapping) and is_nb201:
      return self.space.from_nni(arch)
    if isinstance(arch, tuple) and is_nb201 and len(arch) == 6:
      return self.space.from_naslib(arch)
    return self.space.validate(np.asarray(arch))

  def _globals(self, enc: np.ndarray) -> np.ndarray | None:
    if not self.use_cost_features:
      return None
    raw = features.cost_features(self.space, enc)
    if raw.shape[1] == 0:
      return None
    return features.standardize(raw, self._feature_ref)

  # ----------------------------------------------------------- NASLib API
  def fit(self, xtrain: Sequence, ytrain: Sequence[float], train_info=None) -> "JaxnasPredictor":
    """Trains the ranker(s) on ``xtrain`` with labels ``ytrain`` (higher = better)."""
    del train_info
    enc = self.encode(xtrain)
    y = np.asarray(ytrain, np.float64)
    if y.shape != (enc.shape[0],):
      raise errors.ConfigError(f"{enc.shape[0]} architectures but {y.shape} labels")
    if not np.all(np.isfinite(y)):
      raise errors.BenchmarkDataError(f"{int(np.sum(~np.isfinite(y)))} labels are NaN/inf")
    raw = features.cost_features(self.space, enc)
    self._feature_ref = raw if raw.shape[1] else None
    glob = self._globals(enc)
    mc = dataclasses.replace(self.model_config, num_globals=0 if glob is None else glob.shape[1])
    self._trainer = train.RankerTrainer(self.space, enc, mc, self.train_config, pool_globals=glob)
    seeds = [self.seed * 1000 + k for k in range(self.ensemble_size)]
    data = train.make_member_data([np.arange(enc.shape[0])] * self.ensemble_size,
                                  [y] * self.ensemble_size, seeds,
                                  val_fraction=self.train_config.val_fraction,
                                  num_tiers=mc.num_tiers)
    state = self._trainer.train(data, self._trainer.init_state(seeds))
    self._params = self._trainer.final_params(state, data)
    return self

  def query_with_std(self, xtest: Sequence, info=None) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble mean and std of standardised scores, each ``[n]``."""
    del info
    if self._trainer is None:
      raise errors.ConfigError("call fit() before query()")
    enc = self.encode(xtest)
    arrays = graphs_lib.encode(self.space, enc, self._globals(enc))
    raw = train.score_arrays(self._trainer.graphdef, self._params, self._trainer.template, arrays)
    # Standardise each member with its own statistics on the training pool, so
    # scores of different query calls are comparable.
    pool = self._trainer.score(self._params)
    z = (raw - pool.mean(axis=1, keepdims=True)) / (pool.std(axis=1, keepdims=True) + 1e-8)
    return z.mean(axis=0), z.std(axis=0)

  def query(self, xtest: Sequence, info=None) -> np.ndarray:
    """Scores ``[n]`` (higher = predicted better)."""
    return self.query_with_std(xtest, info)[0]
