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

from absl import flags

from experiments import cli
from experiments import flags_common
from jaxnas import errors

flags_common.define_sweep_flags()
flags.adopt_module_key_flags(flags_common)  # listed by --help
FLAGS = flags.FLAGS


def main(argv):
  del argv
  cli.require(workdir=FLAGS.workdir)
  # pylint: disable=import-outside-toplevel
  from experiments.baselines import predictors
  from jaxnas import config_checks
  from jaxnas import protocol
  # pylint: enable=import-outside-toplevel
  sizes = [config_checks.check_int("--train_sizes", s) for s in FLAGS.train_sizes]
  if not sizes:
    raise errors.ConfigError("--train_sizes is empty")
  config_checks.check_int("--seeds", FLAGS.seeds)
  log = lambda m: print(m, flush=True)
  config = flags_common.run_config_from_flags(sizes[0])
  methods = predictors.sweep_methods(FLAGS.baselines, config, log=log,
                                     pretrain_mode=FLAGS.pretrain,
                                     weak_labels_path=FLAGS.weak_labels,
                                     images_dir=FLAGS.images_dir)
  result = protocol.sweep(config, sizes, range(FLAGS.seeds), FLAGS.workdir, methods=methods,
                          log=log)
  summary, loaded = result["summary"], result["loaded"]
  for key in protocol.SUMMARY_KEYS:
    print(f"\n{key} ({loaded.bench.name}, {loaded.target}, mean ± std over {FLAGS.seeds} seeds)")
    print(protocol.markdown_table(summary, key, sizes))
  print(f"\njaxnas fit time for all {len(sizes) * FLAGS.seeds} runs: "
        f"{summary['jaxnas'].get('fit_time_s')} s (one compiled program)")
  if "pretrain_time_s" in summary["jaxnas"]:
    print(f"weak-label pretraining ({FLAGS.pretrain}): {summary['jaxnas']['pretrain_time_s']} s")
  print(f"wrote results to {FLAGS.workdir}")


if __name__ == "__main__":
  cli.run(main)
