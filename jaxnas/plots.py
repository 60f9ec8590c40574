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

__all__ = ["lines", "scatter"]


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
