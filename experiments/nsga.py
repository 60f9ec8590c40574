r"""NSGA-II over (quality up, cost down): the random-weight probe or trained candidates.

  python -m experiments.nsga --space=nb201 --objectives=rwe,params \
      --generations=20 --population=50 --max_evaluations=1000 --workdir=/tmp/nsga
  python -m experiments.nsga --space=complete_dag:5 --objectives=train,flops \
      --generations=4 --population=16 --max_evaluations=48 --workdir=/tmp/nsga_train

Quality (first objective, or ``--evaluator``): ``rwe`` (the random-weight probe) or ``train`` (held-out
accuracy of the candidate trained from scratch at the ``--train_*`` budget; the found
front is then retrained at the ``--final_*`` budget and scored on test images the
search never saw). Costs: ``params`` or ``flops`` (computed from the architecture) or
``latency_<device>`` (a benchmark column, e.g. ``latency_pixel3``). Writes
``config.json``, ``pareto.csv``, ``hypervolume.csv``, ``pareto.png`` and
``results.json`` under ``--workdir`` (see :mod:`jaxnas.search.multi_objective`); on
NB201 the found front is placed at its TRUE accuracy and compared with the true front.
"""

from __future__ import annotations

from absl import flags

from experiments import cli
from experiments import rwe_flags
from experiments import table_free_flags
from jaxnas.search import protocol_configs

FLAGS = flags.FLAGS
_D = protocol_configs.NSGAConfig()  # the one place of every default
flags.DEFINE_string("space", _D.space, "Cell space.")
flags.DEFINE_list("objectives", [_D.evaluator, _D.cost],
                  "Quality (rwe or train), then a cost (params, flops, latency_<device>).")
flags.DEFINE_enum("evaluator", None, list(protocol_configs.NSGA_EVALUATORS), "The quality objective; "
                  "--evaluator=train alone means --objectives=train,params.")
flags.DEFINE_integer("generations", _D.generations, "Generations (generation 0 is random).")
flags.DEFINE_integer("population", _D.population, "Population size.")
flags.DEFINE_integer("max_evaluations", _D.max_evaluations,
                     "Budget of distinct evaluated (probed or trained) archs.")
flags.DEFINE_integer("final_archs", _D.final_archs, "--objectives=train,...: front members "
                     "retrained, spread along the cost axis.")
flags.DEFINE_integer("seed", _D.seed, "Seed.")
flags.DEFINE_string("workdir", None, "Output folder.")
flags.DEFINE_string("images_dir", None, "Folder holding cifar10/{train,test}.npz.")
flags.DEFINE_string("data_dir", None, "Folder holding nb201/nb201.csv.")
flags.DEFINE_string("target", _D.target, "Benchmark column of true accuracy.")
for _name in table_free_flags.TRAINING_FLAGS:  # listed by --help
  flags.declare_key_flag(_name)


def main(argv):
  del argv
  cli.require(workdir=FLAGS.workdir)
  # The library (and JAX) loads only when a run starts: --help stays fast.
  from jaxnas import errors  # pylint: disable=import-outside-toplevel
  from jaxnas.search import multi_objective  # pylint: disable=import-outside-toplevel
  objectives = list(FLAGS.objectives)
  if FLAGS.evaluator is not None and not FLAGS["objectives"].present:
    objectives[0] = FLAGS.evaluator
  if len(objectives) != 2 or objectives[0] not in protocol_configs.NSGA_EVALUATORS:
    raise errors.ConfigError(f"--objectives={','.join(objectives)}: expected "
                             "rwe,<cost> or train,<cost>")
  if FLAGS.evaluator is not None and objectives[0] != FLAGS.evaluator:
    raise errors.ConfigError(f"--evaluator={FLAGS.evaluator} but --objectives starts with "
                             f"{objectives[0]}: pass one of them")
  search, final = table_free_flags.training_configs()
  config = protocol_configs.NSGAConfig(
      space=FLAGS.space, evaluator=objectives[0], cost=objectives[1],
      generations=FLAGS.generations, population=FLAGS.population,
      max_evaluations=FLAGS.max_evaluations, seed=FLAGS.seed, target=FLAGS.target,
      probe=rwe_flags.probe_config(seed=FLAGS.seed).replace(naswot_images=0),
      training=search, val_images=FLAGS.val_images, final_training=final,
      final_archs=FLAGS.final_archs, final_seeds=FLAGS.final_seeds, images=FLAGS.images,
      images_dir=FLAGS.images_dir or "", data_dir=FLAGS.data_dir or "",
      test_fraction=FLAGS.test_fraction)
  res = multi_objective.run(config, FLAGS.workdir)
  print({k: res.get(k) for k in ("evaluations", "hypervolume_ratio", "igd", "search_seconds")})


if __name__ == "__main__":
  rwe_flags.define_probe_flags()
  flags.adopt_module_key_flags(rwe_flags)  # listed by --help
  cli.run(main)
