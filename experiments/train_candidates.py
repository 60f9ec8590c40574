r"""Train candidate networks in groups and write a benchmark table the ranker reads.

  python -m experiments.train_candidates --space=nb201 --num_candidates=200 --seed=0 \
      --workdir=runs/train200

Writes config.json, archs.txt, table.csv, results.json and learning_curves.png
under --workdir (see jaxnas.evaluate.candidate_table); a killed run continues
where it stopped when started again with the same flags. Then:

  python -m experiments.train_ranker --benchmark=runs/train200/table.csv --space=nb201 \
      --target=trained_accuracy --workdir=runs/ranker_on_trained
"""

from absl import flags
from absl import logging

from experiments import cli
from jaxnas import errors
from jaxnas.evaluate import training_config

_D = training_config.TrainingConfig()
_SPACE = flags.DEFINE_string("space", "nb201", "cell space: nb201 or complete_dag:N")
_NUM = flags.DEFINE_integer("num_candidates", 200, "candidates sampled without repeats")
_ARCHS = flags.DEFINE_string("archs", "", "file with one architecture string per line "
                             "(instead of sampling)")
_IMAGES = flags.DEFINE_string("images", "", "your own .npz (x uint8 NHWC, y int); default: "
                              "the CIFAR-10 subset of --images_dir")
_IMAGES_DIR = flags.DEFINE_string("images_dir", "", "folder holding cifar10/{train,test}.npz")
_HOLDOUT = flags.DEFINE_float("holdout_fraction", 0.2, "share of --images held out for scoring")
_DATA_DIR = flags.DEFINE_string("data_dir", "", "benchmark data (the NB201 table, for tau)")
_WORKDIR = flags.DEFINE_string("workdir", None, "output folder", required=True)
_SEED = flags.DEFINE_integer("seed", _D.seed, "candidates, weights, images, batches")
_EPOCHS = flags.DEFINE_integer("epochs", _D.epochs, "budget: training epochs")
_CHANNELS = flags.DEFINE_integer("channels", _D.channels, "budget: first-stage width")
_SIZE = flags.DEFINE_integer("image_size", _D.image_size, "budget: image resolution")
_FRACTION = flags.DEFINE_float("train_fraction", _D.train_fraction,
                               "budget: fraction of the training images")
_CELLS = flags.DEFINE_integer("cells_per_stage", _D.cells_per_stage, "cells per stage")
_BATCH = flags.DEFINE_integer("batch_size", _D.batch_size, "images per step")
_OPT = flags.DEFINE_enum("optimizer", _D.optimizer, list(training_config.OPTIMIZERS), "optimizer")
_LR = flags.DEFINE_float("learning_rate", _D.learning_rate, "peak learning rate (cosine)")
_WD = flags.DEFINE_float("weight_decay", _D.weight_decay, "weight decay")
_EVAL = flags.DEFINE_integer("eval_images", _D.eval_images, "held-out images scored (0: all)")
_GROUP = flags.DEFINE_integer("group_size", _D.group_size, "candidates trained together")
_EXEC = flags.DEFINE_enum("execution", _D.execution, list(training_config.EXECUTIONS),
                          "how a group runs (map_switch: fastest on CPU)")


def main(argv):
  del argv
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint at INFO
  from jaxnas.evaluate import candidate_table  # pylint: disable=import-outside-toplevel
  try:
    training = training_config.TrainingConfig(
        epochs=_EPOCHS.value, channels=_CHANNELS.value, image_size=_SIZE.value,
        train_fraction=_FRACTION.value, cells_per_stage=_CELLS.value, batch_size=_BATCH.value,
        optimizer=_OPT.value, learning_rate=_LR.value, weight_decay=_WD.value,
        eval_images=_EVAL.value, group_size=_GROUP.value, execution=_EXEC.value,
        seed=_SEED.value)
    config = candidate_table.CandidateTableConfig(
        space=_SPACE.value, num_candidates=_NUM.value, archs_file=_ARCHS.value,
        images=_IMAGES.value, images_dir=_IMAGES_DIR.value, holdout_fraction=_HOLDOUT.value,
        data_dir=_DATA_DIR.value, training=training)
    candidate_table.train_candidates(config, _WORKDIR.value,
                                     log=lambda m: print(m, flush=True))
  except errors.JaxnasError as e:
    raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
  cli.run(main)
