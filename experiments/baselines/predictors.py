"""Non-jaxnas predictors run side by side with jaxnas in the sweep.

* ``params``: rank by parameter count computed from the architecture.
* ``xgb_onehot``: XGBoost regression on a one-hot op encoding.
* ``xgb_onehot_params``: the same plus the parameter count.
* ``xgb_onehot_params_naswot``: plus the benchmark's published NASWOT score
  (a benchmark column, so it is *not* an architecture-only input; shown for
  calibration against the weak-supervision issue).
* ``xgb_onehot_params_zc``: one-hot + params + jaxnas's own zero-cost weak labels
  (NASWOT, synflow, random-weight probe; :mod:`jaxnas.evaluate.weak_labels`),
  architecture-only inputs computed by jaxnas (pass ``weak=`` to :func:`predict`).

XGBoost settings follow NASLib's XGBoost predictor defaults.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxnas import features
from jaxnas.spaces import base

NAMES = ("params", "xgb_onehot", "xgb_onehot_params", "xgb_onehot_params_naswot",
         "xgb_onehot_params_zc")
ZC_COLUMNS = ("naswot", "synflow", "probe_accuracy")


def _design(space: base.Space, encodings: np.ndarray, name: str, bench, weak=None) -> np.ndarray:
  cols = [base.one_hot(space, encodings)]
  if "params" in name:
    cost = features.cost_features(space, encodings)
    cols.append(cost[:, :1])
  if "naswot" in name:
    col = bench.metric("naswot").copy()
    col[~np.isfinite(col)] = np.nanmin(col)
    cols.append(col[:, None])
  if name.endswith("_zc"):
    if weak is None:
      raise ValueError(f"{name} needs the weak-label table (weak=)")
    z = weak.matrix(ZC_COLUMNS).copy()
    for j in range(z.shape[1]):  # -inf (no input-output path): the column's floor
      ok = np.isfinite(z[:, j])
      z[~ok, j] = z[ok, j].min()
    cols.append(z)
  return np.concatenate(cols, axis=1)


def predict(name: str, bench, train_rows: np.ndarray, labels: np.ndarray, seed: int,
            weak=None) -> np.ndarray:
  """Scores ``[N]`` for every arch of ``bench`` from a baseline fit on ``train_rows``.

  ``weak``: the benchmark's weak-label table (rows in benchmark order) for ``*_zc``.
  """
  space = bench.space
  if name == "params":
    cost = features.cost_features(space, bench.encodings)
    if cost.shape[1] == 0:
      raise ValueError(f"{space.name} has no params() to rank by")
    return cost[:, 0]
  import xgboost  # pylint: disable=import-outside-toplevel
  x = _design(space, bench.encodings, name, bench, weak)
  # The native API (no scikit-learn needed).
  params = {"max_depth": 6, "eta": 0.05, "subsample": 0.9, "colsample_bytree": 0.9,
            "min_child_weight": 1, "seed": seed, "nthread": 2, "verbosity": 0,
            "objective": "reg:squarederror"}
  booster = xgboost.train(params, xgboost.DMatrix(x[train_rows], label=labels[train_rows]),
                          num_boost_round=500)
  return booster.predict(xgboost.DMatrix(x))


def available(name: str, space: base.Space) -> tuple[bool, str]:
  """Whether a baseline can run here (xgboost installed, params computable)."""
  if "params" in name and features.cost_features(space, space.sample(
      jax.random.key(0), 1)).shape[1] == 0:
    return False, f"{space.name} cannot compute parameter counts from the architecture"
  if name == "params":
    return True, ""
  try:
    import xgboost  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  except ImportError:
    return False, "xgboost not installed (pip install jaxnas[bench])"
  return True, ""


def sweep_methods(names, config, *, log, pretrain_mode: str = "none", weak_labels_path=None,
                  images_dir=None):
  """A ``protocol.sweep`` methods factory: the baselines ``names`` that can run on the
  loaded benchmark (the others are logged as skipped), each as ``(rows, seed) -> scores``."""
  def factory(loaded):
    # pylint: disable=import-outside-toplevel
    from jaxnas import errors
    from jaxnas.evaluate import weak_labels
    # pylint: enable=import-outside-toplevel
    bench, weak, out = loaded.bench, None, {}
    for name in names:
      ok, why = available(name, bench.space)
      if not ok:
        log(f"baseline {name} skipped: {why}")
        continue
      if name.endswith("naswot") and "naswot" not in bench.metrics:
        log(f"baseline {name} skipped: the benchmark has no naswot column")
        continue
      if name.endswith("_zc") and weak is None:
        try:  # jaxnas's own zero-cost weak labels (cached; computed if missing)
          weak = weak_labels.load_or_compute(
              bench.space, bench.encodings, config.pretrain.weak,
              path=weak_labels_path if pretrain_mode == "zero_cost" else None,
              images_dir=images_dir, log=log)
        except errors.JaxnasError as e:
          log(f"baseline {name} skipped: {e}")
          continue
      out[name] = (lambda rows, seed, name=name, weak=weak:
                   predict(name, bench, rows, loaded.labels, seed, weak=weak))
    return out
  return factory
