"""A second ranker beside the GNN, blended with it linearly by a weight chosen on held-out folds.

Why: with tens of labelled architectures a GNN trained to a near-zero ranking
loss can rank worse than a ridge regression on the one-hot choices
(NAS-Bench-Graph citeseer at 20 archs: Kendall tau 0.19 vs 0.34), while on other
spaces the ridge is far worse (NB201 at 20 archs: 0.23 vs 0.61). Which one to
trust, and how much, shows in the training data itself: the protocol trains K
fold members per ranker (each without one fold of the training archs, inside
the same vmapped program as the ranker) and compares out-of-fold predictions.

* The second ranker: kernel ridge regression of the labels' normal scores
  (:func:`jaxnas.reference_baseline.normal_scores`) on the one-hot choices plus the
  GNN's own standardised cost features (:func:`design`), with a linear + RBF kernel
  (:func:`kernel`), its length scale and penalty chosen by closed-form
  leave-one-out error (:func:`fit_kernel_ridge`), and the counts of one
  Weisfeiler-Lehman step's node labels (an op and its predecessors' ops,
  :mod:`jaxnas.wl_features`) added where that lowers the leave-one-out error by
  :data:`WL_LOO_GAIN` (:func:`fit_second_ranker`); the plain ridge
  (:func:`jaxnas.reference_baseline.fit_ridge`) above :data:`KERNEL_MAX_ARCHS`
  training archs. Why a kernel: the ridge of earlier stops sees only additive
  effects of the choices; the RBF part lets archs that share most choices share
  their quality. Replayed on 240 recorded runs of 24 table/size cells (NB201,
  NB101, NAS-Bench-Graph, the synthetic chains, 20-100 archs), it lifts the blend
  in 21 cells (NAS-Bench-Graph pubmed at 20 archs +0.013, the width chain at 80
  +0.010) and costs at most 0.002 in the other 3 (docs/predictor.md, "Stop 25").
  The names ``linear`` (results, exports, evidence files) keep meaning "the
  second ranker" for compatibility.
* The blend: ``(1 - w) * gnn + w * z(linear)``, ``w`` a weighted mean of
  :data:`BLEND_WEIGHTS`. Each candidate weight gets the Kendall tau of its
  out-of-fold blend on the training archs; the best one (the GNN alone credited
  :data:`GNN_MARGIN`) is compared with each other by the z-score of their paired
  tau difference (its standard error from the per-arch concordance terms, the
  Hoeffding variance of a U-statistic), and weight ``k`` gets the share
  ``exp(-z_k**2 / 2)``. Why not the argmax: the out-of-fold tau of tens of archs
  is noisy (standard error about ``0.67 / sqrt(n)``), and a hard choice jumps
  between the GNN and the ridge by chance (NAS-Bench-Graph pubmed at 40 archs: the
  hard choice with a minimum gain of 0.01 ranked 0.038 below the best fixed
  weight). Why paired: blends of the same two rankers are strongly correlated,
  so a small but consistent difference (NB201 at hundreds of archs) is many
  standard errors and takes the whole share, while at 20 archs the shares
  spread. Why the margin: fold members train on 4/5 of the archs, and the GNN
  gains more from the missing fifth than the ridge does, so out-of-fold taus
  favour the ridge (NB201 CIFAR-10 at 78-156 archs: blends that the folds scored
  level with the GNN alone ranked 0.004-0.006 below it).
* Repeated splits for few archs: below :data:`CHOICE_ARCHS` training archs the K
  folds are drawn :func:`fold_repeats` times (other partitions, other member
  seeds), each arch's concordance terms averaged over the repeats. This removes
  the part of the out-of-fold noise that comes from which archs share a fold and
  from the members' seeds (the labels' own noise stays). Only the first repeat's
  members join the ensemble: more bagging did not lift the GNN where repeats are
  drawn (NAS-Bench-Graph citeseer at 20 archs: 0.242 with 6 members, 0.244 with
  21), and each member costs a forward pass per scored candidate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import config_checks
from jaxnas import errors
from jaxnas import reference_baseline
from jaxnas import wl_features
from jaxnas.spaces import base

__all__ = ["BLEND_WEIGHTS", "Blend", "CHOICE_ARCHS", "Design", "FoldSplit", "GNN_MARGIN",
           "KERNEL_MAX_ARCHS", "KernelRanker", "LENGTH_SCALES", "LINEAR_KERNEL_SCALE",
           "LinearRanker", "MAX_REPEATS", "WL_LOO_GAIN", "blend", "check_folds", "choose_weight",
           "concordance_terms", "design", "fit", "fit_blend", "fit_kernel_ridge", "fit_scored",
           "fit_second_ranker", "fold_ids", "fold_repeats", "fold_splits", "kernel",
           "ranker_from_json", "second_ranker_kind", "with_wl_counts"]

BLEND_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
# Out-of-fold Kendall tau credited to the GNN alone (see the module docstring).
# Chosen on recorded out-of-fold scores of NAS-Bench-Graph, the synthetic chains,
# NB201 and NB101 (docs/predictor.md): 0 costs NB201 up to 0.004 at 78-156 archs,
# 0.05 gives back up to 0.005 on NAS-Bench-Graph at 40 archs.
GNN_MARGIN = 0.02
# Out-of-fold predictions per arch the weight choice aims for: below this many
# training archs the K-fold split is repeated (:func:`fold_repeats`), at most
# MAX_REPEATS times (docs/predictor.md, "Stop 23").
CHOICE_ARCHS = 60
MAX_REPEATS = 3
# The second ranker's kernel (:func:`kernel`): weight of its linear part, and the
# RBF length scales (times sqrt(F), F design columns) that leave-one-out chooses
# from (docs/predictor.md, "Stop 25").
LINEAR_KERNEL_SCALE = 4.0
LENGTH_SCALES = (0.25, 0.5, 1.0, 2.0)
# Above this many training archs the second ranker is the plain ridge: the kernel
# ridge costs one n x n eigendecomposition per length scale and fold member
# (0.5 s at 1,563 archs, 3 s at 3,000 on 2 CPU cores, 14 s at 5,000); at NB201's
# 1,563 archs the GNN alone already takes the whole blend weight.
KERNEL_MAX_ARCHS = 2000
# How much lower (relatively) the leave-one-out error with WL label counts must be
# for the second ranker to take them (:func:`fit_second_ranker`): tens of extra
# columns lower it by chance at 20-80 archs (with no margin they were taken on
# NAS-Bench-Graph pubmed and cost its blend up to 0.007; docs/predictor.md "Stop 26").
WL_LOO_GAIN = 0.10


@dataclasses.dataclass(frozen=True)
class Design:
  """The second ranker's inputs for ``N`` architectures.

  Attributes:
    x: float64 ``[N, F]`` one-hot choices and standardised cost features.
    wl: uint64 ``[N, V]`` one Weisfeiler-Lehman step's node labels
      (:func:`jaxnas.wl_features.node_labels`): the extra columns a kernel ridge
      may take (:func:`fit_second_ranker`); None where the ranker that reads this
      design took none (an export's chunks, :func:`design`).
  """

  x: np.ndarray
  wl: np.ndarray | None

  def take(self, rows) -> "Design":
    return Design(self.x[rows], None if self.wl is None else self.wl[rows])


def with_wl_counts(d: Design, vocab: np.ndarray | None) -> np.ndarray:
  """``d``'s design columns, then the counts of ``vocab``'s WL labels (none for None):
  float64 ``[N, F + K]``."""
  if vocab is None:
    return d.x
  if d.wl is None:
    raise ValueError("this design was built without WL labels (design(wl_labels=False))")
  return np.concatenate([d.x, wl_features.counts(d.wl, vocab)], axis=1)


def design(space: base.Space, encodings: np.ndarray, pool_globals: np.ndarray | None, *,
           wl_labels: bool = True) -> Design:
  """The second ranker's inputs: one-hot choices, standardised cost features, WL labels.

  Args:
    space: the architectures' space.
    encodings: int ``[N, D]``.
    pool_globals: float ``[N, G]`` standardised cost features (the GNN's), or None.
    wl_labels: whether to compute the WL labels (they encode every architecture's
      graph once more: an exported ranker whose second ranker took none skips them).
  """
  x = base.one_hot(space, encodings).astype(np.float64)
  if pool_globals is not None and pool_globals.shape[1]:
    x = np.concatenate([x, np.asarray(pool_globals, np.float64)], axis=1)
  return Design(x, wl_features.node_labels(space, encodings) if wl_labels else None)


@dataclasses.dataclass(frozen=True)
class LinearRanker:
  """A fitted ridge whose scores are standardised over the pool it was fit beside.

  Attributes:
    weights: ``[F]`` over :func:`design`'s columns.
    intercept: the fitted intercept.
    mean: mean of the raw scores over the pool.
    std: their standard deviation.
  """

  weights: np.ndarray
  intercept: float
  mean: float
  std: float
  kind: ClassVar[str] = "ridge"
  num_wl_labels: ClassVar[int] = 0  # reads the one-hot and cost columns only

  def scores(self, d: Design) -> np.ndarray:
    """Standardised scores ``[N]`` of ``d`` (its one-hot and cost columns)."""
    return (d.x @ self.weights + self.intercept - self.mean) / self.std

  def scores_f32(self, d: Design) -> np.ndarray:
    """:meth:`scores` as float32 (the interface of :meth:`KernelRanker.scores_f32`)."""
    return self.scores(d).astype(np.float32)

  def to_json(self) -> dict:
    return {"kind": self.kind, "weights": self.weights.tolist(), "intercept": self.intercept,
            "mean": self.mean, "std": self.std}

  @classmethod
  def from_json(cls, d: dict) -> "LinearRanker":
    return cls(np.asarray(d["weights"], np.float64), float(d["intercept"]), float(d["mean"]),
               float(d["std"]))


def kernel(a, b, length_scale: float, xp=np):
  """The second ranker's kernel ``[len(a), len(b)]`` between design rows.

  ``LINEAR_KERNEL_SCALE * a.b / F + exp(-|a - b|^2 / (2 length_scale^2))``: the
  linear part is the ridge of earlier stops (additive effects of the choices),
  the RBF part lets two architectures that share most choices share their
  quality (interactions between positions; on one-hot rows ``|a - b|^2`` is
  twice the number of differing choices).

  Args:
    a: ``[p, F]`` design rows.
    b: ``[q, F]`` design rows.
    length_scale: the RBF part's length scale.
    xp: ``numpy`` (float64, for fitting) or ``jax.numpy`` (inside the jitted scorer of
      :meth:`KernelRanker.scores_f32`): one definition for both.
  """
  ab = a @ b.T
  sq = xp.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * ab, 0.0)
  return LINEAR_KERNEL_SCALE * ab / a.shape[1] + xp.exp(-sq / (2.0 * length_scale ** 2))


@jax.jit
def _kernel_scores_f32(x, train_x, alpha, length_scale):
  return kernel(x, train_x, length_scale, xp=jnp) @ alpha


@dataclasses.dataclass(frozen=True)
class KernelRanker:
  """A fitted kernel ridge (:func:`kernel`) standardised over the pool it was fit beside.

  Attributes:
    train_x: ``[n, F']`` feature rows (:meth:`features`) of the training archs.
    alpha: ``[n]`` dual coefficients.
    intercept: added to ``kernel(x, train_x) @ alpha``.
    length_scale: the RBF part's length scale.
    mean: mean of the raw scores over the pool.
    std: their standard deviation.
    wl_vocab: uint64 ``[K]`` the WL labels whose counts follow the design columns
      (:func:`fit_second_ranker`), or None: the design columns alone.
  """

  train_x: np.ndarray
  alpha: np.ndarray
  intercept: float
  length_scale: float
  mean: float = 0.0
  std: float = 1.0
  wl_vocab: np.ndarray | None = None
  kind: ClassVar[str] = "kernel_ridge"

  @property
  def num_wl_labels(self) -> int:
    """How many WL label-count columns follow the design columns (0: none)."""
    return 0 if self.wl_vocab is None else len(self.wl_vocab)

  def features(self, d: Design) -> np.ndarray:
    """The kernel's input rows ``[N, F']`` of ``d`` (:func:`with_wl_counts`)."""
    return with_wl_counts(d, self.wl_vocab)

  def raw(self, x: np.ndarray, block: int = 4096) -> np.ndarray:
    """Unstandardised scores ``[N]`` of feature rows ``x`` ``[N, F']`` (blockwise: memory
    ``O(block * n)``)."""
    x = np.asarray(x, np.float64)
    out = np.empty(len(x))
    for a in range(0, len(x), block):
      out[a:a + block] = kernel(x[a:a + block], self.train_x, self.length_scale) @ self.alpha
    return out + self.intercept

  def scores(self, d: Design) -> np.ndarray:
    """Standardised scores ``[N]`` of ``d``."""
    return (self.raw(self.features(d)) - self.mean) / self.std

  def scores_f32(self, d: Design, block: int = 4096) -> np.ndarray:
    """:meth:`scores` in float32 through one jitted program per ``block`` rows.

    What an exported ranker scores new candidates with: all 15,625 NB201 cells
    against 500 / 2,000 training archs in 12 / 50 ms instead of 129 / 524 ms (the
    GNN: 155 ms), the standardised scores within 3e-8 of the float64 path
    (``python -m experiments.bench_blend_scoring``, 2-core CPU). Rows are padded to
    whole blocks, so any number of candidates compiles once.
    """
    x = np.asarray(self.features(d), np.float32)
    n = len(x)
    padded = np.zeros((-(-n // block) * block, x.shape[1]), np.float32)
    padded[:n] = x
    args = (jnp.asarray(self.train_x, jnp.float32), jnp.asarray(self.alpha, jnp.float32),
            jnp.float32(self.length_scale))
    raw = np.concatenate([np.asarray(_kernel_scores_f32(padded[a:a + block], *args))
                          for a in range(0, len(padded), block)])[:n]
    return ((raw + self.intercept - self.mean) / self.std).astype(np.float32)

  def to_json(self) -> dict:
    return {"kind": self.kind, "train_x": self.train_x.tolist(), "alpha": self.alpha.tolist(),
            "intercept": self.intercept, "length_scale": self.length_scale, "mean": self.mean,
            "std": self.std,
            # uint64 labels as decimal strings: JSON readers may hold numbers as doubles.
            "wl_vocab": None if self.wl_vocab is None else [str(v) for v in self.wl_vocab]}

  @classmethod
  def from_json(cls, d: dict) -> "KernelRanker":
    vocab = d.get("wl_vocab")  # absent in exports written before WL labels
    return cls(np.asarray(d["train_x"], np.float64), np.asarray(d["alpha"], np.float64),
               float(d["intercept"]), float(d["length_scale"]), float(d["mean"]), float(d["std"]),
               None if vocab is None else np.asarray([int(v) for v in vocab], np.uint64))


def ranker_from_json(d: dict) -> "KernelRanker | LinearRanker":
  """The second ranker of an exported ranker's metadata (``kind`` absent: a ridge,
  as exported before the kernel ridge)."""
  kind = d.get("kind", LinearRanker.kind)
  for cls in (KernelRanker, LinearRanker):
    if kind == cls.kind:
      return cls.from_json(d)
  raise ValueError(f"unknown second ranker kind {kind!r}")


def _fit_kernel_ridge_loo(x: np.ndarray, y: np.ndarray) -> tuple[float, KernelRanker]:
  """Kernel ridge of the centred targets; length scale and penalty by leave-one-out.

  The model is a Gaussian process mean: ``mean(y) + k(x, X) (K + a I)^-1 (y - mean(y))``
  (targets centred, kernel not: the kernel's own constant part stays penalised,
  which ranked better at 20 archs than an unpenalised intercept on the centred
  kernel — NAS-Bench-Graph pubmed 0.306 vs 0.292, docs/predictor.md "Stop 25").
  Leave-one-out error through one eigendecomposition of ``K`` per length scale,
  the leverages ``diag(K (K + a I)^-1) + 1/n`` (the 1/n for the refitted mean),
  as :func:`jaxnas.reference_baseline.fit_ridge` does through one SVD.

  Args:
    x: float ``[n, F]`` train design.
    y: float ``[n]`` train targets.

  Returns:
    ``(loo, ranker)``: the chosen fit's leave-one-out mean squared error, and the
    ranker, unstandardised (``mean`` 0, ``std`` 1).
  """
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  my = y.mean()
  yc = y - my
  best = None
  for scale in LENGTH_SCALES:
    length_scale = scale * math.sqrt(x.shape[1])
    ev, vecs = np.linalg.eigh(kernel(x, x, length_scale))
    ev = np.maximum(ev, 0.0)
    vty = vecs.T @ yc
    for a in reference_baseline.ALPHAS:
      shrink = ev / (ev + a)
      lev = (vecs ** 2 * shrink).sum(axis=1) + 1.0 / len(y)
      # A leverage of 1 or more: the fit interpolates and the formula (its 1/n an
      # approximation for the refitted mean) says nothing; such a point is never chosen.
      loo = (np.mean(((yc - vecs @ (shrink * vty)) / (1.0 - lev)) ** 2) if (lev < 1.0).all()
             else np.inf)
      key = (loo, -a, -length_scale)  # all undefined: the smoothest fit
      if best is None or key < best[0]:
        best = (key, length_scale, vecs @ (vty / (ev + a)))
  (loo, _, _), length_scale, alpha = best
  return float(loo), KernelRanker(x, alpha, float(my), float(length_scale))


def fit_kernel_ridge(x: np.ndarray, y: np.ndarray) -> KernelRanker:
  """:func:`_fit_kernel_ridge_loo`'s ranker on feature rows ``x`` ``[n, F]``, targets ``[n]``."""
  return _fit_kernel_ridge_loo(x, y)[1]


def fit_second_ranker(d: Design, y: np.ndarray) -> KernelRanker:
  """The kernel ridge on the training archs' design, with or without WL label counts.

  Both are fit (:func:`fit_kernel_ridge`); the one with the counts of the WL labels
  that occur among these archs (:mod:`jaxnas.wl_features`) is kept only if its
  leave-one-out error is below ``(1 - WL_LOO_GAIN)`` times the other's. Why
  leave-one-out decides: neighbour pairs carry the rule of some spaces (the width
  chain's bottleneck term: +0.06 to +0.12 at 20-80 archs) and only add noise on
  others (NAS-Bench-Graph, whose one-hot already names every connection), and the
  training archs are all there is to tell them apart (docs/predictor.md, "Stop 26").

  Args:
    d: the training archs' :class:`Design` (``n`` rows).
    y: ``[n]`` targets.
  """
  loo, plain = _fit_kernel_ridge_loo(d.x, y)
  vocab = wl_features.vocabulary(d.wl)
  if not len(vocab):
    return plain
  loo_wl, with_wl = _fit_kernel_ridge_loo(with_wl_counts(d, vocab), y)
  if loo_wl < (1.0 - WL_LOO_GAIN) * loo:
    return dataclasses.replace(with_wl, wl_vocab=vocab)
  return plain


def fit(d: Design, rows: np.ndarray, labels: np.ndarray) -> KernelRanker | LinearRanker:
  """The second ranker on ``d.take(rows)`` against the normal scores of ``labels[rows]``;
  standardised over all of ``d``.

  A kernel ridge (:func:`fit_second_ranker`) up to :data:`KERNEL_MAX_ARCHS` training
  archs, the plain ridge above (:func:`second_ranker_kind`).
  """
  return fit_scored(d, rows, labels)[0]


def fit_scored(d: Design, rows: np.ndarray,
               labels: np.ndarray) -> tuple[KernelRanker | LinearRanker, np.ndarray]:
  """:func:`fit` and the ranker's standardised scores ``[N]`` of ``d``, from the one pass
  over the pool that its standardisation needs."""
  rows = np.asarray(rows)
  y = reference_baseline.normal_scores(np.asarray(labels)[rows])
  if second_ranker_kind(len(rows)) == LinearRanker.kind:
    w, b, _ = reference_baseline.fit_ridge(d.x[rows], y)
    raw = d.x @ w + b
    ranker = LinearRanker(w, float(b), float(raw.mean()), float(raw.std() + 1e-12))
  else:
    ranker = fit_second_ranker(d.take(rows), y)
    raw = ranker.raw(ranker.features(d))
    ranker = dataclasses.replace(ranker, mean=float(raw.mean()), std=float(raw.std() + 1e-12))
  return ranker, (raw - ranker.mean) / ranker.std




def second_ranker_kind(n: int) -> str:
  """``"kernel_ridge"`` for up to :data:`KERNEL_MAX_ARCHS` training archs, else ``"ridge"``."""
  return KernelRanker.kind if n <= KERNEL_MAX_ARCHS else LinearRanker.kind


def fold_ids(n: int, folds: int, seed: int | Sequence[int]) -> np.ndarray:
  """Balanced fold of each of ``n`` training archs, ``[n]`` ints in ``[0, folds)``."""
  ids = np.empty(n, np.int64)
  ids[np.random.default_rng(seed).permutation(n)] = np.arange(n) % folds
  return ids


def check_folds(folds: int) -> int:
  """``folds`` if it is 0 (the GNN alone) or >= 2, else ConfigError."""
  config_checks.check_int("blend_folds", folds, low=0)
  if folds == 1:
    raise errors.ConfigError("blend_folds=1: use 0 (the GNN alone) or >= 2 folds")
  return folds


def fold_repeats(n: int) -> int:
  """How many K-fold splits of ``n`` training archs choose the weight: the fewest
  with ``repeats * n >= CHOICE_ARCHS``, at most :data:`MAX_REPEATS`."""
  return min(MAX_REPEATS, max(1, math.ceil(CHOICE_ARCHS / max(n, 1))))


@dataclasses.dataclass(frozen=True)
class FoldSplit:
  """One fold member: the rows it trains on, the rows it holds out, its seed.

  Attributes:
    train_rows: ``[n - h]`` training archs the member sees.
    holdout_rows: ``[h]`` the fold it does not see (its out-of-fold predictions).
    seed: the member's split and init seed.
    repeat: which repeated split it belongs to (0: the one whose members join
      the ensemble).
  """

  train_rows: np.ndarray
  holdout_rows: np.ndarray
  seed: int
  repeat: int

  @property
  def joins_ensemble(self) -> bool:
    """Whether the member joins the ranker's ensemble once it has chosen (repeat 0)."""
    return self.repeat == 0


def fold_splits(rows: np.ndarray, folds: int, seed: int) -> list[FoldSplit]:
  """The fold members of one ranker, :func:`fold_repeats` K-fold splits of ``rows``.

  None (an empty list) when ``folds`` is 0 or there are fewer archs than folds.
  Repeat 0 is the split (and the seeds) of a single K-fold split, so runs with
  enough archs for one repeat are unchanged by the repeats. The member seeds
  (``seed * 1000 + 500 + repeat * folds + k``) stay clear of the ensemble's
  (``seed * 1000 + k``).
  """
  rows = np.asarray(rows)
  if not 2 <= folds <= len(rows):
    return []
  out = []
  for r in range(fold_repeats(len(rows))):
    fold = fold_ids(len(rows), folds, seed if r == 0 else (seed, r))
    out += [FoldSplit(rows[fold != k], rows[fold == k], seed * 1000 + 500 + r * folds + k, r)
            for k in range(folds)]
  return out


def blend(gnn, linear, weight):
  """``(1 - weight) * gnn + weight * linear`` (arrays of standardised scores, any shape)."""
  return (1 - weight) * gnn + weight * linear


def concordance_terms(scores: np.ndarray, labels: np.ndarray, block: int = 1024) -> np.ndarray:
  """Per-arch Kendall terms ``c_i = sum_j sign(s_i - s_j) sign(y_i - y_j) / (n - 1)``.

  Their mean is Kendall's tau-a; blockwise so memory stays ``O(block * n)``.

  Args:
    scores: ``[n]``.
    labels: ``[n]``.
    block: rows per block.

  Returns:
    float64 ``[n]``.
  """
  s, y = np.asarray(scores, np.float64), np.asarray(labels, np.float64)
  n = len(s)
  out = np.empty(n)
  for a in range(0, n, block):
    out[a:a + block] = (np.sign(s[a:a + block, None] - s) * np.sign(y[a:a + block, None] - y)).sum(1)
  return out / max(n - 1, 1)


def choose_weight(oof_gnn: np.ndarray, oof_linear: np.ndarray, labels: np.ndarray,
                  gnn_margin: float | None = None) -> tuple[float, list[float]]:
  """The blend weight from out-of-fold scores (the rule of the module docstring).

  Args:
    oof_gnn: ``[n]`` or ``[R, n]`` out-of-fold GNN scores of the training archs
      (each from the fold member that did not see it, standardised over the
      pool), one row per repeated split.
    oof_linear: out-of-fold linear scores, standardised the same way, shaped as
      ``oof_gnn``.
    labels: ``[n]`` their labels.
    gnn_margin: out-of-fold tau credited to the GNN alone (None:
      :data:`GNN_MARGIN`; other values are for replaying recorded choices,
      :mod:`jaxnas.blend_replay`).

  Returns:
    ``(w, taus)``: the weight in ``[0, 1]`` (to 2 decimals; a smaller share moves
    no ranking that matters, and an exact 0 keeps the exported ranker free of
    the space-specific linear part) and the out-of-fold Kendall tau (tau-a: the
    mean of :func:`concordance_terms`, averaged over repeats) of every
    :data:`BLEND_WEIGHTS` entry.
  """
  oof_gnn, oof_linear = np.atleast_2d(oof_gnn), np.atleast_2d(oof_linear)
  # Per weight and arch, the concordance terms averaged over the repeats.
  terms = np.stack([np.mean([concordance_terms(blend(g, l, w), labels)
                             for g, l in zip(oof_gnn, oof_linear)], axis=0)
                    for w in BLEND_WEIGHTS])  # [W, n]
  taus = terms.mean(axis=1)
  credited = taus.copy()
  credited[0] += GNN_MARGIN if gnn_margin is None else gnn_margin
  best = int(np.argmax(credited))
  gap = credited[best] - credited  # [W] >= 0
  se = 2.0 * (terms[best] - terms).std(axis=1) / np.sqrt(terms.shape[1])
  z = np.divide(gap, se, out=np.where(gap > 0, np.inf, 0.0), where=se > 0)
  share = np.exp(-0.5 * z ** 2)
  return round(float(np.dot(share, BLEND_WEIGHTS) / share.sum()), 2), taus.tolist()


@dataclasses.dataclass(frozen=True)
class Blend:
  """How much of a second ranker to blend into a GNN's scores.

  Attributes:
    weight: ``w`` of ``(1 - w) * gnn + w * linear.scores(x)``.
    linear: the second ranker (kernel ridge, or ridge above :data:`KERNEL_MAX_ARCHS`)
      fit on all training archs.
    cv_taus: out-of-fold Kendall tau of every :data:`BLEND_WEIGHTS` entry.
    repeats: how many K-fold splits chose the weight.
    oof_rows: ``[n]`` the training archs (sorted) that the out-of-fold scores are of.
    oof_gnn: ``[repeats, n]`` the GNN's out-of-fold scores that chose the weight.
    oof_linear: ``[repeats, n]`` the second ranker's, likewise.
    scores: ``[N]`` the second ranker's standardised scores of the pool it was fit
      beside (what the weight blends).
  """

  weight: float
  linear: KernelRanker | LinearRanker
  cv_taus: list[float]
  repeats: int = 1
  oof_rows: np.ndarray | None = None
  oof_gnn: np.ndarray | None = None
  oof_linear: np.ndarray | None = None
  scores: np.ndarray | None = None


def fit_blend(d: Design, labels: np.ndarray, rows: np.ndarray,
              folds: Sequence[tuple[FoldSplit, np.ndarray]]) -> Blend:
  """Fits the second ranker and chooses its weight from the fold members.

  Args:
    d: the pool's :func:`design` (``N`` archs).
    labels: ``[N]`` labels (only ``rows`` are read).
    rows: ``[n]`` the training archs.
    folds: per fold member ``(split, gnn_z [N])``: its :class:`FoldSplit` and its
      standardised scores of the pool. Every repeat's folds cover ``rows`` once.
  """
  labels = np.asarray(labels)
  order = np.sort(np.asarray(rows))
  oof_gnn, oof_lin = [], []
  for r in sorted({split.repeat for split, _ in folds}):
    members = [(split, z) for split, z in folds if split.repeat == r]
    held = np.concatenate([split.holdout_rows for split, _ in members])
    if not np.array_equal(np.sort(held), order):
      raise ValueError(f"repeat {r}'s folds do not cover the training archs once")
    at = np.argsort(held)  # every repeat's predictions in the same arch order
    oof_gnn.append(np.concatenate([z[split.holdout_rows] for split, z in members])[at])
    oof_lin.append(np.concatenate([fit_scored(d, split.train_rows, labels)[1][split.holdout_rows]
                                   for split, _ in members])[at])
  oof_gnn, oof_lin = np.stack(oof_gnn), np.stack(oof_lin)
  weight, taus = choose_weight(oof_gnn, oof_lin, labels[order])
  linear, scores = fit_scored(d, rows, labels)
  return Blend(weight, linear, taus, repeats=len(oof_gnn), oof_rows=order, oof_gnn=oof_gnn,
               oof_linear=oof_lin, scores=scores)
