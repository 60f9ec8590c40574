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
(plus the parameter count). Every strategy sees the same seeds. With
--evaluator=train (no table: every query trains a candidate): acenas, renas,
rea, random, halving (successive halving over random candidates on the
--train_epochs, within the same candidate-epochs) and acenas_halving (the same
rungs over candidates an AceNAS ranker picks, learning from both fidelities);
see docs/table_free_search.md.

Writes results.json, trajectory.csv, best_vs_queries.png, runs/ and state/ under
--workdir (see jaxnas.search.comparison); the same command again resumes.
"""

from __future__ import annotations


from absl import flags

from jaxnas import errors
from jaxnas.evaluate import rwe_config
from jaxnas.search import protocol_configs

from experiments import cli
from experiments import table_free_flags

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


def _xgb_searcher(name: str):
  """A compare() searcher factory of the XGBoost predictor-loop baselines."""
  from experiments.baselines import xgb_search  # pylint: disable=import-outside-toplevel
  return lambda space, seed, cfg: xgb_search.XGBoostLoopSearch(
      space, seed=seed, use_params=name == "xgb_params", round_size=cfg.round_size)


def config_from_flags() -> dict:
  return {"benchmark": FLAGS.benchmark, "target": FLAGS.target, "space": FLAGS.space,
          "evaluator": FLAGS.evaluator, "strategy": [s.strip() for s in FLAGS.strategy if s.strip()],
          "budget": FLAGS.budget, "seeds": FLAGS.seeds, "first_seed": FLAGS.first_seed,
          "stop_at_optimum": FLAGS.stop_at_optimum, "round_size": FLAGS.round_size,
          "ensemble_size": FLAGS.ensemble_size, "num_steps": FLAGS.num_steps,
          "pool_size": FLAGS.pool_size, "data_dir": FLAGS.data_dir,
          "images_dir": FLAGS.images_dir}


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
  # The library (and JAX) loads only when a run starts: --help stays fast.
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
  from jaxnas.search import comparison  # pylint: disable=import-outside-toplevel
  cfg = config_from_flags()
  config = protocol_configs.CompareConfig(
      benchmark=cfg["benchmark"], target=cfg["target"], space=cfg["space"],
      evaluator=cfg["evaluator"], strategies=tuple(cfg["strategy"]), budget=cfg["budget"],
      seeds=cfg["seeds"], first_seed=cfg["first_seed"], stop_at_optimum=cfg["stop_at_optimum"],
      round_size=cfg["round_size"], ensemble_size=cfg["ensemble_size"],
      num_steps=cfg["num_steps"], pool_size=cfg["pool_size"], data_dir=cfg["data_dir"],
      images_dir=cfg["images_dir"], rwe=_rwe_config_from_flags())
  results = comparison.compare(config, FLAGS.workdir,
                            extra_searchers={n: _xgb_searcher(n) for n in BASELINES},
                            log=lambda m: print(m, flush=True))
  keys = ("median_queries_to_optimum", "max_queries_to_optimum", "mean_regret_at_50",
          "mean_best_accuracy", "mean_searcher_seconds")
  for name, res in results.items():
    print(name, {k: res.get(k) for k in keys})
  print(f"wrote results to {FLAGS.workdir}")


if __name__ == "__main__":
  cli.run(main)
