r"""Run search strategies side by side on a benchmark (or a probe), several seeds each.

  python -m experiments.search --benchmark=nb201 --target=cifar10_test \
      --strategy=renas,acenas,nar,ranknas,rea,random,local,xgb,xgb_params \
      --budget=150 --seeds=10 --workdir=runs/search_c10

  # no ground truth: the complete-DAG space scored by the random-weight probe
  python -m experiments.search --benchmark=none --space=complete_dag:5 --evaluator=rwe \
      --strategy=renas,rea,random --budget=200 --seeds=3 --workdir=runs/search_dag

Strategies: the jaxnas ones (random, rea, local, nar, ranknas, acenas,
renas), acenas_zc (AceNAS pretrained on jaxnas's zero-cost weak-label
table — params, FLOPs, NASWOT, synflow, random-weight probe, combined by
jaxnas.evaluate.weak_labels.combined — instead of the parameter
count; the table is computed once and cached, see
jaxnas.evaluate.weak_labels) and the predictor-loop baselines xgb (20 random archs, then
XGBoost on a one-hot encoding queries its top 10 per round) and xgb_params
(plus the parameter count). Every strategy sees the same seeds.

Writes under --workdir:

* results.json — per strategy, per seed: best arch, its accuracy, its rank
  in the space, queries used to reach the global optimum (or null), regret at
  50 queries, wall times (searcher = training/scoring/sampling, free for the
  budget; evaluator = lookups or probe); and the aggregates
  median_queries_to_optimum, max_queries_to_optimum,
  mean_regret_at_50, mean_best_accuracy;
* trajectory.csv — strategy, seed, query, arch, score, best_so_far;
* best_vs_queries.png — mean best-so-far (and share of seeds at the
  optimum) vs queries, all strategies on one plot;
* runs/ (one finished run per file) and state/ (search checkpoints):
  rerunning the same command resumes unfinished runs and skips finished ones;
  adding strategies or seeds adds runs. config.json records a fingerprint of
  the settings that decide a run (benchmark and its data, target, evaluator,
  budget, round/pool size, ranker settings, probe settings); a rerun with
  another fingerprint is refused before anything is written.

With --stop_at_optimum (default) a seed stops once it holds the global
optimum: nothing reported can change after that (curves carry the optimum
forward).
"""

from __future__ import annotations

import json
import os
import time

from absl import flags
from absl import logging
import numpy as np

from jaxnas import config_checks
from jaxnas import errors
from jaxnas import io_utils
from jaxnas.data import registry as data_registry
from jaxnas.search import evaluators
from jaxnas.search import outcomes
from jaxnas.search import registry
from jaxnas.evaluate import rwe_config
from jaxnas.search import runner
from jaxnas.spaces import get_space

from experiments import cli
from experiments import table_free_flags
from experiments.baselines import xgb_search

FLAGS = flags.FLAGS
flags.adopt_module_key_flags(table_free_flags)  # listed by --help
flags.DEFINE_string("benchmark", "nb201", "Benchmark table (nb201, ...) or 'none' (no ground truth).")
flags.DEFINE_string("target", None, "Benchmark column to maximise (default: the benchmark's).")
flags.DEFINE_string("space", None, "Space spec when --benchmark=none (e.g. complete_dag:5).")
flags.DEFINE_enum("evaluator", "benchmark", ["benchmark", "rwe", "train"],
                  "Scores: benchmark lookups (counted queries), the random-weight probe, or "
                  "candidates trained from scratch (no table; jaxnas.search.table_free).")
