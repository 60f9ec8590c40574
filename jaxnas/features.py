"""Per-architecture input features computed from the architecture alone.

Cost counts that a space can compute exactly (NB201: parameters and FLOPs) are
cheap and strongly tied to accuracy (params alone: Spearman ~0.75 on NB201), so
rankers may take them as graph-level inputs. No benchmark column is read here:
everything comes from the encodings. Sources, first match wins:

* a user cost function ``space.cost_fn(encodings [N, D]) -> {name: [N]}``
  (costs >= 0, e.g. measured latency or a hand-written FLOP count;
  :func:`table_cost_fn` makes one from cost columns of a benchmark table);
* the space's own ``params(encodings)`` / ``flops(encodings)`` (NB201, NB101,
  chains whose every choice has a layer kind, see
  :mod:`jaxnas.spaces.chain`); a space whose ``cost_known`` is False has none.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxnas import errors
from jaxnas.spaces import base

__all__ = ["cost_feature_names", "cost_features", "describe", "standardize", "table_cost_fn"]


def _space_cost_methods(space: base.Space) -> list[str]:
  if not getattr(space, "cost_known", True):
    return []
  return [n for n in ("params", "flops") if callable(getattr(space, n, None))]


def cost_feature_names(space: base.Space) -> list[str]:
  """Names of the columns :func:`cost_features` returns (``log_<cost>``), possibly empty."""
  fn = getattr(space, "cost_fn", None)
  if fn is not None:
    names = getattr(fn, "names", None)  # declared, or probed on one sampled arch
    names = names if names is not None else fn(space.sample(jax.random.key(0), 1))
    return [f"log_{k}" for k in sorted(names)]
  return [f"log_{n}" for n in _space_cost_methods(space)]


def cost_features(space: base.Space, encodings: base.Encodings) -> np.ndarray:
  """Raw cost features ``[N, G]`` (log costs, columns :func:`cost_feature_names`) or ``[N, 0]``.

  Raises:
    ConfigError: a user cost function returned something other than one
      finite, non-negative value per architecture.
  """
  enc = np.asarray(encodings)
  fn = getattr(space, "cost_fn", None)
  if fn is not None:
    costs = fn(enc)
    raw = {}
    for k in sorted(costs):
      v = np.asarray(costs[k], np.float64)
      if v.shape != (enc.shape[0],) or not np.all(np.isfinite(v)) or np.any(v < 0):
        raise errors.ConfigError(
            f"{space.name}: cost function's {k!r} must be {enc.shape[0]} finite values >= 0, "
            f"got shape {v.shape}")
      raw[k] = v
  else:
    raw = {n: np.asarray(getattr(space, n)(enc), np.float64) for n in _space_cost_methods(space)}
  if not raw:
    return np.zeros((enc.shape[0], 0), np.float32)
  return np.stack([np.log(v + 1e-6) for v in raw.values()], axis=1).astype(np.float32)


def describe(space: base.Space, use_cost_features: bool = True) -> dict:
  """What a ranker on ``space`` is fed, for ``config.json``.

  Returns:
    ``{"node_ops": ..., "node_features": [...], "cost_features": [...],
    "cost_note": str, "second_ranker": str}``: names of the inputs, why no cost is
    used if none is, and what the second ranker blended beside the GNN reads
    (:mod:`jaxnas.linear_blend`).
  """
  names = cost_feature_names(space) if use_cost_features else []
  if names:
    note = "user cost function" if getattr(space, "cost_fn", None) is not None else (
        "computed by the space from the architecture")
  elif not use_cost_features:
    note = "cost features switched off (--nocost_features)"
  else:
    note = f"no cost known for {space.name}: the ranker gets no params/FLOPs"
  node = list(getattr(space, "node_feature_names", ()))
  return {"node_ops": f"categorical id among {len(space.node_vocab)}",
          "node_features": node, "cost_features": names, "cost_note": note,
          "second_ranker": ("kernel ridge on the one-hot choices and the cost features, plus "
                            "one WL step's node-label counts where leave-one-out prefers them "
                            "(per run: blend_wl_labels in the results)")}


def standardize(features: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
  """Z-scores columns with the mean/std of ``reference`` (default: itself).

  The reference is an unlabelled set of architectures (e.g. the whole pool),
  so standardising uses no labels.
  """
  ref = features if reference is None else reference
  mu = ref.mean(axis=0, keepdims=True)
  sd = ref.std(axis=0, keepdims=True) + 1e-8
  return ((features - mu) / sd).astype(np.float32)


class table_cost_fn:  # pylint: disable=invalid-name  (used like a function)
  """A ``space.cost_fn`` that reads cost columns of a benchmark table.

  ``bench.space.cost_fn = features.table_cost_fn(bench, ["params", "latency"])``
  feeds the table's measured costs to rankers (architectures outside the table
  raise :class:`~jaxnas.errors.OutOfDomainError`, as they have no cost).

  Args:
    bench: a :class:`jaxnas.data.benchmark.Benchmark`.
    columns: its cost columns (finite, >= 0 in every row).
  """

  def __init__(self, bench, columns):
    self.names = tuple(columns)
    self._bench = bench
    for c in self.names:
      v = bench.metric(c)
      if not np.all(np.isfinite(v)) or np.any(v < 0):
        raise errors.ConfigError(f"{bench.name}: cost column {c!r} must be finite and >= 0")

  def __call__(self, encodings: base.Encodings) -> dict[str, np.ndarray]:
    rows = self._bench.rows(encodings)
    return {c: self._bench.metric(c)[rows] for c in self.names}
