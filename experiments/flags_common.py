"""absl flags shared by the ranker entry points, and their conversion to a RunConfig.

Defining the flags imports no library module (``--help`` answers at once);
names such as ``--loss`` are checked by the library's configs, which list the
valid choices in their error messages.
"""

from __future__ import annotations

from absl import flags

FLAGS = flags.FLAGS


def define_ranker_flags(default_benchmark: str = "nasbench_graph:cora") -> None:
  flags.DEFINE_string("benchmark", default_benchmark,
                      "nb201 | nb101 | nasbench_graph:<dataset> | path/to/table.csv")
  flags.DEFINE_string("target", None, "Metric column to rank by (default: the benchmark's).")
  flags.DEFINE_string("space", None, "Space spec of a CSV benchmark's arch column (e.g. nb201).")
  flags.DEFINE_string("data_dir", None, "Shared benchmark data folder (default: $JAXNAS_DATA_DIR "
                      "or ../shared/data).")
  flags.DEFINE_enum("on_invalid", "raise", ["raise", "drop"],
                    "What to do with malformed rows / NaN targets: fail, or drop and report.")
  flags.DEFINE_string("workdir", None, "Output folder (results, checkpoints, plots).")
  flags.DEFINE_string("loss", "pairwise_logistic", "Ranking loss: pairwise_logistic, "
                      "pairwise_hinge, lambdarank, softmax or mse.")
  flags.DEFINE_float("tier_weight", 0.0, "Weight of NAR's tier cross-entropy (0: off).")
  flags.DEFINE_integer("num_tiers", 5, "NAR quality tiers (quantiles of the training labels).")
  flags.DEFINE_string("encoder", "gin", "Graph encoder: gin or gcn.")
  flags.DEFINE_integer("hidden", 64, "Node state width.")
  flags.DEFINE_integer("num_layers", 4, "Message-passing rounds.")
  flags.DEFINE_integer("num_steps", 600, "Optimisation steps.")
  flags.DEFINE_integer("batch_size", 64, "Architectures per ranking list per step.")
  flags.DEFINE_float("learning_rate", 2e-3, "Peak AdamW learning rate.")
  flags.DEFINE_float("weight_decay", 1e-4, "AdamW weight decay.")
  flags.DEFINE_float("val_fraction", 0.0, "Share of the train archs held out for early stopping "
                     "and model selection (0: fit on all of them, keep the last parameters).")
  flags.DEFINE_integer("patience", 0, "Early-stopping patience in checks (0: keep best, never stop).")
  flags.DEFINE_integer("eval_every", 50, "Steps between validation checks / progress lines.")
  flags.DEFINE_integer("ensemble_size", 1, "Rankers trained together on the same data (vmapped).")
  flags.DEFINE_bool("cost_features", True, "Feed params/FLOPs computed from the architecture.")
  flags.DEFINE_integer("checkpoint_every", 200, "Steps between orbax checkpoints.")
  flags.DEFINE_integer("seed", 0, "Seed of the split and the rankers.")
  flags.DEFINE_string("pretrain", "none",
                    "Weak-label pretraining (AceNAS): none; zero_cost = params/FLOPs, NASWOT, synflow "
                    "and the random-weight probe computed by jaxnas for every arch; supernet = "
                    "those plus weight-sharing supernet accuracy/loss.")
  flags.DEFINE_string("pretrain_use", "both", "pretrain (the encoder on the weak labels), "
                      "features (feed them as extra inputs), or both.")
  flags.DEFINE_list("pretrain_columns", None, "Weak-label columns to use (default: all of the "
                    "mode's); for ablations.")
  flags.DEFINE_list("pretrain_rank_columns", None, "Columns whose combined rank is the score "
                    "head's pretraining target (default: all used columns); every used column "
                    "stays an auxiliary regression target.")
  flags.DEFINE_integer("pretrain_steps", 1000, "Pretraining steps on the weak labels.")
  flags.DEFINE_string("weak_labels", None, "Weak-label table (CSV) to reuse or write (default: "
                      "$JAXNAS_CACHE_DIR or ~/.cache/jaxnas, keyed by space and settings).")
  flags.DEFINE_string("images_dir", None, "Folder holding cifar10/{train,test}.npz "
                      "(default: $JAXNAS_IMAGES_DIR or ../shared/images).")
  flags.DEFINE_integer("supernet_steps", 1500, "Weight-sharing supernet training steps.")


def run_config_from_flags(train_size: int = 100):
  """The :class:`jaxnas.protocol.RunConfig` of the ranker flags (checked by its classes)."""
  # pylint: disable=import-outside-toplevel
  from jaxnas import models
  from jaxnas import pretrain as pretrain_lib
  from jaxnas import protocol
  from jaxnas import train
  from jaxnas.evaluate import weight_sharing_supernet as supernet
  from jaxnas.evaluate import weak_labels
  # pylint: enable=import-outside-toplevel
  model = models.ModelConfig(encoder=FLAGS.encoder, hidden=FLAGS.hidden,
                             num_layers=FLAGS.num_layers, num_tiers=FLAGS.num_tiers)
  tc = train.TrainConfig(loss=FLAGS.loss, tier_weight=FLAGS.tier_weight,
                         learning_rate=FLAGS.learning_rate, weight_decay=FLAGS.weight_decay,
                         num_steps=FLAGS.num_steps, batch_size=FLAGS.batch_size,
                         eval_every=FLAGS.eval_every, val_fraction=FLAGS.val_fraction,
                         patience=FLAGS.patience)
  weak = weak_labels.WeakLabelConfig(supernet=supernet.SupernetTrainConfig(
      num_steps=FLAGS.supernet_steps))
  pre = pretrain_lib.PretrainConfig(
      mode=FLAGS.pretrain, use=FLAGS.pretrain_use,
      columns=tuple(FLAGS.pretrain_columns) if FLAGS.pretrain_columns else None,
      rank_columns=(tuple(FLAGS.pretrain_rank_columns) if FLAGS.pretrain_rank_columns
                    else None),
      num_steps=FLAGS.pretrain_steps, weak_labels=FLAGS.weak_labels,
      images_dir=FLAGS.images_dir, weak=weak)
  return protocol.RunConfig(
      benchmark=FLAGS.benchmark, target=FLAGS.target, space=FLAGS.space, data_dir=FLAGS.data_dir,
      on_invalid=FLAGS.on_invalid, train_size=train_size, seed=FLAGS.seed,
      ensemble_size=FLAGS.ensemble_size, use_cost_features=FLAGS.cost_features,
      checkpoint_every=FLAGS.checkpoint_every, model=model, train=tc, pretrain=pre)