flags.DEFINE_list("strategy", ["renas", "rea", "random"], "Comma list of strategies.")
flags.DEFINE_integer("budget", 100, "Distinct evaluations (queries) per search.")
flags.DEFINE_integer("seeds", 10, "Seeds 0..seeds-1 for every strategy.")
flags.DEFINE_integer("first_seed", 0, "First seed.")
flags.DEFINE_string("workdir", None, "Output folder.")
flags.DEFINE_bool("stop_at_optimum", True, "Stop a seed once it holds the global optimum.")
flags.DEFINE_integer("round_size", 10, "Queries per round of the ranker and XGBoost strategies.")
flags.DEFINE_integer("ensemble_size", 0, "Ranker ensemble members (0: the strategy's default).")
flags.DEFINE_integer("num_steps", 0, "Ranker training steps per round (0: default).")
flags.DEFINE_integer("pool_size", 20000, "Candidate pool of ranker strategies on large spaces.")
flags.DEFINE_string("data_dir", None, "Shared benchmark data folder.")
# Random-weight probe (--evaluator=rwe).
flags.DEFINE_string("images_dir", None, "Folder holding cifar10/{train,test}.npz.")
flags.DEFINE_enum("rwe_preset", "search", sorted(rwe_config.PRESETS),
                  "RWE: named probe settings (jaxnas.evaluate.rwe_config); the --rwe_* flags "
                  "below override single fields.")
_RWE_OVERRIDES = {  # flag -> RWEConfig field
    "rwe_channels": "channels", "rwe_cells_per_stage": "cells_per_stage",
    "rwe_fit_images": "num_fit_images", "rwe_eval_images": "num_eval_images",
    "rwe_candidates_per_call": "candidates_per_call"}
for _flag, _field in _RWE_OVERRIDES.items():
  flags.DEFINE_integer(_flag, None, f"RWE: {_field} (default: the preset's, search: "
                       f"{getattr(rwe_config.PRESETS['search'], _field)}).")

BASELINES = ("xgb", "xgb_params")
VARIANTS = {"acenas_zc": "acenas"}  # experiment name -> library strategy


def _zero_cost_weak_labels(space, pool, cfg, cache: dict):
  """The combined zero-cost weak label ``[P]`` of the pool (cached table) and its cost."""
  if "zero_cost" not in cache:
    from jaxnas.evaluate import weak_labels as wl  # pylint: disable=import-outside-toplevel
    table = wl.load_or_compute(space, pool, wl.WeakLabelConfig(), images_dir=cfg["images_dir"],
                               log=lambda m: print(m, flush=True))
    seconds = float(sum(table.meta.get("seconds", {}).values()))
    cache["zero_cost"] = (wl.combined(table), seconds, table.meta.get("fingerprint"))
  return cache["zero_cost"]


def _searcher(name, space, seed, cfg, surrogates):
  if name in BASELINES:
    return xgb_search.XGBoostLoopSearch(space, seed=seed, use_params=name == "xgb_params",
                                        round_size=cfg["round_size"])
  if name == "acenas_zc":
    if "acenas" not in surrogates:
      surrogates["acenas"] = registry.make_surrogate(
          "acenas", space, pool_size=cfg["pool_size"],
          ensemble_size=cfg["ensemble_size"] or None, num_steps=cfg["num_steps"] or None)
    sur = surrogates["acenas"]
    weak, _, _ = _zero_cost_weak_labels(space, sur.pool, cfg, surrogates.setdefault("_weak", {}))
    return registry.make_searcher("acenas", space, seed=seed, surrogate=sur,
                                  round_size=cfg["round_size"], weak_labels=weak)
  if registry.uses_ranker(name):
    if name not in surrogates:  # one encoded pool + compiled step per strategy
      surrogates[name] = registry.make_surrogate(
          name, space, pool_size=cfg["pool_size"],
          ensemble_size=cfg["ensemble_size"] or None, num_steps=cfg["num_steps"] or None)
    return registry.make_searcher(name, space, seed=seed, surrogate=surrogates[name],
                                  round_size=cfg["round_size"])
  kwargs = {"batch_size": cfg["round_size"]} if name in ("random", "local") else {}
  return registry.make_searcher(name, space, seed=seed, **kwargs)


def _rwe_evaluator(space, cfg):
  from jaxnas.evaluate import rwe  # pylint: disable=import-outside-toplevel
  probe_cfg = rwe_config.RWEConfig.from_json(cfg["rwe"])
  fit, ev = rwe_config.load_probe_images(probe_cfg, cfg["images_dir"])
  return rwe.RandomWeightEvaluator(space, fit, ev, probe_cfg)


