"""Replays a finished sweep's blend-weight choices under other GNN margins (no retraining).

Why: the weight rule of :mod:`jaxnas.linear_blend` is judged by what it does
over many runs, and every run of a sweep records what chose its weight
(``blend_evidence.npz``: out-of-fold scores, and the standardised pool scores
that the weight blends). Rerunning :func:`jaxnas.linear_blend.choose_weight` on
that record with another :data:`jaxnas.linear_blend.GNN_MARGIN` gives exactly
the weight and the ``kendalltau_all`` that a retrained sweep would have had,
in seconds instead of the sweep's minutes to hours. Before it replays, the
recorded weights are re-blended and must give the recorded ``kendalltau_all``:
otherwise the benchmark's labels changed since the sweep, and nothing is
reported.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from collections.abc import Sequence

import numpy as np

from jaxnas import errors
from jaxnas import io_utils
from jaxnas import linear_blend
from jaxnas import metrics
from jaxnas import protocol

__all__ = ["RunEvidence", "check_recorded", "read_evidence", "replay", "replay_sweep"]

# How far a re-blended recorded weight may move kendalltau_all: the evidence
# keeps the pool scores in float32, which can reorder near-ties.
RECORDED_TAU_TOLERANCE = 1e-4
# What the replay summarises per margin and train size.
SUMMARY_KEYS = ("kendalltau_all", "blend_weight")


@dataclasses.dataclass(frozen=True)
class RunEvidence:
  """What chose one sweep run's blend weight.

  Attributes:
    train_size: the run's training archs.
    seed: its split seed.
    gnn: float32 ``[N]`` the GNN ensemble's standardised pool scores.
    linear: float32 ``[N]`` the second ranker's (zeros without fold members).
    oof_rows: ``[n]`` training archs the out-of-fold scores are of (None
      without fold members: the run is the GNN alone under any margin).
    oof_gnn: ``[R, n]`` the fold members' out-of-fold GNN scores.
    oof_linear: ``[R, n]`` the second ranker's, likewise.
  """

  train_size: int
  seed: int
  gnn: np.ndarray
  linear: np.ndarray
  oof_rows: np.ndarray | None
  oof_gnn: np.ndarray | None
  oof_linear: np.ndarray | None


def read_evidence(path: str) -> list[RunEvidence]:
  """The runs of a sweep's ``blend_evidence.npz``, in the order of its ``runs.jsonl``.

  Raises:
    errors.JaxnasError: the file is missing, damaged or lacks a run's arrays.
  """
  if not os.path.isfile(path):
    raise errors.JaxnasError(f"{path} does not exist: the sweep did not finish, or it was "
                             "written before sweeps recorded their blend evidence")
  try:
    with np.load(path, allow_pickle=False) as f:
      arrays = {k: f[k] for k in f.files}
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    raise errors.JaxnasError(f"{path} is damaged ({e})") from None
  try:
    out = []
    for g, (size, seed) in enumerate(zip(arrays["train_sizes"], arrays["seeds"])):
      folds = f"run{g}_oof_rows" in arrays
      out.append(RunEvidence(
          int(size), int(seed), arrays[f"run{g}_gnn"], arrays[f"run{g}_linear"],
          arrays[f"run{g}_oof_rows"] if folds else None,
          np.atleast_2d(arrays[f"run{g}_oof_gnn"]) if folds else None,
          np.atleast_2d(arrays[f"run{g}_oof_linear"]) if folds else None))
  except KeyError as e:
    raise errors.JaxnasError(f"{path} lacks {e.args[0]!r}: not a complete blend evidence "
                             "file") from None
  return out


def _weight(run: RunEvidence, labels: np.ndarray, gnn_margin: float) -> float:
  if run.oof_rows is None:
    return 0.0
  return linear_blend.choose_weight(run.oof_gnn, run.oof_linear, labels[run.oof_rows],
                                    gnn_margin=gnn_margin)[0]


def _tau(run: RunEvidence, labels: np.ndarray, weight: float) -> float:
  scores = linear_blend.blend(run.gnn.astype(np.float64), run.linear.astype(np.float64), weight)
  return metrics.kendall_tau_np(scores, labels)


def check_recorded(evidence: Sequence[RunEvidence], recorded: Sequence[dict],
                   labels: np.ndarray) -> None:
  """Raises unless every run's recorded weight re-blends to its recorded ``kendalltau_all``.

  Args:
    evidence: the sweep's runs (:func:`read_evidence`).
    recorded: their jaxnas lines of ``runs.jsonl``, same order.
    labels: ``[N]`` the benchmark's labels now.
  """
  if [(r.train_size, r.seed) for r in evidence] != [(r["train_size"], r["seed"])
                                                     for r in recorded]:
    raise errors.JaxnasError("blend_evidence.npz and runs.jsonl list other runs: the workdir "
                             "mixes files of two sweeps")
  for run, rec in zip(evidence, recorded):
    if run.gnn.shape != labels.shape:
      raise errors.BenchmarkDataError(
          f"the benchmark has {labels.shape[0]} archs, the sweep scored {run.gnn.shape[0]}: "
          "its data changed since the sweep")
    tau = _tau(run, labels, rec.get("blend_weight", 0.0))
    if abs(tau - rec["kendalltau_all"]) > RECORDED_TAU_TOLERANCE:
      raise errors.BenchmarkDataError(
          f"run (train size {run.train_size}, seed {run.seed}) re-blends to kendalltau_all "
          f"{tau:.5f}, the sweep recorded {rec['kendalltau_all']:.5f}: the benchmark's labels "
          "changed since the sweep")


def replay(evidence: Sequence[RunEvidence], labels: np.ndarray,
           gnn_margins: Sequence[float]) -> list[dict]:
  """Every run's weight and ``kendalltau_all`` under each GNN margin.

  Returns:
    one dict per run and margin: ``train_size``, ``seed``, ``gnn_margin``,
    ``blend_weight``, ``kendalltau_all`` and ``method`` (the margin as ``f"{m:g}"``, the
    row's name in :func:`jaxnas.protocol.summarize`).
  """
  out = []
  for margin in gnn_margins:
    for run in evidence:
      w = _weight(run, labels, float(margin))
      out.append({"train_size": run.train_size, "seed": run.seed, "gnn_margin": float(margin),
                  "method": f"{margin:g}", "blend_weight": w,
                  "kendalltau_all": _tau(run, labels, w)})
  return out


def replay_sweep(workdir: str, gnn_margins: Sequence[float], *,
                 data_dir: str | None = None) -> dict:
  """Replays the sweep in ``workdir`` (read only) under each of ``gnn_margins``.

  Args:
    workdir: a finished ``experiments.sweep_train_size`` / ``bench_spaces`` table workdir.
    gnn_margins: margins to replay (:func:`jaxnas.linear_blend.choose_weight`).
    data_dir: where the benchmark data is now (None: where the sweep read it).

  Returns:
    ``{"benchmark", "target", "train_sizes", "runs": :func:`replay` rows, "summary":
    :func:`jaxnas.protocol.summarize` of the sweep's own runs (``"recorded"``) and of each
    margin's (``f"{m:g}"``), keys ``kendalltau_all`` and ``blend_weight``}``.
  """
  for m in gnn_margins:
    if not np.isfinite(m):
      raise errors.ConfigError(f"gnn_margins: {m} is not a finite number")
  path = os.path.join(workdir, "config.json")
  try:
    with open(path, encoding="utf-8") as f:
      record = json.load(f)
  except FileNotFoundError:
    raise errors.ConfigError(f"{workdir} has no config.json: not a sweep workdir") from None
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise errors.JaxnasError(f"{path} is damaged ({e})") from None
  if not isinstance(record, dict) or "train_sizes" not in record or "config" not in record:
    raise errors.ConfigError(f"{workdir} holds a single run, not a sweep (its config.json "
                             "has no train_sizes)")
  c = record["config"]
  config = protocol.RunConfig(benchmark=c["benchmark"], target=record.get("target"),
                              space=c.get("space"), on_invalid=c.get("on_invalid", "raise"),
                              data_dir=data_dir if data_dir is not None else c.get("data_dir"))
  recorded = [r for r in io_utils.read_jsonl(os.path.join(workdir, "runs.jsonl"))
              if r.get("method") == "jaxnas"]
  if not recorded:
    raise errors.JaxnasError(f"{workdir} has no finished runs (runs.jsonl is missing or "
                             "empty): the sweep did not finish")
  evidence = read_evidence(os.path.join(workdir, protocol.BLEND_EVIDENCE))
  labels = np.asarray(protocol.load_for_ranking(config).labels, np.float64)
  check_recorded(evidence, recorded, labels)
  rows = replay(evidence, labels, gnn_margins)
  summary = protocol.summarize([{**r, "method": "recorded"} for r in recorded] + rows,
                               SUMMARY_KEYS)
  return {"benchmark": config.benchmark, "target": record.get("target"),
          "train_sizes": sorted({r.train_size for r in evidence}), "runs": rows,
          "summary": summary}
