"""Search strategies side by side, several seeds each: the comparison protocol.

:func:`compare` runs every (strategy, seed) of a :class:`CompareConfig` against
a benchmark table (queries are lookups) or the random-weight probe, and writes
under ``workdir``:

* ``results.json`` — per strategy, per seed: best arch, its accuracy, its rank
  in the space, queries to the global optimum (or null), regret at 50 queries,
  wall times (searcher = training/scoring/sampling; evaluator = lookups or
  probe); and the aggregates ``median_queries_to_optimum``,
  ``max_queries_to_optimum``, ``mean_regret_at_50``, ``mean_best_accuracy``;
* ``trajectory.csv`` — strategy, seed, query, arch, score, best_so_far;
* ``best_vs_queries.png`` — mean best-so-far (and share of seeds at the
  optimum) vs queries;
* ``runs/`` (one finished run per file) and ``state/`` (search checkpoints):
  the same call again resumes unfinished runs and skips finished ones; more
  strategies or seeds add runs. ``config.json`` records a fingerprint of what
  decides a run (benchmark and its data, target, evaluator, budget, round and
  pool size, ranker and probe settings); another fingerprint is refused before
  anything is written.

Strategies are the registry's (:mod:`jaxnas.search.registry`), ``acenas_zc``
(AceNAS pretrained on jaxnas's zero-cost weak-label table instead of the
parameter count), and any ``extra_searchers`` the caller passes (the
entry point adds its XGBoost baselines that way). With ``stop_at_optimum`` a
seed stops once it holds the global optimum (curves carry it forward).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Mapping

import numpy as np

from jaxnas import errors
from jaxnas import io_utils
from jaxnas.data import registry as data_registry
from jaxnas.search import base
from jaxnas.search import evaluators
from jaxnas.search import outcomes
from jaxnas.search import protocol_configs
from jaxnas.search import registry
from jaxnas.search import runner
from jaxnas.spaces import get_space

__all__ = ["CompareConfig", "EVALUATORS", "VARIANTS", "compare"]

# Experiment names that run a registry strategy with other weak labels.
VARIANTS = {"acenas_zc": "acenas"}
# (space, seed, config) -> a searcher: strategies the library does not own.
SearcherFactory = Callable[..., base.Searcher]

CompareConfig = protocol_configs.CompareConfig
EVALUATORS = protocol_configs.COMPARE_EVALUATORS


# Settings that do not change what a (strategy, seed) run computes: paths, and
# which runs to do (runs/ holds one file per strategy and seed).
_NOT_FINGERPRINTED = ("data_dir", "images_dir", "strategies", "seeds", "first_seed")


def _fingerprinted(config: CompareConfig) -> dict:
  """The settings that decide what a (strategy, seed) run computes."""
  return {k: v for k, v in config.to_json().items() if k not in _NOT_FINGERPRINTED}


def _fingerprint(config: CompareConfig, space, bench, table) -> str:
  """Everything a (strategy, seed) run depends on, data content included."""
  d = _fingerprinted(config)
  d["space"] = space.spec or space.name
  if bench is not None:
    d["data"] = io_utils.fingerprint({"encodings": np.asarray(bench.encodings),
                                      "target": np.asarray(table, np.float64)})
  return io_utils.fingerprint(d)


def compare(config: CompareConfig, workdir: str, *,
            extra_searchers: Mapping[str, SearcherFactory] | None = None,
            log: Callable[[str], None] = logging.info) -> dict:
  """Runs every (strategy, seed) and writes the result files (module docstring).

  Args:
    config: what to run.
    workdir: output folder; holds its lock while running.
    extra_searchers: ``{name: (space, seed, config) -> Searcher}`` for
      strategies outside the library (e.g. an XGBoost loop).
    log: progress lines.

  Returns:
    ``{strategy: aggregates and per-seed records}`` (``results.json``'s
    ``strategies``).
  """
  extra = dict(extra_searchers or {})
  for name in config.strategies:  # fail fast on typos, naming every choice
    if name not in extra:
      try:
        registry.strategy_class(VARIANTS.get(name, name))
      except errors.ConfigError:
        known = sorted(set(registry.STRATEGIES) | set(VARIANTS) | set(extra))
        hint = (" (it trains candidates: add --evaluator=train)"
                if name in protocol_configs.TABLE_FREE_STRATEGIES else "")
        raise errors.ConfigError(
            f"unknown strategy {name!r}{hint}; expected one of {known}") from None
  bench = table = None
  target = config.target
  if config.benchmark != "none":
    bench = data_registry.load_benchmark(config.benchmark, data_dir=config.data_dir,
                                         space=config.space)
    space = bench.space
    if target is None:
      target = data_registry.default_target(config.benchmark)
      config = dataclasses.replace(config, target=target)
    table = bench.metric(target)
  else:
    space = get_space(config.space)
  fingerprint = _fingerprint(config, space, bench, table)
  with io_utils.claim_workdir(workdir):
    # Only what decides a run: more strategies or seeds later add runs and leave
    # config.json as it is (results.json names the strategies and seeds of a call).
    io_utils.claim_config_json(workdir, fingerprint, _fingerprinted(config),
                               run_files=("runs", "state"))
    return _Comparison(config, workdir, log, space, bench, table, fingerprint, extra).run()


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


class _Comparison:
  """One locked :func:`compare` call: shared surrogates, probe and weak labels."""

  def __init__(self, config, workdir, log, space, bench, table, fingerprint, extra):
    self.config, self.workdir, self.log = config, workdir, log
    self.space, self.bench, self.table = space, bench, table
    self.fingerprint, self.extra = fingerprint, extra
    self.surrogates: dict = {}  # one encoded pool + compiled step per strategy
    self.weak_cache: dict = {}
    self.probe = self._probe() if config.evaluator == "rwe" else None
    self.optimum = (float(table.max()) if (table is not None and self.probe is None)
                    else None)

  def _probe(self):
    from jaxnas.evaluate import rwe  # pylint: disable=import-outside-toplevel
    fit, ev = rwe_config.load_probe_images(self.config.rwe, self.config.images_dir)
    return rwe.RandomWeightEvaluator(self.space, fit, ev, self.config.rwe)

  def _surrogate(self, name: str):
    cfg = self.config
    if name not in self.surrogates:
      self.surrogates[name] = registry.make_surrogate(
          name, self.space, pool_size=cfg.pool_size, ensemble_size=cfg.ensemble_size or None,
          num_steps=cfg.num_steps or None)
    return self.surrogates[name]

  def _zero_cost_weak_labels(self, pool):
    """The combined zero-cost weak label ``[P]`` of the pool (cached table) and its cost."""
    if "zero_cost" not in self.weak_cache:
      from jaxnas.evaluate import weak_labels as wl  # pylint: disable=import-outside-toplevel
      table = wl.load_or_compute(self.space, pool, wl.WeakLabelConfig(),
                                 images_dir=self.config.images_dir, log=self.log)
      seconds = float(sum(table.meta.get("seconds", {}).values()))
      self.weak_cache["zero_cost"] = (wl.combined(table), seconds, table.meta.get("fingerprint"))
    return self.weak_cache["zero_cost"]

  def _searcher(self, name: str, seed: int):
    cfg, space = self.config, self.space
    if name in self.extra:
      return self.extra[name](space, seed, cfg)
    if name == "acenas_zc":
      sur = self._surrogate("acenas")
      weak, _, _ = self._zero_cost_weak_labels(sur.pool)
      return registry.make_searcher("acenas", space, seed=seed, surrogate=sur,
                                    round_size=cfg.round_size, weak_labels=weak)
    if registry.uses_ranker(name):
      return registry.make_searcher(name, space, seed=seed, surrogate=self._surrogate(name),
                                    round_size=cfg.round_size)
    kwargs = {"batch_size": cfg.round_size} if name in ("random", "local") else {}
    return registry.make_searcher(name, space, seed=seed, **kwargs)

  def _evaluator(self):
    if self.probe is None:
      return evaluators.BenchmarkEvaluator(self.bench, self.config.target)
    return evaluators.ProbeEvaluator(self.probe.score, self.space.num_positions, name="rwe")

  def _one_run(self, name: str, seed: int) -> dict:
    cfg, space, table, optimum = self.config, self.space, self.table, self.optimum
    searcher = self._searcher(name, seed)
    stop = None
    if cfg.stop_at_optimum and optimum is not None:
      stop = lambda traj: bool(traj) and traj[-1]["best"] >= optimum - outcomes.OPTIMUM_TOLERANCE
    t0 = time.time()
    res = runner.run_search(searcher, self._evaluator(), cfg.budget, stop=stop,
                            checkpoint_path=os.path.join(self.workdir, "state",
                                                         f"{name}_seed{seed}.json"),
                            fingerprint=self.fingerprint)
    rec = {"strategy": name, "seed": seed, "best_arch": space.format(res.best_encoding),
           "best_encoding": res.best_encoding.tolist(),
           "searcher_seconds": round(res.searcher_seconds, 3),
           "evaluator_seconds": round(res.evaluator_seconds, 3),
           "wall_seconds": round(time.time() - t0, 3), "report": res.report,
           "stopped_at_optimum": bool(stop is not None and stop(res.trajectory)),
           **outcomes.seed_outcome(res.scores, None if self.probe is not None else table)}
    if self.probe is not None and table is not None:  # probe-driven search on a benchmark
      rec["true_accuracy_of_best"] = float(table[self.bench.row(res.best_encoding)])
    if name == "acenas_zc":
      _, secs, fp = self.weak_cache["zero_cost"]
      rec["report"].update({"weak_labels": "zero_cost_combined", "weak_label_table": fp,
                            "weak_label_seconds_once": round(secs, 1)})
    if name == "ranknas" and table is not None:
      opt_rows = np.nonzero(table >= table.max() - outcomes.OPTIMUM_TOLERANCE)[0]
      rec["report"]["pruned_space_contains_optimum"] = bool(
          searcher.contains(self.bench.encodings[opt_rows]).any())
    rec["trajectory"] = [[r["query"], r["arch"], r["score"], r["best"]] for r in res.trajectory]
    return rec

  def run(self) -> dict:
    cfg = self.config
    os.makedirs(os.path.join(self.workdir, "runs"), exist_ok=True)
    os.makedirs(os.path.join(self.workdir, "state"), exist_ok=True)
    per_strategy: dict = {}
    for name in cfg.strategies:
      runs = []
      for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds):
        path = os.path.join(self.workdir, "runs", f"{name}_seed{seed}.json")
        if os.path.exists(path):
          runs.append(_read_run(path))
          continue
        rec = self._one_run(name, seed)
        io_utils.atomic_write_json(path, rec)
        self.log(f"{name} seed {seed}: best {rec['best_accuracy']:.3f} "
                 f"q->opt {rec.get('queries_to_optimum')} searcher "
                 f"{rec['searcher_seconds']:.1f}s")
        runs.append(rec)
      agg = outcomes.aggregate(runs)
      agg["mean_searcher_seconds"] = float(np.mean([r["searcher_seconds"] for r in runs]))
      agg["mean_evaluator_seconds"] = float(np.mean([r["evaluator_seconds"] for r in runs]))
      per_strategy[name] = {**agg, "per_seed": [{k: v for k, v in r.items() if k != "trajectory"}
                                                for r in runs],
                            "_trajectories": [r["trajectory"] for r in runs]}
    self._write_outputs(per_strategy)
    return {k: {kk: vv for kk, vv in v.items() if kk != "_trajectories"}
            for k, v in per_strategy.items()}

  def _write_outputs(self, per_strategy: dict) -> None:
    cfg, workdir, optimum = self.config, self.workdir, self.optimum
    rows = [["strategy", "seed", "query", "arch", "score", "best_so_far"]]
    for name, res in per_strategy.items():
      for rec, traj in zip(res["per_seed"], res["_trajectories"]):
        for q, arch, score, best in traj:
          rows.append([name, rec["seed"], q, self.space.format(np.asarray(arch, np.int32)),
                       f"{score:.6f}", f"{best:.6f}"])
    io_utils.atomic_write_csv(os.path.join(workdir, "trajectory.csv"), rows)
    results = {"benchmark": cfg.benchmark, "target": cfg.target, "evaluator": cfg.evaluator,
               "budget": cfg.budget,
               "seeds": list(range(cfg.first_seed, cfg.first_seed + cfg.seeds)),
               "optimum": None, "strategies": {}}
    if optimum is not None:
      opt_rows = np.nonzero(self.table >= optimum - outcomes.OPTIMUM_TOLERANCE)[0]
      results["optimum"] = {"accuracy": optimum, "archs": [self.bench.archs[r] for r in opt_rows]}
    for name, res in per_strategy.items():
      results["strategies"][name] = {k: v for k, v in res.items() if k != "_trajectories"}
    io_utils.atomic_write_json(os.path.join(workdir, "results.json"), results)
    try:
      from jaxnas import plots  # pylint: disable=import-outside-toplevel
    except ImportError as e:
      self.log(f"best_vs_queries.png skipped: {e}")
      return
    curves = {name: np.stack([outcomes.best_so_far([t[2] for t in traj], cfg.budget)
                              for traj in res["_trajectories"]])
              for name, res in per_strategy.items()}
    ylabel = (f"mean regret of best-so-far ({cfg.target}, points)" if optimum is not None
              else f"mean best-so-far ({cfg.evaluator} score)")
    title = (f"{cfg.benchmark if cfg.benchmark != 'none' else cfg.space} "
             f"{cfg.target or ''} ({cfg.evaluator}), {cfg.seeds} seeds")
    plots.best_so_far(os.path.join(workdir, "best_vs_queries.png"), curves, optimum=optimum,
                      tolerance=outcomes.OPTIMUM_TOLERANCE,
                      xlabel="queries" if cfg.evaluator == "benchmark" else "evaluations",
                      ylabel=ylabel, title=title)