def check_config(cfg: dict) -> None:
  """Rejects bad settings (one ConfigError naming the flag) before any work or file."""
  for key in ("budget", "seeds", "round_size", "pool_size"):
    config_checks.check_int(f"--{key}", cfg[key])
  for key in ("ensemble_size", "num_steps"):  # 0: the strategy's default
    config_checks.check_int(f"--{key}", cfg[key], low=0)
  config_checks.check_seed("--first_seed", cfg["first_seed"])
  config_checks.check_seed("--first_seed + --seeds", cfg["first_seed"] + cfg["seeds"] - 1)
  if cfg["evaluator"] not in ("benchmark", "rwe"):
    raise errors.ConfigError(f"--evaluator={cfg['evaluator']!r}; expected benchmark or rwe")
  if not cfg["strategy"]:
    raise errors.ConfigError("--strategy names no strategy")
  for name in cfg["strategy"]:
    if name not in BASELINES:
      registry.strategy_class(VARIANTS.get(name, name))  # fail fast on typos
  if cfg["benchmark"] == "none":
    if not cfg["space"]:
      raise errors.ConfigError("--benchmark=none needs --space (e.g. complete_dag:5)")
    if cfg["evaluator"] == "benchmark":
      raise errors.ConfigError("--evaluator=benchmark needs a --benchmark")
    if cfg["target"] is not None:
      raise errors.ConfigError("--target names a benchmark column; --benchmark=none has none")


# Settings that do not change what a (strategy, seed) run computes: paths, and
# which runs to do (runs/ holds one file per strategy and seed).
_NOT_FINGERPRINTED = ("data_dir", "images_dir", "strategy", "seeds", "first_seed")


def search_fingerprint(cfg: dict, space, bench, table) -> str:
  """Fingerprint of everything a (strategy, seed) run depends on, data content included."""
  d = {k: v for k, v in cfg.items() if k not in _NOT_FINGERPRINTED}
  d["space"] = space.spec or space.name
  if bench is not None:
    d["data"] = io_utils.fingerprint({"encodings": np.asarray(bench.encodings),
                                      "target": np.asarray(table, np.float64)})
  return io_utils.fingerprint(d)


def run(cfg: dict, workdir: str, log=logging.info) -> dict:
  """Runs every (strategy, seed) and writes the result files; returns results.json.

  Holds the workdir's lock; refuses a workdir whose runs have another
  :func:`search_fingerprint` before writing anything.
  """
  check_config(cfg)
  bench = table = None
  if cfg["benchmark"] != "none":
    bench = data_registry.load_benchmark(cfg["benchmark"], data_dir=cfg["data_dir"],
                                         space=cfg["space"])
    space = bench.space
    if cfg["target"] is None:
      cfg["target"] = data_registry.default_target(cfg["benchmark"])
    table = bench.metric(cfg["target"])
  else:
    space = get_space(cfg["space"])
  fingerprint = search_fingerprint(cfg, space, bench, table)
  with io_utils.claim_workdir(workdir):
    io_utils.claim_config_json(workdir, fingerprint, cfg, run_files=("runs", "state"))
    return _run_locked(cfg, workdir, log, space, bench, table, fingerprint)


def _read_run(path: str) -> dict:
  try:
    with open(path, encoding="utf-8") as f:
      rec = json.load(f)
    if not isinstance(rec, dict) or not isinstance(rec.get("trajectory"), list):
      raise ValueError("not a run record")
    return rec
  except (OSError, ValueError) as e:
    raise errors.CheckpointError(f"cannot read finished run {path}: {e}; delete it to redo "
                                 "that run") from None


