r"""Score NB201 (or complete-DAG) cells with the random-weight linear probe.

  python -m experiments.rwe --space=nb201 --num_candidates=1000 --seed=0 --workdir=/tmp/rwe

Writes ``config.json``, ``scores.csv``, ``results.json`` (Kendall tau /
Spearman of the probe vs ``cifar10_test`` when the benchmark is present, with
the ``params_m`` baseline and NASWOT from the same forward pass;
``candidates_per_s``) and ``rwe_vs_accuracy.png`` under ``--workdir``.
"""

from __future__ import annotations

import os
import time

from absl import flags
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

from experiments import cli
from experiments import rwe_flags

FLAGS = flags.FLAGS


def _define_flags() -> None:
  """Flags of this entry point (defined only when run, so experiments.nsga can
  import the helpers below and define the shared probe flags itself)."""
  flags.DEFINE_string("space", "nb201", "Cell space: nb201 or complete_dag:N.")
  flags.DEFINE_string("num_candidates", "1000", "How many candidates, or 'all'.")
  flags.DEFINE_integer("seed", 0, "Seed of candidate sampling, image choice and random weights.")
  flags.DEFINE_string("workdir", None, "Output folder.")
  flags.DEFINE_string("images_dir", None, "Folder holding cifar10/{train,test}.npz.")
  flags.DEFINE_string("data_dir", None, "Folder holding nb201/nb201.csv.")
  flags.DEFINE_string("target", "cifar10_test", "Benchmark column of true accuracy.")
  rwe_flags.define_probe_flags()
  flags.adopt_module_key_flags(rwe_flags)  # listed by --help


def pick_candidates(space, bench, cfg: dict) -> np.ndarray:
  """``--num_candidates`` random benchmark rows (or space samples), or all."""
  key = jax.random.key(cfg["seed"])
  if cfg["num_candidates"] == "all":
    if bench is not None:
      return bench.encodings
    return space.enumerate()
  high = len(bench) if bench is not None else (
      space.num_combinations if space.is_finite_enumerable else None)
  n = config_checks.check_int("--num_candidates", cfg["num_candidates"], high=high)
  if bench is not None:
    return bench.encodings[np.sort(np.asarray(jax.random.permutation(key, len(bench)))[:n])]
  return space.sample(key, n)


def _finite_low(x: np.ndarray) -> np.ndarray:
  """-inf (a singular NASWOT kernel: a cell whose output is constant) -> below the rest."""
  x = np.asarray(x, np.float64)
  fin = np.isfinite(x)
  low = (x[fin].min() - 1.0) if fin.any() else 0.0
  return np.where(fin, x, low)


def run(cfg: dict, workdir: str) -> dict:
  """Scores candidates and writes the result files; returns results.json's content.

  ``cfg``: ``space``, ``num_candidates``, ``seed``, ``images_dir``, ``data_dir``,
  ``target`` and ``probe`` (an :class:`RWEConfig`'s ``to_json()``). Holds the
  workdir's lock; a workdir holding results of other settings is refused
  before anything is written.
  """
  config_checks.check_seed("--seed", cfg["seed"])
  probe_cfg = rwe_config.RWEConfig.from_json(cfg["probe"])
  space = get_space(cfg["space"])
  bench = None
  if cfg["space"] == "nb201":
    try:
      bench = registry.load_benchmark("nb201", data_dir=cfg["data_dir"])
    except errors.ConfigError as e:
      logging.warning("no NB201 benchmark (%s): scores only, no correlations", e)
  cands = pick_candidates(space, bench, cfg)
  fit, ev = rwe_config.load_probe_images(probe_cfg, cfg["images_dir"])
  with io_utils.claim_workdir(workdir):
    io_utils.claim_config_json(workdir, io_utils.fingerprint(cfg), cfg,
                               run_files=("results.json", "scores.csv"))
    evaluator = rwe.RandomWeightEvaluator(space, fit, ev, probe_cfg)
    return _run_locked(cfg, workdir, space, bench, cands, evaluator)


