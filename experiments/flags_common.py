"""absl flags shared by the ranker entry points, and their conversion to a RunConfig.

Defining the flags imports no library module (``--help`` answers at once).
Every setting of the ranker's configs (``ModelConfig``, ``TrainConfig``,
``PretrainConfig``, ``RunConfig``) has its default in the library only: such a
flag defaults to None, and only the flags a user gives are passed on. Names
such as ``--loss`` are checked by the library, which lists the valid choices
(its registries) in the error message.
"""

from __future__ import annotations

from absl import flags

FLAGS = flags.FLAGS
_LIB = " (default: the library config's)."


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
  flags.DEFINE_string("loss", None, "Ranking loss, a key of jaxnas.losses.RANKING_LOSSES" + _LIB)
  flags.DEFINE_float("tier_weight", None, "Weight of NAR's tier cross-entropy (0: off)" + _LIB)
  flags.DEFINE_integer("num_tiers", None, "NAR quality tiers (quantiles of the training labels)"
                       + _LIB)
  flags.DEFINE_string("encoder", None, "Graph encoder, one of jaxnas.models.ENCODERS" + _LIB)
  flags.DEFINE_integer("hidden", None, "Node state width" + _LIB)
  flags.DEFINE_integer("num_layers", None, "Message-passing rounds" + _LIB)
  flags.DEFINE_integer("num_steps", None, "Optimisation steps" + _LIB)
  flags.DEFINE_integer("list_size", None, "Architectures per ranking list per step" + _LIB)
  flags.DEFINE_float("learning_rate", None, "Peak AdamW learning rate" + _LIB)
  flags.DEFINE_float("weight_decay", None, "AdamW weight decay" + _LIB)
  flags.DEFINE_float("val_fraction", None, "Share of the train archs held out for early stopping "
                     "and model selection (0: fit on all of them, keep the last parameters)"
                     + _LIB)
  flags.DEFINE_integer("patience", None, "Early-stopping patience in checks (0: keep best, never "
                       "stop)" + _LIB)
  flags.DEFINE_integer("eval_every", None, "Steps between validation checks / progress lines"
                       + _LIB)
  flags.DEFINE_integer("ensemble_size", 1, "Rankers trained together on the same data (vmapped).")
  flags.DEFINE_integer("blend_folds", None, "K fold rankers (trained beside the ranker) that "
                       "choose how much of a kernel ridge on the one-hot choices to blend into "
                       "its scores, then join its ensemble (with few training archs the split is "
                       "repeated to choose, see jaxnas.linear_blend.fold_repeats; only the first "
                       "split joins); 0: "
                       "one GNN alone (an export that can score other spaces)"
                       + _LIB)
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
  flags.DEFINE_integer("pretrain_steps", None, "Pretraining steps on the weak labels" + _LIB)
  flags.DEFINE_string("weak_labels", None, "Weak-label table (CSV) to reuse or write (default: "
                      "$JAXNAS_CACHE_DIR or ~/.cache/jaxnas, keyed by space and settings).")
  flags.DEFINE_string("images_dir", None, "Folder holding cifar10/{train,test}.npz "
                      "(default: $JAXNAS_IMAGES_DIR or ../shared/images).")
  flags.DEFINE_integer("supernet_steps", None, "Weight-sharing supernet training steps" + _LIB)


def define_sweep_flags(train_sizes=("78", "156", "469", "781", "1563"),
                       baselines=("params", "xgb_onehot", "xgb_onehot_params")) -> None:
  """The ranker flags plus a sweep's train sizes, seeds and baselines."""
  define_ranker_flags()
  flags.DEFINE_list("train_sizes", list(train_sizes), "Train-set sizes.")
  flags.DEFINE_integer("seeds", 5, "Seeds per size (0..seeds-1).")
  flags.DEFINE_list("baselines", list(baselines),
                    "Baselines on the same splits; any of experiments.baselines.predictors.NAMES "
                    "(empty: none).")


def _given(**fields_to_flags) -> dict:
  """``{config field: flag value}`` of the flags the user gave (not None)."""
  return {field: FLAGS[name].value for field, name in fields_to_flags.items()
          if FLAGS[name].value is not None}


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
  model = models.ModelConfig(**_given(encoder="encoder", hidden="hidden",
                                      num_layers="num_layers", num_tiers="num_tiers"))
  tc = train.TrainConfig(**_given(
      loss="loss", tier_weight="tier_weight", learning_rate="learning_rate",
      weight_decay="weight_decay", num_steps="num_steps", batch_size="list_size",
      eval_every="eval_every", val_fraction="val_fraction", patience="patience"))
  weak = weak_labels.WeakLabelConfig(
      supernet=supernet.SupernetTrainConfig(**_given(num_steps="supernet_steps")))
  pre = pretrain_lib.PretrainConfig(
      mode=FLAGS.pretrain, use=FLAGS.pretrain_use,
      columns=tuple(FLAGS.pretrain_columns) if FLAGS.pretrain_columns else None,
      rank_columns=(tuple(FLAGS.pretrain_rank_columns) if FLAGS.pretrain_rank_columns
                    else None),
      weak_labels=FLAGS.weak_labels, images_dir=FLAGS.images_dir, weak=weak,
      **_given(num_steps="pretrain_steps"))
  return protocol.RunConfig(
      benchmark=FLAGS.benchmark, target=FLAGS.target, space=FLAGS.space, data_dir=FLAGS.data_dir,
      on_invalid=FLAGS.on_invalid, train_size=train_size, seed=FLAGS.seed,
      ensemble_size=FLAGS.ensemble_size, use_cost_features=FLAGS.cost_features,
      checkpoint_every=FLAGS.checkpoint_every, model=model, train=tc, pretrain=pre,
      **_given(blend_folds="blend_folds"))