def _run_locked(cfg, workdir, log, space, bench, table, fingerprint) -> dict:
  os.makedirs(os.path.join(workdir, "runs"), exist_ok=True)
  os.makedirs(os.path.join(workdir, "state"), exist_ok=True)
  probe = _rwe_evaluator(space, cfg) if cfg["evaluator"] == "rwe" else None
  optimum = float(table.max()) if (table is not None and probe is None) else None
  surrogates: dict = {}
  per_strategy: dict = {}
  for name in cfg["strategy"]:
    runs = []
    for seed in range(cfg["first_seed"], cfg["first_seed"] + cfg["seeds"]):
      path = os.path.join(workdir, "runs", f"{name}_seed{seed}.json")
      if os.path.exists(path):
        runs.append(_read_run(path))
        continue
      searcher = _searcher(name, space, seed, cfg, surrogates)
      evaluator = (evaluators.BenchmarkEvaluator(bench, cfg["target"]) if probe is None else
                   evaluators.ProbeEvaluator(probe.score, space.num_positions, name="rwe"))
      stop = None
      if cfg["stop_at_optimum"] and optimum is not None:
        stop = lambda traj: bool(traj) and traj[-1]["best"] >= optimum - outcomes.OPTIMUM_TOLERANCE
      t0 = time.time()
      res = runner.run_search(searcher, evaluator, cfg["budget"], stop=stop,
                              checkpoint_path=os.path.join(workdir, "state", f"{name}_seed{seed}.json"),
                              fingerprint=fingerprint)
      scores = res.scores
      rec = {"strategy": name, "seed": seed, "best_arch": space.format(res.best_encoding),
             "best_encoding": res.best_encoding.tolist(),
             "searcher_seconds": round(res.searcher_seconds, 3),
             "evaluator_seconds": round(res.evaluator_seconds, 3),
             "wall_seconds": round(time.time() - t0, 3), "report": res.report,
             "stopped_at_optimum": bool(stop is not None and stop(res.trajectory)),
             **outcomes.seed_outcome(scores, None if probe is not None else table)}
      if probe is not None and table is not None:  # probe-driven search on a benchmark space
        rec["true_accuracy_of_best"] = float(table[bench.row(res.best_encoding)])
      if name == "acenas_zc":
        _, secs, fp = surrogates["_weak"]["zero_cost"]
        rec["report"].update({"weak_labels": "zero_cost_combined", "weak_label_table": fp,
                              "weak_label_seconds_once": round(secs, 1)})
      if name == "ranknas" and table is not None:
        opt_rows = np.nonzero(table >= table.max() - outcomes.OPTIMUM_TOLERANCE)[0]
        rec["report"]["pruned_space_contains_optimum"] = bool(
            searcher.contains(bench.encodings[opt_rows]).any())
      rec["trajectory"] = [[r["query"], r["arch"], r["score"], r["best"]] for r in res.trajectory]
      io_utils.atomic_write_json(path, rec)
      log(f"{name} seed {seed}: best {rec['best_accuracy']:.3f} "
          f"q->opt {rec.get('queries_to_optimum')} searcher {rec['searcher_seconds']:.1f}s")
      runs.append(rec)
    agg = outcomes.aggregate(runs)
    agg["mean_searcher_seconds"] = float(np.mean([r["searcher_seconds"] for r in runs]))
    agg["mean_evaluator_seconds"] = float(np.mean([r["evaluator_seconds"] for r in runs]))
    per_strategy[name] = {**agg, "per_seed": [{k: v for k, v in r.items() if k != "trajectory"}
                                              for r in runs]}
    per_strategy[name]["_trajectories"] = [r["trajectory"] for r in runs]
  _write_outputs(workdir, cfg, per_strategy, optimum, bench, table)
  return {k: {kk: vv for kk, vv in v.items() if kk != "_trajectories"}
          for k, v in per_strategy.items()}


def _write_outputs(workdir, cfg, per_strategy, optimum, bench, table):
  rows = [["strategy", "seed", "query", "arch", "score", "best_so_far"]]
  space_fmt = (bench.space if bench is not None else get_space(cfg["space"])).format
  for name, res in per_strategy.items():
    for rec, traj in zip(res["per_seed"], res["_trajectories"]):
      for q, arch, score, best in traj:
        rows.append([name, rec["seed"], q, space_fmt(np.asarray(arch, np.int32)),
                     f"{score:.6f}", f"{best:.6f}"])
  io_utils.atomic_write_csv(os.path.join(workdir, "trajectory.csv"), rows)
  results = {"benchmark": cfg["benchmark"], "target": cfg["target"], "evaluator": cfg["evaluator"],
             "budget": cfg["budget"], "seeds": list(range(cfg["first_seed"],
                                                          cfg["first_seed"] + cfg["seeds"])),
             "optimum": None, "strategies": {}}
  if optimum is not None:
    opt_rows = np.nonzero(table >= optimum - outcomes.OPTIMUM_TOLERANCE)[0]
    results["optimum"] = {"accuracy": optimum, "archs": [bench.archs[r] for r in opt_rows]}
  for name, res in per_strategy.items():
    results["strategies"][name] = {k: v for k, v in res.items() if k != "_trajectories"}
  io_utils.atomic_write_json(os.path.join(workdir, "results.json"), results)
  try:
    _plot(os.path.join(workdir, "best_vs_queries.png"), per_strategy, cfg, optimum)
  except ImportError as e:
    logging.warning("best_vs_queries.png skipped: %s", e)


