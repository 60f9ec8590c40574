r"""Score every architecture of a space or benchmark with a trained ranker, streaming.

  python -m experiments.score --ranker=runs/quickstart --benchmark=nasbench_graph:cora \
      --top_k=100 --workdir=runs/score
  python -m experiments.score --ranker=runs/nb201 --space=complete_dag:6 --num_candidates=1000000 \
      --top_k=100 --workdir=runs/dag6

Candidates are generated in fixed-size chunks (the whole space when it is
enumerable and --num_candidates is unset, else seeded samples), encoded
vectorised, scored by the ranker ensemble in one jitted call per chunk and
merged into a running top-k. Writes config.json (the settings), top_k.csv
(arch, score, std) and throughput.json. A killed run resumes from its last saved chunk.
"""

import os
import time

from absl import flags

from experiments import cli

flags.DEFINE_string("ranker", None, "A train_ranker --workdir (or its ranker/ folder).")
flags.DEFINE_string("benchmark", None, "Score the archs of this benchmark (nb201, nb101, "
                    "nasbench_graph:<dataset>, a CSV path).")
flags.DEFINE_string("space", None, "Score candidates of this space spec instead (e.g. complete_dag:6).")
flags.DEFINE_string("data_dir", None, "Shared benchmark data folder.")
flags.DEFINE_integer("num_candidates", None, "Sample this many candidates (default: the whole "
                     "space when enumerable).")
flags.DEFINE_integer("top_k", 100, "Candidates to keep.")
flags.DEFINE_integer("chunk_size", 8192, "Candidates per jitted scoring call.")
flags.DEFINE_integer("seed", 0, "Seed of sampled candidates.")
flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() first (multi-host).")
flags.DEFINE_string("workdir", None, "Output folder.")
FLAGS = flags.FLAGS

DEFAULT_SAMPLES = 1_000_000  # candidates sampled from a space too large to enumerate


def _check_flags() -> None:
  # pylint: disable=import-outside-toplevel
  from jaxnas import config_checks
  from jaxnas import errors
  cli.require(ranker=FLAGS.ranker, workdir=FLAGS.workdir)
  config_checks.check_int("--top_k", FLAGS.top_k)
  config_checks.check_int("--chunk_size", FLAGS.chunk_size)
  config_checks.check_seed("--seed", FLAGS.seed)
  if FLAGS.num_candidates is not None:
    if FLAGS.benchmark:
      raise errors.ConfigError("--num_candidates samples a --space; --benchmark scores all of "
                               "its archs: pass one of them")
    config_checks.check_int("--num_candidates", FLAGS.num_candidates)


def _ranker_space(ranker_dir: str) -> str:
  """The space spec an exported ranker was trained on (from its metadata, no restore)."""
  # pylint: disable=import-outside-toplevel
  from jaxnas import checkpoint
  from jaxnas import errors
  ckpt = checkpoint.Checkpointer(ranker_dir, max_to_keep=1)
  try:
    steps = ckpt.steps()
    meta = ckpt.restore_meta(steps[-1]) if steps else {}
  finally:
    ckpt.close()
  if not meta.get("space"):
    raise errors.CheckpointError(f"{ranker_dir!r} holds no exported ranker (no space in its "
                                 "metadata)")
  return meta["space"]


