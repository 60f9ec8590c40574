"""The random-weight probe on a sample of cells, against the table where one exists.

:func:`run` scores ``num_candidates`` cells of an image space with
:class:`~jaxnas.evaluate.rwe.RandomWeightEvaluator` and writes, under the
workdir: ``config.json`` (the :class:`RWEStudyConfig`), ``scores.csv`` (probe
score, held-out accuracy, MSE and the NASWOT log-determinant of the same forward
pass, per cell), ``results.json`` (throughput; on NB201 with its table present:
Kendall tau / Spearman of every signal vs the target column, the ``params_m``
baseline, the per-ridge taus) and ``rwe_vs_accuracy.png``. Used by
``python -m experiments.rwe``.
"""

from __future__ import annotations

import dataclasses
import os
import time

from absl import logging
import jax
import numpy as np

from jaxnas import config_checks
from jaxnas import errors
from jaxnas import io_utils
from jaxnas import metrics
from jaxnas.data import registry
from jaxnas.evaluate import rwe
from jaxnas.evaluate import rwe_config
from jaxnas.spaces import get_space

__all__ = ["RWEStudyConfig", "pick_candidates", "run"]


@dataclasses.dataclass(frozen=True)
class RWEStudyConfig:
  """One probe study.

  Attributes:
    space: cell space, ``nb201`` or ``complete_dag:N``.
    num_candidates: how many cells (a positive integer as a string, or ``"all"``).
    seed: seed of the cell sample (the probe's own seed is ``probe.seed``).
    images_dir: folder holding ``cifar10/{train,test}.npz`` (None: default lookup).
    data_dir: folder holding ``nb201/nb201.csv`` (None: default lookup).
    target: benchmark column of true accuracy.
    probe: the probe's settings.
  """

  space: str = "nb201"
  num_candidates: str = "1000"
  seed: int = 0
  images_dir: str | None = None
  data_dir: str | None = None
  target: str = "cifar10_test"
  probe: rwe_config.RWEConfig = rwe_config.RWEConfig()

  def __post_init__(self):
    config_checks.check_seed("--seed", self.seed)
    if self.num_candidates != "all":
      config_checks.check_int("--num_candidates", self.num_candidates)

  def to_json(self) -> dict:
    """The ``config.json`` content (the probe as its own JSON dict)."""
    d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
    d["probe"] = self.probe.to_json()
    return d


def pick_candidates(space, bench, config: RWEStudyConfig) -> np.ndarray:
  """``num_candidates`` random benchmark rows (sorted; or space samples), or all.

  Returns:
    int ``[N, D]`` encodings.
  """
  key = jax.random.key(config.seed)
  if config.num_candidates == "all":
    return bench.encodings if bench is not None else space.enumerate()
  high = len(bench) if bench is not None else (
      space.num_combinations if space.is_finite_enumerable else None)
  n = config_checks.check_int("--num_candidates", config.num_candidates, high=high)
  if bench is not None:
    return bench.encodings[np.sort(np.asarray(jax.random.permutation(key, len(bench)))[:n])]
  return space.sample(key, n)


def _finite_low(x: np.ndarray) -> np.ndarray:
  """-inf (a singular NASWOT kernel: a cell whose output is constant) -> below the rest."""
  x = np.asarray(x, np.float64)
  fin = np.isfinite(x)
  low = (x[fin].min() - 1.0) if fin.any() else 0.0
  return np.where(fin, x, low)


def run(config: RWEStudyConfig, workdir: str) -> dict:
  """Scores the cells and writes the result files; returns ``results.json``'s content.

  Holds the workdir's lock; a workdir holding results of other settings is
  refused before anything is written.
  """
  space = get_space(config.space)
  bench = None
  if config.space == "nb201":
    try:
      bench = registry.load_benchmark("nb201", data_dir=config.data_dir)
    except errors.ConfigError as e:
      logging.warning("no NB201 benchmark (%s): scores only, no correlations", e)
  cands = pick_candidates(space, bench, config)
  fit, ev = rwe_config.load_probe_images(config.probe, config.images_dir)
  cfg = config.to_json()
  with io_utils.claim_workdir(workdir):
    io_utils.claim_config_json(workdir, io_utils.fingerprint(cfg), cfg,
                               run_files=("results.json", "scores.csv"))
    evaluator = rwe.RandomWeightEvaluator(space, fit, ev, config.probe)
    return _run_locked(config, workdir, space, bench, cands, evaluator)