def _plot(path, per_strategy, cfg, optimum):
  from jaxnas import plots  # pylint: disable=import-outside-toplevel
  budget = cfg["budget"]
  curves = {name: np.stack([outcomes.best_so_far([t[2] for t in traj], budget)
                            for traj in res["_trajectories"]])
            for name, res in per_strategy.items()}
  ylabel = (f"mean regret of best-so-far ({cfg['target']}, points)" if optimum is not None
            else f"mean best-so-far ({cfg['evaluator']} score)")
  title = (f"{cfg['benchmark'] if cfg['benchmark'] != 'none' else cfg['space']} "
           f"{cfg['target'] or ''} ({cfg['evaluator']}), {cfg['seeds']} seeds")
  plots.best_so_far(path, curves, optimum=optimum, tolerance=outcomes.OPTIMUM_TOLERANCE,
                    xlabel="queries" if cfg["evaluator"] == "benchmark" else "evaluations",
                    ylabel=ylabel, title=title)


def config_from_flags() -> dict:
  return {"benchmark": FLAGS.benchmark, "target": FLAGS.target, "space": FLAGS.space,
          "evaluator": FLAGS.evaluator, "strategy": [s.strip() for s in FLAGS.strategy if s.strip()],
          "budget": FLAGS.budget, "seeds": FLAGS.seeds, "first_seed": FLAGS.first_seed,
          "stop_at_optimum": FLAGS.stop_at_optimum, "round_size": FLAGS.round_size,
          "ensemble_size": FLAGS.ensemble_size, "num_steps": FLAGS.num_steps,
          "pool_size": FLAGS.pool_size, "data_dir": FLAGS.data_dir,
          "images_dir": FLAGS.images_dir, "rwe": _rwe_config_from_flags().to_json()}


def _rwe_config_from_flags() -> rwe_config.RWEConfig:
  changes = {field: FLAGS[flag].value for flag, field in _RWE_OVERRIDES.items()
             if FLAGS[flag].value is not None}
  try:
    return rwe_config.preset(FLAGS.rwe_preset, **changes)
  except errors.ConfigError as e:  # name the flag, not the field
    msg = str(e)
    for flag, field in _RWE_OVERRIDES.items():
      msg = msg.replace(f"RWEConfig.{field}", f"--{flag}")
    raise errors.ConfigError(msg) from None


def main(argv):
  del argv
  cli.require(workdir=FLAGS.workdir)
  if FLAGS.evaluator == "train":  # no table: train candidates, retrain the winners
    if FLAGS["benchmark"].present and FLAGS.benchmark != "none":
      raise errors.ConfigError("--evaluator=train searches without a table; drop --benchmark")
    from jaxnas.search import table_free  # pylint: disable=import-outside-toplevel
    cfg = table_free_flags.table_free_config(config_from_flags())
    out = table_free.run(cfg, FLAGS.workdir, log=lambda m: print(m, flush=True))
    for name, res in out["strategies"].items():
      print(f"{name}: final test accuracy {100 * res['final_test_accuracy_mean']:.2f} "
            f"+- {100 * res['final_test_accuracy_std']:.2f}  (search cost {res['search_cost']})")
    print(f"wrote results to {FLAGS.workdir}")
    return
  results = run(config_from_flags(), FLAGS.workdir, log=lambda m: print(m, flush=True))
  keys = ("median_queries_to_optimum", "max_queries_to_optimum", "mean_regret_at_50",
          "mean_best_accuracy", "mean_searcher_seconds")
  for name, res in results.items():
    print(name, {k: res.get(k) for k in keys})
  print(f"wrote results to {FLAGS.workdir}")


if __name__ == "__main__":
  cli.run(main)
