r"""A finished sweep's blend weights replayed under other GNN margins (no retraining).

  python -m experiments.replay_blend --workdir=runs/sweep --gnn_margins=0,0.02,0.05,0.07

Reads the sweep's ``config.json``, ``runs.jsonl`` and ``blend_evidence.npz`` (never
writes to them), checks that the recorded weights still give the recorded
``kendalltau_all`` (the labels did not change), and prints, per margin and train
size, the mean ``kendalltau_all`` and blend weight that the sweep would have had
(:mod:`jaxnas.blend_replay`). Writes them to ``--output`` (default
``<workdir>/blend_replay.json``; an existing file is never replaced).
"""

import os

from absl import flags

from experiments import cli

flags.DEFINE_string("workdir", None, "A finished sweep's workdir (sweep_train_size, or one "
                    "table folder of bench_spaces); read only.")
flags.DEFINE_list("gnn_margins", None, "Out-of-fold tau credited to the GNN alone, one replay "
                  "each (default: 0, the library's default margin, 0.05, 0.07).")
flags.DEFINE_string("output", None, "JSON to write (default <workdir>/blend_replay.json); "
                    "must not exist.")
flags.DEFINE_string("data_dir", None, "Where the benchmark data is now (default: where the "
                    "sweep read it).")
FLAGS = flags.FLAGS


def _margins() -> list[float]:
  # pylint: disable=import-outside-toplevel
  from jaxnas import errors
  from jaxnas import linear_blend
  # pylint: enable=import-outside-toplevel
  if FLAGS.gnn_margins is None:
    return [0.0, linear_blend.GNN_MARGIN, 0.05, 0.07]
  out = []
  for text in FLAGS.gnn_margins:
    try:
      out.append(float(text))
    except ValueError:
      raise errors.ConfigError(f"--gnn_margins: {text!r} is not a number") from None
  if not out:
    raise errors.ConfigError("--gnn_margins is empty")
  return out


def main(argv):
  del argv
  cli.require(workdir=FLAGS.workdir)
  # pylint: disable=import-outside-toplevel
  from jaxnas import blend_replay
  from jaxnas import errors
  from jaxnas import io_utils
  from jaxnas import protocol
  # pylint: enable=import-outside-toplevel
  margins = _margins()
  output = FLAGS.output or os.path.join(FLAGS.workdir, "blend_replay.json")
  if os.path.exists(output):
    raise errors.ConfigError(f"{output} exists; pass another --output (earlier results are "
                             "never replaced)")
  result = blend_replay.replay_sweep(FLAGS.workdir, margins, data_dir=FLAGS.data_dir)
  sizes = result["train_sizes"]
  for key in blend_replay.SUMMARY_KEYS:
    print(f"\n{key} ({result['benchmark']}, {result['target']}; rows: the sweep as recorded, "
          "then each GNN margin; mean ± std over seeds)")
    print(protocol.markdown_table(result["summary"], key, sizes))
  io_utils.atomic_write_json(output, result)
  print(f"wrote {output}")


if __name__ == "__main__":
  cli.run(main)
