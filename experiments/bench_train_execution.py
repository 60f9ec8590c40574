r"""How a group of different architectures should run: measured, side by side in one process.

  python -m experiments.bench_train_execution --group_size=8 --steps=20 --out=runs/exec.json

For each of ``group_training.EXECUTIONS`` (``lax.map`` + ``lax.switch``,
``lax.map`` + one-hot mixture, ``vmap`` + one-hot mixture) it trains the same
random NB201 cells on the same real CIFAR-10 batches for ``--steps`` steps,
after one untimed call that compiles, and prints the compile seconds and the
steady-state seconds per candidate-step. Writes a JSON with the numbers.
"""

from absl import flags

from experiments import cli
from jaxnas.evaluate import training_evaluator

_GROUP = flags.DEFINE_integer("group_size", 8, "candidates per group")
_STEPS = flags.DEFINE_integer("steps", 20, "timed training steps (one epoch of that many)")
_CHANNELS = flags.DEFINE_integer("channels", 8, "first-stage width")
_SIZE = flags.DEFINE_integer("image_size", 16, "image resolution")
_BATCH = flags.DEFINE_integer("batch_size", 64, "images per step")
_REPEATS = flags.DEFINE_integer("repeats", 2, "timed epochs per execution (the minimum is kept)")
_OUT = flags.DEFINE_string("out", "runs/bench_train_execution.json", "JSON output")


def main(argv):
  del argv
  training_evaluator.benchmark_executions(
      group_size=_GROUP.value, steps=_STEPS.value, channels=_CHANNELS.value,
      image_size=_SIZE.value, batch_size=_BATCH.value, repeats=_REPEATS.value, out=_OUT.value,
      log=print)


if __name__ == "__main__":
  cli.run(main)
