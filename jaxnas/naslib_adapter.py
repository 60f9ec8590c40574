"""A NASLib-shaped predictor: ``fit(xtrain, ytrain)`` / ``query(xtest)``.

NASLib's predictor evaluator calls ``fit`` with training architectures and
their accuracies and ``query`` with test architectures, then correlates the
returned values with the truth. :class:`JaxnasPredictor` plugs jaxnas's ranker
(optionally an ensemble, vmapped) into that loop::

    predictor = JaxnasPredictor("nb201", ensemble_size=4)
    predictor.fit(xtrain, ytrain)
    scores = predictor.query(xtest)          # [n] higher = better
    mean, std = predictor.query_with_std(xtest)
    top = predictor.top_k(100)               # stream the whole space, keep the best 100
    predictor.save("runs/my_ranker")         # orbax, via jaxnas.ranker_export
    again = JaxnasPredictor.load("runs/my_ranker")

Architectures may be given as the space's strings, int encodings, and for
NB201 also NASLib 6-tuples (or their string form) and NNI dicts. ``query``
returns ranking *scores* (standardised, ensemble-averaged), not accuracies:
NASLib's metrics (Kendall tau, Spearman, precision@k) only use their order.
A saved predictor is the same export that ``experiments.train_ranker`` writes to
``<workdir>/ranker/``, so ``experiments.score --ranker=DIR`` streams it too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import jax
import numpy as np

from jaxnas import config_checks
from jaxnas import errors
from jaxnas import features
from jaxnas import graphs as graphs_lib
from jaxnas import linear_blend
from jaxnas import models
from jaxnas import ranker_export
from jaxnas import spaces
from jaxnas import streaming
from jaxnas import train
from jaxnas import types

__all__ = ["JaxnasPredictor"]


class JaxnasPredictor:
  """Ranker with NASLib's predictor interface.

  Args:
    space: a :class:`~jaxnas.spaces.Space` or a space spec (``"nb201"``).
    model_config: ranker architecture (default: GIN, 4 layers, width 64).
    train_config: optimisation settings.
    ensemble_size: rankers trained together (vmapped) on all training archs;
      the ``blend_folds`` fold members join them once they have chosen the
      blend weight, and ``query_with_std`` returns the spread of all of them.
    seed: seed of initialisation and validation splits.
    use_cost_features: feed params/FLOPs when the space computes them.
    blend_folds: K fold members that choose how much of a second ranker to
      blend in (:mod:`jaxnas.linear_blend`; below ``linear_blend.CHOICE_ARCHS``
      training archs the K-fold split is repeated to choose, and only the first
      split's members join the ensemble); 0: the GNN alone.
  """

  def __init__(self, space: str | spaces.Space = "nb201", *,
               model_config: models.ModelConfig | None = None,
               train_config: train.TrainConfig | None = None, ensemble_size: int = 1,
               seed: int = 0, use_cost_features: bool = True, blend_folds: int = 5):
    self.space = spaces.get_space(space) if isinstance(space, str) else space
    self.model_config = model_config or models.ModelConfig()
    self.train_config = train_config or train.TrainConfig()
    self.ensemble_size = config_checks.check_int("ensemble_size", ensemble_size)
    self.seed = seed
    self.use_cost_features = use_cost_features
    self.blend_folds = linear_blend.check_folds(blend_folds)
    self._ranker: ranker_export.LoadedRanker | None = None  # set by fit() or load()

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
    return None if self._ranker is None else self._ranker.globals_fn(enc)

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
    use_features = self.use_cost_features and raw.shape[1] > 0
    # Features are z-scored with the training archs' statistics (no labels used).
    feature_mean = raw.mean(axis=0) if use_features else None
    feature_std = raw.std(axis=0) + 1e-8 if use_features else None
    glob = ((raw - feature_mean) / feature_std).astype(np.float32) if use_features else None
    mc = dataclasses.replace(self.model_config, num_globals=0 if glob is None else glob.shape[1])
    trainer = train.RankerTrainer(self.space, enc, mc, self.train_config, pool_globals=glob)
    n, e = enc.shape[0], self.ensemble_size
    # The ensemble, then the fold members that choose the blend weight.
    folds = linear_blend.fold_splits(np.arange(n), self.blend_folds, self.seed)
    rows = [np.arange(n)] * e + [split.train_rows for split in folds]
    seeds = [self.seed * 1000 + k for k in range(e)] + [split.seed for split in folds]
    data = train.make_member_data(rows, [y[r] for r in rows], seeds,
                                  val_fraction=self.train_config.val_fraction,
                                  num_tiers=mc.num_tiers)
    state = trainer.train(data, trainer.init_state(seeds))
    params = trainer.final_params(state, data)
    # Each member's scores are standardised with its own statistics on the
    # training archs, so scores of different query calls are comparable.
    pool = np.asarray(trainer.score(params))  # [M, n]
    z = ranker_export.ensemble_standardisation(pool)[0]
    # The first repeat's fold members join the ensemble (as in
    # jaxnas.protocol.fit_and_score); the other repeats only choose the weight.
    keep = np.asarray(list(range(e)) + [e + k for k, split in enumerate(folds)
                                        if split.joins_ensemble])
    _, mean, std = ranker_export.ensemble_standardisation(pool[keep])
    params = jax.tree.map(lambda a: a[keep], params)
    blend = None
    if folds:
      x = linear_blend.design(self.space, enc, glob)
      blend = linear_blend.fit_blend(x, y, np.arange(n),
                                     [(split, z[e + k]) for k, split in enumerate(folds)])
    self._ranker = ranker_export.LoadedRanker(
        self.space, self.space.spec or "", mc, trainer.graphdef, params,
        feature_mean=None if feature_mean is None else feature_mean.astype(np.float32),
        feature_std=None if feature_std is None else feature_std.astype(np.float32),
        score_mean=mean.astype(np.float32), score_std=std.astype(np.float32),
        linear=None if blend is None or not blend.weight else blend.linear,
        blend_weight=0.0 if blend is None else blend.weight, fold_members=len(keep) - e)
    return self

  def _fitted(self) -> ranker_export.LoadedRanker:
    if self._ranker is None:
      raise errors.ConfigError("call fit() (or JaxnasPredictor.load) before querying")
    return self._ranker

  def query_with_std(self, xtest: Sequence, info=None) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble mean and std of standardised scores, each ``[n]``."""
    del info
    ranker = self._fitted()
    enc = self.encode(xtest)
    arrays = graphs_lib.encode(self.space, enc, self._globals(enc))
    raw = train.score_arrays(ranker.graphdef, ranker.params, graphs_lib.template_for(self.space),
                             arrays)
    z = (raw - ranker.score_mean[:, None]) / ranker.score_std[:, None]
    w = ranker.blend_weight
    return linear_blend.blend(z.mean(axis=0), ranker.linear_fn(enc), w), (1 - w) * z.std(axis=0)

  def query(self, xtest: Sequence, info=None) -> np.ndarray:
    """Scores ``[n]`` (higher = predicted better)."""
    return self.query_with_std(xtest, info)[0]

  # ----------------------------------------------------------- beyond NASLib
  def top_k(self, k: int, *, num_candidates: int | None = None, chunk_size: int = 4096,
            seed: int = 0, state_path: str | None = None) -> streaming.TopK:
    """The ``k`` best-scored architectures of the whole space, streamed.

    Chunks of ``chunk_size`` candidates are scored in one jitted call each and
    merged into a top-k kept on device (:func:`jaxnas.stream_top_k`), so memory
    stays flat however large the space is.

    Args:
      k: candidates to keep.
      num_candidates: None scores every architecture of a finite space;
        otherwise this many seeded uniform samples (needed for infinite or
        huge spaces; may repeat architectures).
      chunk_size: candidates per jitted call.
      seed: seed of the samples when ``num_candidates`` is set.
      state_path: optional ``.npz`` of the running state (resumable sweeps).

    Returns:
      A :class:`jaxnas.streaming.TopK`: ``encodings [k, D]``, ``scores [k]``
      (best first, the scale of :meth:`query`), ``std [k]``.
    """
    ranker = self._fitted()
    if num_candidates is None:
      if not self.space.is_finite_enumerable:
        raise errors.ConfigError(f"{self.space.name} is too large to enumerate; pass num_candidates")
      chunks = streaming.exhaustive_chunks(self.space, chunk_size)
      total = self.space.num_combinations
    else:
      chunks = streaming.sampled_chunks(self.space, chunk_size, num_candidates, seed=seed)
      total = num_candidates
    return streaming.stream_top_k(
        self.space, ranker.graphdef, ranker.params, chunks, chunk_size=chunk_size, top_k=k,
        score_norm=(ranker.score_mean, ranker.score_std), globals_fn=ranker.globals_fn,
        state_path=state_path, total=total, sub_chunk=min(1024, chunk_size),
        linear_fn=ranker.linear_fn, blend_weight=ranker.blend_weight)

  @property
  def params(self) -> types.RankerParams:
    """The fitted members' parameters, stacked on axis 0."""
    return self._fitted().params

  def save(self, directory: str) -> None:
    """Writes the fitted ranker to ``directory`` (orbax; replaces an earlier save atomically).

    The format is :func:`jaxnas.ranker_export.export_ranker`'s, the one
    ``experiments.train_ranker`` writes and ``experiments.score`` reads.
    """
    ranker = self._fitted()
    if not self.space.spec:
      raise errors.ConfigError(
          "saving needs a space built from a spec string (jaxnas.spaces.get_space) so that "
          "load() can rebuild it")
    ranker_export.export_ranker(
        directory, space_spec=self.space.spec, model_config=ranker.model_config,
        params=ranker.params, feature_mean=ranker.feature_mean, feature_std=ranker.feature_std,
        score_mean=ranker.score_mean, score_std=ranker.score_std, linear=ranker.linear,
        blend_weight=ranker.blend_weight, fold_members=ranker.fold_members)

  @classmethod
  def load(cls, directory: str) -> "JaxnasPredictor":
    """A predictor ready to query, from :meth:`save` or a train_ranker workdir."""
    ranker = ranker_export.load_ranker(directory)
    predictor = cls(ranker.space, model_config=ranker.model_config,
                    ensemble_size=ranker.num_members - ranker.fold_members,
                    use_cost_features=ranker.feature_mean is not None,
                    blend_folds=ranker.fold_members)
    predictor._ranker = ranker  # pylint: disable=protected-access
    return predictor
