"""A dependency-light reference ranker that every protocol run reports beside its GNN.

One-hot ridge regression: the concatenated one-hot choices of an architecture
(:func:`jaxnas.spaces.one_hot`), centred, against the labels' normal scores (their
ranks mapped to standard-normal quantiles, :func:`normal_scores`), with the ridge
penalty picked from a grid by exact leave-one-out error (closed form through one
SVD of the train design). Normal scores rather than raw accuracies because NAS
tables have a heavy low tail (runs that diverged or barely trained): on raw labels
a few such archs pull the least-squares fit, and only the order is wanted
(NAS-Bench-Graph cs at 20 archs: Kendall tau 0.43 -> 0.48; NB201 0.26 -> 0.36).
Numpy only, milliseconds for the train sizes the protocol uses. A GNN that ranks
worse than this on the same split means the encoding or the defaults are off for
that space, so the protocol prints a warning.
"""

from __future__ import annotations

import numpy as np

from jaxnas.spaces import base

__all__ = ["ALPHAS", "NAME", "fit_ridge", "normal_scores", "onehot_ridge_scores", "warning"]

NAME = "onehot_ridge"
ALPHAS = tuple(float(a) for a in np.logspace(-3, 3, 13))


def normal_scores(y: np.ndarray) -> np.ndarray:
  """Standard-normal quantiles of the ranks of ``y`` ``[n]`` (ties share their mean rank).

  ``Phi^-1((rank - 0.5) / n)``: keeps the order of ``y`` and nothing else, so one
  outlying label moves the fit no more than any other.
  """
  from scipy import special, stats  # pylint: disable=import-outside-toplevel
  y = np.asarray(y, np.float64)
  return special.ndtri((stats.rankdata(y) - 0.5) / len(y))


def fit_ridge(x: np.ndarray, y: np.ndarray, alphas=ALPHAS) -> tuple[np.ndarray, float, float]:
  """Ridge regression with the penalty chosen by leave-one-out error.

  Args:
    x: float ``[n, d]`` train design.
    y: float ``[n]`` train targets.
    alphas: candidate penalties.

  Returns:
    ``(weights [d], intercept, alpha)``.
  """
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  mx, my = x.mean(axis=0), y.mean()
  xc, yc = x - mx, y - my
  u, s, vt = np.linalg.svd(xc, full_matrices=False)
  uty = u.T @ yc
  best = None
  for a in alphas:
    shrink = s ** 2 / (s ** 2 + a)
    fitted = u @ (shrink * uty)
    # Leverages of the ridge hat matrix (plus 1/n for the fitted intercept).
    lev = (u ** 2 * shrink).sum(axis=1) + 1.0 / len(y)
    loo = np.mean(((yc - fitted) / np.maximum(1.0 - lev, 1e-6)) ** 2)
    if best is None or loo < best[0]:
      best = (loo, a)
  alpha = best[1]
  w = vt.T @ (s / (s ** 2 + alpha) * uty)
  return w, float(my - mx @ w), alpha


def onehot_ridge_scores(space: base.Space, encodings: base.Encodings, labels: np.ndarray,
                        train_rows: np.ndarray) -> np.ndarray:
  """Scores ``[N]`` of all ``encodings`` ``[N, D]`` from one-hot ridge fit on ``train_rows``
  (against the normal scores of their labels)."""
  x = base.one_hot(space, encodings)
  w, b, _ = fit_ridge(x[train_rows], normal_scores(np.asarray(labels)[train_rows]))
  return x.astype(np.float64) @ w + b


def warning(method_tau: float, reference_tau: float, *, where: str = "") -> str | None:
  """A one-line warning when the GNN's Kendall tau is below the reference's, else None."""
  if not np.isfinite(method_tau) or not np.isfinite(reference_tau) or method_tau >= reference_tau:
    return None
  at = f" {where}" if where else ""
  return (f"WARNING{at}: the GNN ranks worse than the one-hot ridge reference "
          f"(kendalltau_all {method_tau:.3f} < {reference_tau:.3f}); the space's encoding or "
          "the training defaults may not suit this table")
