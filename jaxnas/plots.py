"""PNG plots of results (matplotlib, headless Agg backend).

matplotlib is an optional dependency (``pip install jaxnas[plot]``); importing
this module without it raises ImportError, which callers report and skip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position

__all__ = ["best_so_far", "lines", "pareto", "scatter"]


def scatter(path: str, predicted: np.ndarray, true: np.ndarray, *, title: str,
            xlabel: str = "predicted score", ylabel: str = "true accuracy") -> None:
  """Predicted vs true, one dot per architecture."""
  fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=120)
  ax.scatter(predicted, true, s=3, alpha=0.35, linewidths=0)
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.set_title(title, fontsize=9)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def lines(path: str, series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float] | None]],
          *, title: str, xlabel: str, ylabel: str, logx: bool = False) -> None:
  """Several named ``(x, y, yerr)`` series on one axis."""
  fig, ax = plt.subplots(figsize=(6, 4.2), dpi=120)
  for name, (x, y, err) in series.items():
    if err is None:
      ax.plot(x, y, marker="o", label=name)
    else:
      ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=name)
  if logx:
    ax.set_xscale("log")
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.set_title(title, fontsize=9)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def pareto(path: str, all_points: np.ndarray, true_front: np.ndarray, found: np.ndarray, *,
           xlabel: str, ylabel: str, found_label: str = "found front (true accuracy)",
           all_label: str = "architectures", front_label: str = "true front") -> None:
  """Two-objective fronts: every architecture, the true front and a found one.

  Args:
    all_points: ``[N, 2]`` (quality, cost) of every architecture (grey dots).
    true_front: ``[F, 2]`` the non-dominated ones (quality up, cost down).
    found: ``[K, 2]`` a search's front, at true quality.
    all_label, front_label, found_label: legend entries (``all_label`` after
      the count ``N``).
  """
  fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
  ax.scatter(all_points[:, 1], all_points[:, 0], s=2, c="0.8",
             label=f"{len(all_points)} {all_label}")
  tf = true_front[np.argsort(true_front[:, 1])]
  ax.step(tf[:, 1], tf[:, 0], where="post", c="k", lw=1, label=front_label)
  ax.scatter(found[:, 1], found[:, 0], s=14, c="C3", label=found_label)
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  low = min(np.percentile(all_points[:, 0], 5), found[:, 0].min() if len(found) else np.inf)
  ax.set_ylim(max(0, low - 5), max(all_points[:, 0].max(), found[:, 0].max(initial=0)) + 1)
  ax.legend(loc="lower right", fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def best_so_far(path: str, curves: Mapping[str, np.ndarray], *, optimum: float | None,
                tolerance: float, xlabel: str, ylabel: str, title: str) -> None:
  """Search trajectories: per strategy, best-so-far curves ``[seeds, budget]``.

  With a known ``optimum`` two panels: mean regret (symlog) and the share of
  seeds holding the optimum (within ``tolerance``); otherwise the mean
  best-so-far value.
  """
  panels = 2 if optimum is not None else 1
  fig, axes = plt.subplots(1, panels, figsize=(6.2 * panels, 4.4), dpi=120, squeeze=False)
  for name, c in curves.items():
    x = np.arange(1, c.shape[1] + 1)
    if optimum is not None:
      axes[0, 0].plot(x, np.mean(optimum - c, axis=0), label=name)
      axes[0, 1].plot(x, np.mean(c >= optimum - tolerance, axis=0), label=name)
    else:
      axes[0, 0].plot(x, c.mean(axis=0), label=name)
  ax = axes[0, 0]
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  if optimum is not None:
    ax.set_yscale("symlog", linthresh=0.05)
    axes[0, 1].set_xlabel(xlabel)
    axes[0, 1].set_ylabel("share of seeds holding the optimum")
    axes[0, 1].grid(alpha=0.3)
    axes[0, 1].legend(fontsize=7)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)
