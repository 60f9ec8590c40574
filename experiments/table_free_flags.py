"""absl flags of ``experiments.search --evaluator=train`` (search without a table).

Defaults are :class:`jaxnas.search.protocol_configs.TableFreeConfig`'s (re-exported
by :mod:`jaxnas.search.table_free`); this module only turns flags into that config
and loads no JAX.
"""

from __future__ import annotations

from absl import flags

from jaxnas import errors
from jaxnas.evaluate import training_config
from jaxnas.search import protocol_configs

FLAGS = flags.FLAGS
_D = protocol_configs.TableFreeConfig()  # the one place of every default
_S, _F = _D.search_training, _D.final_training

flags.DEFINE_string("images", _D.images, "--evaluator=train: your own .npz (x uint8 NHWC, "
                    "y int); default: CIFAR-10 of --images_dir.")
flags.DEFINE_float("test_fraction", _D.test_fraction, "--evaluator=train with --images: share "
                   "held out as the final test set.")
flags.DEFINE_integer("val_images", _D.val_images, "--evaluator=train: training images held "
                     "out to score search candidates.")
flags.DEFINE_list("weak_signals", list(_D.weak_signals),
                  "--evaluator=train: weak-label signals of the ranker strategies' pool.")
flags.DEFINE_integer("train_epochs", _S.epochs, "Search budget: epochs per candidate.")
flags.DEFINE_integer("train_channels", _S.channels, "Search budget: first-stage width.")
flags.DEFINE_integer("train_image_size", _S.image_size, "Search budget: image resolution.")
flags.DEFINE_float("train_fraction", _S.train_fraction,
                   "Search budget: share of the search training images.")
flags.DEFINE_integer("train_cells_per_stage", _S.cells_per_stage, "Search budget: cells per stage.")
flags.DEFINE_integer("train_batch_size", _S.batch_size, "Search: images per step.")
flags.DEFINE_integer("group_size", _S.group_size, "Candidates trained together (search, final).")
flags.DEFINE_integer("final_epochs", _F.epochs, "Final retraining: epochs.")
flags.DEFINE_integer("final_channels", _F.channels, "Final retraining: first-stage width.")
flags.DEFINE_integer("final_image_size", _F.image_size, "Final retraining: image resolution.")
flags.DEFINE_float("final_train_fraction", _F.train_fraction,
                   "Final retraining: share of the training images.")
flags.DEFINE_integer("final_cells_per_stage", _F.cells_per_stage,
                     "Final retraining: cells per stage.")
flags.DEFINE_integer("final_batch_size", _F.batch_size, "Final retraining: images per step.")
flags.DEFINE_integer("final_top_k", _D.final_top_k,
                     "Architectures retrained per (strategy, search seed).")
flags.DEFINE_integer("final_seeds", _D.final_seeds, "Seeds of every final retraining.")


# The flags of the two training budgets (search candidates, final retraining) and
# their images, shared with experiments.nsga --evaluator=train.
TRAINING_FLAGS = ("images", "test_fraction", "val_images", "train_epochs", "train_channels",
                  "train_image_size", "train_fraction", "train_cells_per_stage",
                  "train_batch_size", "group_size", "final_epochs", "final_channels",
                  "final_image_size", "final_train_fraction", "final_cells_per_stage",
                  "final_batch_size", "final_seeds")


def training_configs():
  """``(search, final)`` :class:`TrainingConfig` of the budget flags above."""
  search = training_config.TrainingConfig(
      epochs=FLAGS.train_epochs, channels=FLAGS.train_channels,
      image_size=FLAGS.train_image_size, train_fraction=FLAGS.train_fraction,
      cells_per_stage=FLAGS.train_cells_per_stage, batch_size=FLAGS.train_batch_size,
      group_size=FLAGS.group_size)
  final = training_config.TrainingConfig(
      epochs=FLAGS.final_epochs, channels=FLAGS.final_channels,
      image_size=FLAGS.final_image_size, train_fraction=FLAGS.final_train_fraction,
      cells_per_stage=FLAGS.final_cells_per_stage, batch_size=FLAGS.final_batch_size,
      group_size=FLAGS.group_size)
  return search, final


def table_free_config(cfg: dict):
  """The :class:`TableFreeConfig` of the search flags (``cfg``) and the flags above."""
  search, final = training_configs()
  if not cfg["space"]:
    raise errors.ConfigError("--evaluator=train needs --space (e.g. complete_dag:5)")
  return protocol_configs.TableFreeConfig(
      space=cfg["space"],
      strategies=tuple(cfg["strategy"]), budget=cfg["budget"], seeds=cfg["seeds"],
      first_seed=cfg["first_seed"],
      # search.py's own defaults suit table lookups; a trained candidate costs far more.
      round_size=cfg["round_size"] if FLAGS["round_size"].present else _D.round_size,
      pool_size=cfg["pool_size"] if FLAGS["pool_size"].present else _D.pool_size,
      ensemble_size=cfg["ensemble_size"],
      num_steps=cfg["num_steps"], weak_signals=tuple(s.strip() for s in FLAGS.weak_signals),
      search_training=search, val_images=FLAGS.val_images, final_training=final,
      final_top_k=FLAGS.final_top_k, final_seeds=FLAGS.final_seeds, images=FLAGS.images,
      images_dir=cfg["images_dir"] or "", test_fraction=FLAGS.test_fraction)

