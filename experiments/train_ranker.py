r"""Train a ranker on `train_size` archs of a benchmark; evaluate on all the others.

  python -m experiments.train_ranker --benchmark=nb201 --target=cifar10_test \
      --train_size=156 --loss=lambdarank --seed=0 --workdir=/tmp/nb201_156

Writes config.json, metrics.jsonl, results.json, predictions.csv, scatter.png and
checkpoints/ under --workdir; rerunning with the same --workdir resumes from the
last checkpoint. --pretrain=zero_cost|supernet first pretrains the encoder on weak
labels that jaxnas computes for every architecture (cached as weak_labels.csv).
"""

from absl import flags

from experiments import cli
from experiments import flags_common

flags_common.define_ranker_flags()
flags.DEFINE_integer("train_size", 100, "Number of labelled architectures to train on.")
flags.adopt_module_key_flags(flags_common)  # listed by --help
FLAGS = flags.FLAGS


def main(argv):
  del argv
  cli.require(workdir=FLAGS.workdir)
  from jaxnas import protocol  # pylint: disable=import-outside-toplevel
  config = flags_common.run_config_from_flags(FLAGS.train_size)
  protocol.train_and_evaluate(config, FLAGS.workdir, log=lambda m: print(m, flush=True))
  print(f"wrote results to {FLAGS.workdir}")


if __name__ == "__main__":
  cli.run(main)