def _correlations(config: RWEStudyConfig, workdir: str, out: dict, acc: np.ndarray,
                  params: np.ndarray, bench, rows: np.ndarray) -> dict:
  """Kendall tau / Spearman of every signal vs ``acc``, and the scatter plot."""
  res = {"probe": metrics.ranking_report(out["score"], acc),  # the score_by score
         "probe_heldout_accuracy": metrics.ranking_report(out["probe_accuracy"], acc),
         "probe_neg_mse": metrics.ranking_report(-out["probe_mse"], acc),
         "params_m": metrics.ranking_report(params, acc),
         "naswot_jaxnas": metrics.ranking_report(_finite_low(out["naswot"]), acc)}
  # Both signals come from the same forward pass; a rank vote of the two is
  # reported separately (the zero-cost "voting" of Abdelfattah et al. 2021).
  vote = (np.asarray(metrics.average_ranks(out["score"]))
          + np.asarray(metrics.average_ranks(_finite_low(out["naswot"]))))
  res["probe_naswot_vote"] = metrics.ranking_report(vote, acc)
  if "naswot" in bench.metrics:
    nw = bench.metric("naswot")[rows]
    ok = np.isfinite(nw)  # the table has NaN for some cells: rank only the rest
    res["naswot_benchmark"] = metrics.ranking_report(nw[ok], acc[ok])
    res["naswot_benchmark"]["num_ranked"] = int(ok.sum())
  # Kendall tau of every probe quality at every ridge strength: how the choice
  # of score and ridge matters on this data.
  res["probe_kendalltau_per_ridge"] = {
      kind: [metrics.kendall_tau_np(v[:, r], acc) for r in range(v.shape[1])]
      for kind, v in rwe.per_ridge_scores(out).items()}
  try:
    from jaxnas import plots  # pylint: disable=import-outside-toplevel
    plots.scatter(os.path.join(workdir, "rwe_vs_accuracy.png"), out["score"], acc,
                  xlabel=f"random-weight probe score ({config.probe.score_by})",
                  ylabel=f"{config.target} (%)",
                  title=f"{config.space}: {len(acc)} cells, Kendall tau "
                        f"{res['probe']['kendalltau']:.3f}")
  except ImportError as e:
    logging.warning("rwe_vs_accuracy.png skipped: %s", e)
  return res


def _run_locked(config: RWEStudyConfig, workdir: str, space, bench, cands, evaluator) -> dict:
  t = time.perf_counter()
  evaluator.score_all(cands[:evaluator.settings.candidates_per_call])  # compile outside the timing
  compile_s = time.perf_counter() - t
  t = time.perf_counter()
  out = evaluator.score_all(cands)
  secs = time.perf_counter() - t
  results = {"settings": config.to_json(), "num_candidates": int(len(cands)), "seconds": secs,
             "compile_seconds": compile_s, "candidates_per_s": len(cands) / secs,
             "num_compilations": evaluator.num_traces,
             "feature_dim": evaluator.config.feature_dim}
  header = ["arch", "score", "probe_accuracy", "probe_mse", "naswot"]
  columns = [out["score"], out["probe_accuracy"], out["probe_mse"]]
  formats = ["{:.6f}"] * 3 + ["{:.4f}"]
  columns.append(out["naswot"])
  if bench is not None:
    rows = bench.rows(cands)
    acc = bench.metric(config.target)[rows]
    params = bench.metric("params_m")[rows]
    results.update(_correlations(config, workdir, out, acc, params, bench, rows))
    header += [config.target, "params_m"]
    columns += [acc, params]
    formats += ["{:.4f}", "{:.6f}"]
  lines = [header] + [[a] + [f.format(c[i]) for f, c in zip(formats, columns)]
                      for i, a in enumerate(space.format_many(cands))]
  io_utils.atomic_write_csv(os.path.join(workdir, "scores.csv"), lines)
  io_utils.atomic_write_json(os.path.join(workdir, "results.json"), results)
  return results