def _run_locked(cfg: dict, workdir: str, space, bench, cands, evaluator) -> dict:
  t = time.perf_counter()
  evaluator.score_all(cands[:evaluator.settings.candidates_per_call])  # compile outside the timing
  compile_s = time.perf_counter() - t
  t = time.perf_counter()
  out = evaluator.score_all(cands)
  secs = time.perf_counter() - t
  results = {"settings": cfg, "num_candidates": int(len(cands)), "seconds": secs,
             "compile_seconds": compile_s, "candidates_per_s": len(cands) / secs,
             "num_compilations": evaluator.num_traces,
             "feature_dim": evaluator.config.feature_dim}
  rows = [["arch", "score", "probe_accuracy", "probe_mse", "naswot"]]
  archs = space.format_many(cands)
  header_extra = []
  if bench is not None:
    brow = bench.rows(cands)
    acc = bench.metric(cfg["target"])[brow]
    params = bench.metric("params_m")[brow]
    header_extra = [cfg["target"], "params_m"]
    results["probe"] = metrics.ranking_report(out["score"], acc)  # the --score_by score
    results["probe_heldout_accuracy"] = metrics.ranking_report(out["probe_accuracy"], acc)
    results["probe_neg_mse"] = metrics.ranking_report(-out["probe_mse"], acc)
    results["params_m"] = metrics.ranking_report(params, acc)
    results["naswot_jaxnas"] = metrics.ranking_report(_finite_low(out["naswot"]), acc)
    # Both signals come from the same forward pass; a rank vote of the two is
    # reported separately (the zero-cost "voting" of Abdelfattah et al. 2021).
    vote = (np.asarray(metrics.average_ranks(out["score"]))
            + np.asarray(metrics.average_ranks(_finite_low(out["naswot"]))))
    results["probe_naswot_vote"] = metrics.ranking_report(vote, acc)
    if "naswot" in bench.metrics:
      nw = bench.metric("naswot")[brow]
      ok = np.isfinite(nw)  # the table has NaN for some cells: rank only the rest
      results["naswot_benchmark"] = metrics.ranking_report(nw[ok], acc[ok])
      results["naswot_benchmark"]["num_ranked"] = int(ok.sum())
    # Kendall tau of every probe quality at every ridge strength: how the
    # choice of score and ridge matters on this data.
    results["probe_kendalltau_per_ridge"] = {
        kind: [metrics.kendall_tau_np(v[:, r], acc) for r in range(v.shape[1])]
        for kind, v in rwe.per_ridge_scores(out).items()}
    try:
      from jaxnas import plots  # pylint: disable=import-outside-toplevel
      plots.scatter(os.path.join(workdir, "rwe_vs_accuracy.png"), out["score"], acc,
                    xlabel=f"random-weight probe score ({cfg['probe']['score_by']})",
                    ylabel=f"{cfg['target']} (%)",
                    title=f"{cfg['space']}: {len(acc)} cells, Kendall tau "
                          f"{results['probe']['kendalltau']:.3f}")
    except ImportError as e:
      logging.warning("rwe_vs_accuracy.png skipped: %s", e)
  rows[0] += header_extra
  for i, a in enumerate(archs):
    row = [a, f"{out['score'][i]:.6f}", f"{out['probe_accuracy'][i]:.6f}", f"{out['probe_mse'][i]:.6f}",
           f"{out['naswot'][i]:.4f}"]
    if bench is not None:
      row += [f"{acc[i]:.4f}", f"{params[i]:.6f}"]
    rows.append(row)
  io_utils.atomic_write_csv(os.path.join(workdir, "scores.csv"), rows)
  io_utils.atomic_write_json(os.path.join(workdir, "results.json"), results)
  return results


def main(argv):
  del argv
  cli.require(workdir=FLAGS.workdir)
  cfg = {k: FLAGS[k].value for k in ("space", "num_candidates", "seed", "images_dir",
                                     "data_dir", "target")}
  cfg["probe"] = rwe_flags.probe_config(seed=FLAGS.seed).to_json()
  res = run(cfg, FLAGS.workdir)
  summary = {k: res[k]["kendalltau"] for k in ("probe", "params_m", "naswot_jaxnas",
                                               "probe_naswot_vote") if k in res}
  logging.info("candidates/s %.1f; Kendall tau %s", res["candidates_per_s"], summary)
  print(f"candidates/s {res['candidates_per_s']:.1f}; Kendall tau {summary}")
  print(f"wrote results to {FLAGS.workdir}")


if __name__ == "__main__":
  _define_flags()
  cli.run(main)
