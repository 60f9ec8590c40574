"""Per-architecture input features computed from the architecture alone.

Cost counts that a space can compute exactly (NB201: parameters and FLOPs) are
cheap and strongly tied to accuracy (params alone: Spearman ~0.75 on NB201), so
rankers may take them as graph-level inputs. No benchmark column is read here:
everything comes from the encodings.
"""

from __future__ import annotations

import numpy as np

from jaxnas.spaces import base

__all__ = ["cost_features", "standardize"]


def cost_features(space: base.Space, encodings: base.Encodings) -> np.ndarray:
  """Raw cost features ``[N, G]`` (log params, log FLOPs) or ``[N, 0]``.

  Spaces expose them through optional ``params(encodings)`` / ``flops(encodings)``
  methods; spaces without them get no features.
  """
  enc = np.asarray(encodings)
  cols = []
  for name in ("params", "flops"):
    fn = getattr(space, name, None)
    if callable(fn):
      cols.append(np.log(np.asarray(fn(enc), np.float64) + 1e-6))
  if not cols:
    return np.zeros((enc.shape[0], 0), np.float32)
  return np.stack(cols, axis=1).astype(np.float32)


def standardize(features: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
  """Z-scores columns with the mean/std of ``reference`` (default: itself).

  The reference is an unlabelled set of architectures (e.g. the whole pool),
  so standardising uses no labels.
  """
  ref = features if reference is None else reference
  mu = ref.mean(axis=0, keepdims=True)
  sd = ref.std(axis=0, keepdims=True) + 1e-8
  return ((features - mu) / sd).astype(np.float32)
