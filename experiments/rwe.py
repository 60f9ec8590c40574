r"""Score NB201 (or complete-DAG) cells with the random-weight linear probe.

  python -m experiments.rwe --space=nb201 --num_candidates=1000 --seed=0 --workdir=/tmp/rwe

Flags -> :class:`jaxnas.evaluate.rwe_study.RWEStudyConfig` -> ``rwe_study.run``,
which writes ``config.json``, ``scores.csv``, ``results.json`` (Kendall tau /
Spearman of the probe vs ``cifar10_test`` when the benchmark is present, with
the ``params_m`` baseline and NASWOT from the same forward pass;
``candidates_per_s``) and ``rwe_vs_accuracy.png`` under ``--workdir``.
"""

from __future__ import annotations

from absl import flags

from experiments import cli
from experiments import rwe_flags

FLAGS = flags.FLAGS

flags.DEFINE_string("space", "nb201", "Cell space: nb201 or complete_dag:N.")
flags.DEFINE_string("num_candidates", "1000", "How many candidates, or 'all'.")
flags.DEFINE_integer("seed", 0, "Seed of candidate sampling, image choice and random weights.")
flags.DEFINE_string("workdir", None, "Output folder.")
flags.DEFINE_string("images_dir", None, "Folder holding cifar10/{train,test}.npz.")
flags.DEFINE_string("data_dir", None, "Folder holding nb201/nb201.csv.")
flags.DEFINE_string("target", "cifar10_test", "Benchmark column of true accuracy.")
rwe_flags.define_probe_flags()
flags.adopt_module_key_flags(rwe_flags)  # listed by --help


def main(argv):
  del argv
  # The library (and JAX) loads only when a run starts: --help stays fast.
  from jaxnas.evaluate import rwe_study  # pylint: disable=import-outside-toplevel
  cli.require(workdir=FLAGS.workdir)
  config = rwe_study.RWEStudyConfig(
      space=FLAGS.space, num_candidates=FLAGS.num_candidates, seed=FLAGS.seed,
      images_dir=FLAGS.images_dir, data_dir=FLAGS.data_dir, target=FLAGS.target,
      probe=rwe_flags.probe_config(seed=FLAGS.seed))
  res = rwe_study.run(config, FLAGS.workdir)
  summary = {k: res[k]["kendalltau"] for k in ("probe", "params_m", "naswot_jaxnas",
                                               "probe_naswot_vote") if k in res}
  print(f"candidates/s {res['candidates_per_s']:.1f}; Kendall tau {summary}")
  print(f"wrote results to {FLAGS.workdir}")


if __name__ == "__main__":
  cli.run(main)