def main(argv):
  del argv
  _check_flags()
  # pylint: disable=import-outside-toplevel
  import numpy as np
  from jaxnas import config_checks
  from jaxnas import errors
  from jaxnas import io_utils
  from jaxnas import ranker_export
  from jaxnas import spaces
  from jaxnas import streaming
  from jaxnas.data import registry
  # pylint: enable=import-outside-toplevel
  if FLAGS.distributed:
    from jaxnas import distributed  # pylint: disable=import-outside-toplevel
    distributed.initialize_multihost()
  ranker_dir = FLAGS.ranker
  if os.path.isdir(os.path.join(ranker_dir, "ranker")):
    ranker_dir = os.path.join(ranker_dir, "ranker")
  if not os.path.isdir(ranker_dir):
    raise errors.CheckpointError(f"no exported ranker at {FLAGS.ranker!r}")
  cs = FLAGS.chunk_size
  if FLAGS.benchmark:
    is_csv = FLAGS.benchmark.endswith(".csv") or os.path.sep in FLAGS.benchmark
    bench = registry.load_benchmark(  # a CSV's archs are read in the ranker's space
        FLAGS.benchmark, data_dir=FLAGS.data_dir,
        space=FLAGS.space or (_ranker_space(ranker_dir) if is_csv else None))
    space = bench.space
    enc = bench.encodings
    total = enc.shape[0]
    source = {"benchmark": FLAGS.benchmark, "encodings": np.asarray(enc)}
    chunk_source = lambda start: ((c, enc[c * cs:(c + 1) * cs])
                                  for c in range(start, -(-total // cs)))
  else:
    space = spaces.get_space(FLAGS.space or _ranker_space(ranker_dir))
    if FLAGS.num_candidates is None and space.is_finite_enumerable:
      total = space.num_combinations
      source = {"space": space.spec or space.name, "exhaustive": total}
      chunk_source = lambda start: streaming.exhaustive_chunks(space, cs, start_chunk=start)
    else:
      total = FLAGS.num_candidates or DEFAULT_SAMPLES
      if space.is_finite_enumerable:
        config_checks.check_int("--num_candidates", total, high=space.num_combinations)
      source = {"space": space.spec or space.name, "samples": total, "seed": FLAGS.seed}
      chunk_source = lambda start: streaming.sampled_chunks(space, cs, total, seed=FLAGS.seed,
                                                            start_chunk=start)
  # Everything the top-k depends on (the ranker by its files' bytes, so a
  # refused rerun costs no model loading): a state saved under another
  # fingerprint is refused.
  fingerprint = io_utils.fingerprint({
      "ranker": io_utils.fingerprint_files(ranker_dir), "source": source, "chunk_size": cs,
      "top_k": FLAGS.top_k})
  last = [0.0]

  def progress(info):
    now = time.time()
    if now - last[0] > 1.0:
      last[0] = now
      eta = "?" if info["eta_s"] is None else f"{info['eta_s']:.0f}s"
      print(f"\r{info['scored']:,}/{total:,} candidates  {info['per_s']:,.0f}/s  eta {eta}",
            end="", flush=True)

  with io_utils.claim_workdir(FLAGS.workdir):
    # The settings of this workdir's top-k, readable; a rerun with others is refused
    # before anything is written.
    io_utils.claim_config_json(FLAGS.workdir, fingerprint, {
        "ranker": ranker_dir, "source": {k: v for k, v in source.items() if k != "encodings"},
        "chunk_size": cs, "top_k": FLAGS.top_k},
        run_files=("stream_state.npz", "top_k.csv", "throughput.json"), kind="scoring run")
    state_path = os.path.join(FLAGS.workdir, "stream_state.npz")
    resume = streaming.load_top_k(state_path, fingerprint=fingerprint)
    outputs = [os.path.join(FLAGS.workdir, n) for n in ("top_k.csv", "throughput.json")]
    if (resume is not None and resume.num_scored >= total
        and all(os.path.exists(p) for p in outputs)):
      # Finished earlier: rewriting would replace its throughput with a no-op's.
      print(f"{FLAGS.workdir} already holds the finished top-{FLAGS.top_k} of these settings "
            f"({resume.num_scored:,} candidates); nothing was changed")
      return
    start = 0 if resume is None else resume.next_chunk
    ranker = ranker_export.load_ranker(ranker_dir)
    graphdef = ranker.graphdef if space.spec == ranker.space_spec else ranker.graphdef_for(space)
    t0 = time.time()
    top = streaming.stream_top_k(
        space, graphdef, ranker.params, chunk_source(start), chunk_size=cs, top_k=FLAGS.top_k,
        score_norm=(ranker.score_mean, ranker.score_std), globals_fn=ranker.globals_fn,
        resume=resume, state_path=state_path, total=total, progress=progress,
        fingerprint=fingerprint, linear_fn=ranker.linear_fn, blend_weight=ranker.blend_weight)
    elapsed = time.time() - t0
    print()
    io_utils.atomic_write_csv(os.path.join(FLAGS.workdir, "top_k.csv"), [
        ["rank", "arch", "score", "std"]] + [
            [i + 1, space.format(e), round(float(s), 6), round(float(d), 6)]
            for i, (e, s, d) in enumerate(zip(top.encodings, top.scores, top.std))])
    newly = top.num_scored - (0 if resume is None else resume.num_scored)
    stats = {"num_scored": top.num_scored, "seconds": round(elapsed, 3),
             "candidates_per_s": round(newly / max(elapsed, 1e-9), 1), "chunk_size": cs,
             "members": ranker.num_members, "space": space.spec or space.name,
             "fingerprint": fingerprint}
    io_utils.atomic_write_json(os.path.join(FLAGS.workdir, "throughput.json"), stats)
  print(f"scored {top.num_scored:,} candidates in {elapsed:.2f} s "
        f"({stats['candidates_per_s']:,.0f}/s); best: {space.format(top.encodings[0])} "
        f"score {top.scores[0]:.3f}; wrote results to {FLAGS.workdir}")


if __name__ == "__main__":
  cli.run(main)
