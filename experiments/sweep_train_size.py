r"""The standard predictor protocol: Kendall tau vs number of training archs.

  python -m experiments.sweep_train_size --benchmark=nb201 --target=cifar10_test \
      --train_sizes=78,156,469,781,1563 --seeds=5 --workdir=/tmp/sweep

All (size, seed) rankers train together as members of one compiled program.
Baselines (--baselines) and the built-in one-hot ridge reference run on the same
splits. Writes config.json, runs.jsonl,
summary.json, tau_vs_train_size.png and prints markdown tables.

Weak-label pretraining (AceNAS) with the XGBoost + published-NASWOT baseline side
by side:

  python -m experiments.sweep_train_size --benchmark=nb201 --target=cifar10_test \
      --pretrain=zero_cost --baselines=xgb_onehot_params,xgb_onehot_params_naswot \
      --workdir=/tmp/sweep_zc
"""

import json
import os

from absl import flags

from experiments import cli
from experiments import flags_common
from experiments.baselines import predictors
from jaxnas import errors
from jaxnas import io_utils
from jaxnas import protocol
from jaxnas.evaluate import weak_labels

flags_common.define_ranker_flags()
flags.DEFINE_list("train_sizes", ["78", "156", "469", "781", "1563"], "Train-set sizes.")
flags.DEFINE_integer("seeds", 5, "Seeds per size (0..seeds-1).")
flags.DEFINE_list("baselines", ["params", "xgb_onehot", "xgb_onehot_params"],
                  f"Baselines on the same splits; any of {predictors.NAMES} (empty: none).")
flags.adopt_module_key_flags(flags_common)  # listed by --help
FLAGS = flags.FLAGS


def run_sweep(config, sizes, seeds, workdir, baselines, *, log=print,
              pretrain_mode: str = "none", weak_labels_path=None, images_dir=None) -> dict:
  """jaxnas (and its one-hot ridge reference) plus ``baselines`` on the same splits.

  Writes ``summary.json`` and ``runs.jsonl`` under ``workdir``; returns
  ``{"summary": ..., "runs": [...], "loaded": LoadedBenchmark}``.
  """
  out = protocol.sweep(config, sizes, list(seeds), workdir, log=log)
  runs = list(out["runs"])
  loaded = out["loaded"]
  weak = None
  for name in baselines:
    ok, why = predictors.available(name, loaded.bench.space)
    if not ok:
      log(f"baseline {name} skipped: {why}")
      continue
    if name.endswith("naswot") and "naswot" not in loaded.bench.metrics:
      log(f"baseline {name} skipped: the benchmark has no naswot column")
      continue
    if name.endswith("_zc") and weak is None:
      try:  # jaxnas's own zero-cost weak labels (cached; computed if missing)
        weak = weak_labels.load_or_compute(
            loaded.bench.space, loaded.bench.encodings, config.pretrain.weak,
            path=weak_labels_path if pretrain_mode == "zero_cost" else None,
            images_dir=images_dir, log=log)
      except errors.JaxnasError as e:
        log(f"baseline {name} skipped: {e}")
        continue
    for size, seed, rows in out["runs_rows"]:
      scores = predictors.predict(name, loaded.bench, rows, loaded.labels, seed, weak=weak)
      res = protocol.evaluate(scores, loaded.labels, rows)
      res.update({"train_size": size, "seed": seed, "method": name})
      runs.append(res)
  summary = protocol.summarize(runs, protocol.SUMMARY_KEYS)
  summary["jaxnas"].update({k: v for k, v in out["summary"]["jaxnas"].items() if k.endswith("_s")})
  io_utils.atomic_write_json(os.path.join(workdir, "summary.json"), summary)
  io_utils.atomic_write_text(os.path.join(workdir, "runs.jsonl"),
                             "".join(json.dumps(r, sort_keys=True) + "\n" for r in runs))
  return {"summary": summary, "runs": runs, "loaded": loaded}


def main(argv):
  del argv
  cli.require(workdir=FLAGS.workdir)
  from jaxnas import config_checks  # pylint: disable=import-outside-toplevel
  sizes = [config_checks.check_int("--train_sizes", s) for s in FLAGS.train_sizes]
  if not sizes:
    raise errors.ConfigError("--train_sizes is empty")
  config_checks.check_int("--seeds", FLAGS.seeds)
  log = lambda m: print(m, flush=True)
  config = flags_common.run_config_from_flags(sizes[0])
  result = run_sweep(config, sizes, range(FLAGS.seeds), FLAGS.workdir, FLAGS.baselines,
                     log=log, pretrain_mode=FLAGS.pretrain, weak_labels_path=FLAGS.weak_labels,
                     images_dir=FLAGS.images_dir)
  summary, loaded = result["summary"], result["loaded"]
  for key in protocol.SUMMARY_KEYS:
    print(f"\n{key} ({loaded.bench.name}, {loaded.target}, mean ± std over {FLAGS.seeds} seeds)")
    print(protocol.markdown_table(summary, key, sizes))
  print(f"\njaxnas fit time for all {len(sizes) * FLAGS.seeds} runs: "
        f"{summary['jaxnas'].get('fit_time_s')} s (one compiled program)")
  if "pretrain_time_s" in summary["jaxnas"]:
    print(f"weak-label pretraining ({FLAGS.pretrain}): {summary['jaxnas']['pretrain_time_s']} s")
  try:
    from jaxnas import plots  # pylint: disable=import-outside-toplevel
    series = {}
    for method, by_size in summary.items():
      xs = [s for s in sizes if str(s) in by_size]
      series[method] = (xs, [by_size[str(s)]["kendalltau_all"]["mean"] for s in xs],
                        [by_size[str(s)]["kendalltau_all"]["std"] for s in xs])
    plots.lines(os.path.join(FLAGS.workdir, "tau_vs_train_size.png"), series,
                title=f"{loaded.bench.name} {loaded.target}: Kendall tau (all archs)",
                xlabel="training architectures", ylabel="Kendall tau", logx=True)
  except ImportError as e:
    log(f"tau_vs_train_size.png skipped: {e}")
  print(f"wrote results to {FLAGS.workdir}")


if __name__ == "__main__":
  cli.run(main)
