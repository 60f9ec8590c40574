"""Entry points as a careless user runs them (issue 19): one-line errors, no
tracebacks, no silently wrong results, and never a changed earlier workdir.

Every command runs as ``python -m experiments.<name>`` would (forked from one
warm worker, see ``conftest.EntryRunner``) on a tiny CSV benchmark of NB201
cells, so the whole file stays CI-sized.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from conftest import assert_one_line_error
from jaxnas import errors
from jaxnas import io_utils
from jaxnas import spaces

SPACE = spaces.NB201Space()


def write_table(path: pathlib.Path, shift: float = 0.0, space=SPACE, step: int = 260
                ) -> pathlib.Path:
  """Cells of ``space`` (60 NB201 ones by default) with two synthetic metric
  columns (``acc``, ``acc2``)."""
  enc = space.enumerate()[::step]
  acc = (enc == 3).sum(1) * 2.0 + (enc == 2).sum(1) + np.arange(len(enc)) * 1e-3 + shift
  acc2 = -acc + (enc == 1).sum(1)
  rows = ["index,arch,acc,acc2"] + [f"{i},{a},{x:.4f},{y:.4f}"
                                    for i, (a, x, y) in enumerate(zip(space.format_many(enc), acc, acc2))]
  path.write_text("\n".join(rows) + "\n")
  return path


def ranker_args(table, workdir, *extra):
  return [f"--benchmark={table}", "--space=nb201", "--target=acc", "--train_size=12",
          "--num_steps=4", "--eval_every=2", "--checkpoint_every=2", "--hidden=4",
          "--num_layers=1", "--list_size=4", f"--workdir={workdir}", *extra]


def snapshot(folder) -> dict[str, str]:
  """SHA-256 of every file under ``folder`` (the lock file records only a pid)."""
  out = {}
  for path in sorted(pathlib.Path(folder).rglob("*")):
    if path.is_file() and path.name != io_utils.LOCK_NAME:
      out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
  return out


@pytest.fixture(scope="module")
def table(tmp_path_factory):
  return write_table(tmp_path_factory.mktemp("table") / "tiny.csv")


@pytest.fixture(scope="module")
def trained(run_entry, table, tmp_path_factory):
  """A finished train_ranker workdir (with its exported ranker/)."""
  workdir = tmp_path_factory.mktemp("trained") / "run"
  res = run_entry("train_ranker", *ranker_args(table, workdir))
  assert res.rc == 0, res.stderr[-3000:]
  assert "wrote results to" in res.stdout
  return workdir


def test_every_entry_point_runs_through_the_one_wrapper():
  """Issue 19 case 8: no entry point can forget the error handler."""
  folder = pathlib.Path(ROOT) / "experiments"
  mains = [p for p in folder.glob("*.py") if '__name__ == "__main__"' in p.read_text()]
  assert len(mains) >= 10
  for path in mains:
    text = path.read_text()
    assert "cli.run(main)" in text and "app.run(" not in text, path.name


@pytest.mark.parametrize("name, own_flags", [
    ("train_ranker", ["--train_size", "--benchmark", "--loss", "--num_steps", "--workdir"]),
    ("score", ["--ranker", "--top_k", "--chunk_size"]),
    ("rwe", ["--num_candidates", "--ridges", "--image_size", "--channels"]),
    ("replay_blend", ["--workdir", "--gnn_margins", "--output", "--data_dir"]),
])
def test_help_lists_the_entry_points_own_flags_and_exits_0(run_entry, name, own_flags):
  res = run_entry(name, "--help")
  assert res.rc == 0, res.stderr
  for flag in own_flags:
    assert f"{flag}:" in res.stdout, (flag, res.stdout[:3000])
  assert "Traceback" not in res.stdout + res.stderr


@pytest.mark.parametrize("name", ["train_ranker", "train_candidates", "score", "sweep_train_size",
                                  "rwe", "search", "nsga", "replay_blend"])
def test_flag_definitions_do_not_load_jax(name):
  """--help is fast: the entry point's module (its flags) imports no JAX."""
  code = f"import sys, experiments.{name}; print('jax' in sys.modules)"
  out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=ROOT), check=True)
  assert out.stdout.strip() == "False", out.stdout + out.stderr


def test_help_into_a_closed_pipe_exits_quietly():
  """``--help | head -1``: the reader leaves early; no BrokenPipeError traceback."""
  proc = subprocess.Popen([sys.executable, "-m", "experiments.search", "--help"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dict(os.environ, PYTHONPATH=ROOT))
  assert proc.stdout.read(20)  # the first bytes arrived; then the reader goes away
  proc.stdout.close()
  stderr = proc.stderr.read().decode()
  assert proc.wait() == 0, stderr
  assert "Traceback" not in stderr, stderr


def test_refused_rerun_leaves_the_workdir_untouched(run_entry, trained, table):
  """Case 2: another --hidden used to be refused only after config.json was rewritten."""
  before = snapshot(trained)
  assert "config.json" in before and "results.json" in before
  for flag in ("--hidden=8", "--learning_rate=0.01"):
    res = run_entry("train_ranker", *ranker_args(table, trained, flag))
    assert snapshot(trained) == before  # config.json used to hold the refused settings
    assert_one_line_error(res, "other settings", "nothing there was changed")


def test_changed_data_at_the_same_path_is_not_resumed(run_entry, tmp_path):
  """Case 3: the fingerprint covered the table's path, not its content."""
  table = write_table(tmp_path / "t.csv")
  workdir = tmp_path / "run"
  assert run_entry("train_ranker", *ranker_args(table, workdir)).rc == 0
  before = snapshot(workdir)
  write_table(table, shift=0.5)  # same path, new labels
  res = run_entry("train_ranker", *ranker_args(table, workdir))
  assert_one_line_error(res, "other settings or data")
  assert snapshot(workdir) == before


def test_second_run_on_a_busy_workdir_is_refused(run_entry, trained, table):
  """Case 4: two runs on one workdir interleaved metrics.jsonl and crashed in orbax."""
  before = snapshot(trained)
  with io_utils.claim_workdir(trained):  # this process is "the first run"
    res = run_entry("train_ranker", *ranker_args(table, trained))
    assert_one_line_error(res, "in use by another run", f"pid {os.getpid()}")
    with pytest.raises(errors.ConfigError, match="in use"):
      with io_utils.claim_workdir(trained):
        pass
  assert snapshot(trained) == before
  with io_utils.claim_workdir(trained):  # released with the first holder
    pass


@pytest.fixture(scope="module")
def search_table(tmp_path_factory):
  """Every cell of complete_dag:3: a search never asks for a missing one."""
  return write_table(tmp_path_factory.mktemp("search_table") / "dag3.csv",
                     space=spaces.get_space("complete_dag:3"), step=1)


def search_args(table, workdir, *extra):
  return [f"--benchmark={table}", "--space=complete_dag:3", "--target=acc", "--strategy=random",
          "--budget=6", "--seeds=1", "--round_size=3", f"--workdir={workdir}", *extra]


def test_search_refuses_a_workdir_of_other_settings(run_entry, search_table, tmp_path):
  """Case 5: a finished search was reused whatever the flags (budget, target, round size)."""
  workdir = tmp_path / "search"
  res = run_entry("search", *search_args(search_table, workdir))
  assert res.rc == 0, res.stderr[-3000:]
  results = json.loads((workdir / "results.json").read_text())
  assert results["budget"] == 6 and results["target"] == "acc"
  before = snapshot(workdir)
  for flag in ("--budget=9", "--target=acc2", "--round_size=2", "--pool_size=50"):
    res = run_entry("search", *search_args(search_table, workdir, flag))
    assert_one_line_error(res, "other settings")
    assert snapshot(workdir) == before, flag
  # More seeds or strategies with the same settings: new runs, the finished one
  # reused, config.json (what decides a run) unchanged.
  res = run_entry("search", *search_args(search_table, workdir, "--seeds=2",
                                         "--strategy=random,rea"))
  assert res.rc == 0, res.stderr[-3000:]
  assert (workdir / "runs" / "random_seed1.json").exists()
  assert (workdir / "runs" / "rea_seed0.json").exists()
  after = snapshot(workdir)
  assert after["runs/random_seed0.json"] == before["runs/random_seed0.json"]
  assert after["config.json"] == before["config.json"]
  # Corrupt files of an earlier run: one line, no traceback (case 8).
  (workdir / "runs" / "random_seed1.json").write_text("{not json")
  assert_one_line_error(run_entry("search", *search_args(search_table, workdir, "--seeds=2")),
                        "random_seed1.json")
  (workdir / "runs" / "random_seed1.json").unlink()
  (workdir / "state" / "random_seed1.json").write_text('{"version": 1, "trajectory": 3}')
  assert_one_line_error(run_entry("search", *search_args(search_table, workdir, "--seeds=2")),
                        "random_seed1.json")


def score_args(ranker, workdir, *extra):
  return [f"--ranker={ranker}", "--space=nb201", "--num_candidates=300", "--top_k=5",
          "--chunk_size=128", f"--workdir={workdir}", *extra]


def test_score_state_belongs_to_one_ranker_space_and_chunking(run_entry, trained, tmp_path):
  """Case 6: stream_state.npz was continued with another top_k, chunk size or ranker."""
  workdir = tmp_path / "score"
  res = run_entry("score", *score_args(trained, workdir))
  assert res.rc == 0, res.stderr[-3000:]
  rows = (workdir / "top_k.csv").read_text().strip().splitlines()
  assert len(rows) == 1 + 5
  config = json.loads((workdir / "config.json").read_text())
  assert config["top_k"] == 5 and config["source"]["samples"] == 300 and config["fingerprint"]
  assert json.loads((workdir / "throughput.json").read_text())["num_scored"] == 300
  before = snapshot(workdir)
  # The same command again: finished, nothing rewritten (throughput.json keeps its timing).
  res = run_entry("score", *score_args(trained, workdir))
  assert res.rc == 0 and "nothing was changed" in res.stdout, res.stderr[-3000:]
  assert snapshot(workdir) == before
  for flag in ("--top_k=20", "--top_k=2", "--chunk_size=64", "--num_candidates=400", "--seed=1"):
    res = run_entry("score", *score_args(trained, workdir, flag))
    assert_one_line_error(res, "another scoring run")
    assert snapshot(workdir) == before, flag
  # Another ranker (same architecture, other parameters) is another run too.
  other = tmp_path / "other_ranker"
  shutil.copytree(trained / "ranker", other)
  meta = next(other.glob("*/meta/metadata"))
  data = json.loads(meta.read_text())
  data["score_mean"] = [m + 1.0 for m in data["score_mean"]]
  meta.write_text(json.dumps(data))
  assert_one_line_error(run_entry("score", *score_args(other, workdir)), "another scoring run")
  assert snapshot(workdir) == before


def _bad_flag_cases():
  big = str(2**64)
  return [
      ("train_ranker", ["--ensemble_size=0"], "ensemble_size"),
      ("train_ranker", ["--seed=-1"], "seed"),
      ("train_ranker", [f"--seed={big}"], "seed"),
      ("train_ranker", ["--patience=-1"], "patience"),
      ("train_ranker", ["--num_tiers=0", "--tier_weight=0.5"], "num_tiers"),
      ("train_ranker", ["--hidden=abc"], "--hidden"),
      ("train_ranker", ["--loss=lambdrank"], "lambdrank"),
      ("train_ranker", ["--train_size=60"], "train_size=60"),  # one test arch: no ranking
      ("score", ["--chunk_size=0"], "--chunk_size"),
      ("score", ["--top_k=0"], "--top_k"),
      ("score", ["--seed=-1"], "--seed"),
      ("score", ["--num_candidates=0"], "--num_candidates"),
      ("score", ["--num_candidates=abc"], "--num_candidates"),
      ("score", ["--num_candidates=20000"], "--num_candidates"),  # NB201 has 15,625
      ("search", ["--round_size=0"], "--round_size"),
      ("search", ["--first_seed=-1"], "--first_seed"),
      ("search", ["--budget=0"], "--budget"),
      ("search", ["--strategy=bogus"], "bogus"),
      ("search", ["--strategy=acenas_halving"], "add --evaluator=train"),
      ("search", ["--target=bogus"], "bogus"),
      ("rwe", ["--num_candidates=abc"], "--num_candidates"),
      ("rwe", ["--num_candidates=0"], "--num_candidates"),
      ("rwe", ["--ridges=abc"], "--ridges"),
      ("rwe", ["--image_size=0"], "--image_size"),
      ("rwe", ["--seed=-1"], "--seed"),
  ]


@pytest.mark.parametrize("name, argv, needle", _bad_flag_cases(),
                         ids=lambda x: x if isinstance(x, str) else None)
def test_bad_flag_values_are_one_line_errors(run_entry, trained, table, search_table, tmp_path,
                                             name, argv, needle):
  """Case 7: each rejected with one line naming the flag; no workdir is created."""
  workdir = tmp_path / "w"
  base = {"train_ranker": ranker_args(table, workdir), "score": score_args(trained, workdir),
          "search": search_args(search_table, workdir),
          "rwe": ["--space=complete_dag:3", "--num_candidates=2", f"--workdir={workdir}"]}[name]
  res = run_entry(name, *base, *argv)
  assert_one_line_error(res, needle)
  assert not workdir.exists()


def test_workdir_that_is_a_file_and_other_user_errors(run_entry, table, search_table, tmp_path):
  """Cases 7 and 8: a file as workdir; search/rwe inputs that used to raise tracebacks."""
  afile = tmp_path / "afile"
  afile.write_text("keep me")
  assert_one_line_error(run_entry("train_ranker", *ranker_args(table, afile)), "not a folder")
  assert_one_line_error(run_entry("search", *search_args(search_table, afile)), "not a folder")
  assert afile.read_text() == "keep me"
  w = tmp_path / "w"
  assert_one_line_error(run_entry("search", "--benchmark=none", "--evaluator=rwe",
                                  f"--workdir={w}"), "--space")
  assert_one_line_error(run_entry("search", "--benchmark=bogus", f"--workdir={w}"), "bogus")
  assert_one_line_error(run_entry("rwe", "--space=complete_dag:3", "--num_candidates=2",
                                  f"--images_dir={tmp_path / 'none'}", f"--workdir={w}"))
  assert_one_line_error(run_entry("train_ranker", *ranker_args(table, w), "stray"), "stray")
  assert not w.exists() or not any(p.name != io_utils.LOCK_NAME for p in w.iterdir())


def test_space_that_the_benchmark_fixes_is_not_silently_ignored(run_entry, nb201, tmp_path):
  del nb201  # only for its skip when the data is absent
  res = run_entry("train_ranker", "--benchmark=nb201", "--space=complete_dag:4",
                  f"--workdir={tmp_path / 'w'}")
  assert_one_line_error(res, "--space")
  assert re.search(r"does not match benchmark 'nb201'", res.stderr)


# ---------------------------------------------------------------------------
# Entry-point fuzzing: argv drawn from valid and invalid flag values.

from hypothesis import HealthCheck  # pylint: disable=g-import-not-at-top,wrong-import-position
from hypothesis import given  # pylint: disable=g-import-not-at-top,wrong-import-position
from hypothesis import settings  # pylint: disable=g-import-not-at-top,wrong-import-position
from hypothesis import strategies as st  # pylint: disable=g-import-not-at-top,wrong-import-position

_FUZZ = settings(max_examples=int(os.environ.get("JAXNAS_FUZZ_EXAMPLES", "6")), deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])


def _flags(**choices):
  """Each flag absent or one of its values (valid ones first, so shrinking heads there)."""
  return st.fixed_dictionaries({k: st.one_of(st.none(), st.sampled_from(v))
                                for k, v in choices.items()})


def _argv(drawn: dict) -> list[str]:
  return [f"--{k}={v}" for k, v in drawn.items() if v is not None]


def _check_outcome(res, workdir: pathlib.Path, earlier: dict | None, complete) -> None:
  """Exit 0 with complete outputs, or one error line; an earlier run's files unchanged."""
  assert "Traceback" not in res.stdout + res.stderr, res.stderr[-3000:]
  if res.rc == 0:
    complete(workdir)
    if earlier is not None:  # only the same settings may run again on a finished workdir
      assert snapshot(workdir)["config.json"] == earlier["config.json"]
  else:
    assert_one_line_error(res)
    if earlier is not None:
      assert snapshot(workdir) == earlier
    else:  # a failed run never leaves results that look finished
      assert not (workdir / "results.json").exists()


def _target(use_earlier: bool, earlier_dir: pathlib.Path, tmp: pathlib.Path):
  if use_earlier:
    return earlier_dir, snapshot(earlier_dir)
  return tmp / f"fresh{len(list(tmp.iterdir()))}", None


def _fuzz_case(run_entry, tmp_path_factory, tmp_path, name, args_of, drawn, use_earlier):
  """``(argv, workdir, snapshot of the earlier run or None)`` of one example.

  The earlier run (``args_of(workdir)``, no drawn flags) is made once a session.
  """
  finished = tmp_path_factory.getbasetemp() / f"fuzz_{name}_earlier"
  if not finished.exists():
    assert run_entry(name, *args_of(finished)).rc == 0
  workdir, earlier = _target(use_earlier, finished, tmp_path)
  return args_of(workdir) + _argv(drawn), workdir, earlier


def _last(argv: list[str], flag: str) -> str:
  """The value the last ``--flag=...`` of ``argv`` gives."""
  return [a for a in argv if a.startswith(f"--{flag}=")][-1].split("=", 1)[1]


@_FUZZ
@given(drawn=_flags(num_steps=["4", "2", "0", "-1", "abc"], ensemble_size=["1", "2", "0"],
                    seed=["0", "3", "-1", str(2**64), "1.5"], hidden=["4", "0", "x"],
                    loss=["pairwise_logistic", "lambdarank", "bogus"],
                    train_size=["12", "0", "60", "1000"], patience=["0", "2", "-1"],
                    val_fraction=["0", "0.25", "1.0", "nan"]),
       use_earlier=st.booleans())
def test_fuzz_train_ranker(run_entry, trained, table, tmp_path, drawn, use_earlier):
  workdir, earlier = _target(use_earlier, trained, tmp_path)

  def complete(w):
    res = json.loads((w / "results.json").read_text())
    assert res["num_test"] + res["train_size"] == 61 and np.isfinite(res["kendalltau"])
    assert len((w / "predictions.csv").read_text().strip().splitlines()) == 62
    assert json.loads((w / "config.json").read_text())["fingerprint"]

  res = run_entry("train_ranker", *ranker_args(table, workdir), *_argv(drawn))
  _check_outcome(res, workdir, earlier, complete)


@_FUZZ
@given(drawn=_flags(num_candidates=["300", "50", "0", "-5", "abc", "20000"],
                    top_k=["5", "3", "0", "-1"], chunk_size=["128", "64", "0", "x"],
                    seed=["0", "2", "-1"], space=["nb201", "bogus:3", "complete_dag:3"]),
       use_earlier=st.booleans())
def test_fuzz_score(run_entry, trained, tmp_path_factory, tmp_path, drawn, use_earlier):
  argv, workdir, earlier = _fuzz_case(run_entry, tmp_path_factory, tmp_path, "score",
                                      lambda w: score_args(trained, w), drawn, use_earlier)

  def complete(w):
    n, k = int(_last(argv, "num_candidates")), int(_last(argv, "top_k"))
    assert json.loads((w / "throughput.json").read_text())["num_scored"] == n
    assert len((w / "top_k.csv").read_text().strip().splitlines()) == 1 + min(n, k)

  _check_outcome(run_entry("score", *argv), workdir, earlier, complete)


@_FUZZ
@given(drawn=_flags(strategy=["random", "random,local", "rea", "bogus", ""],
                    budget=["6", "4", "0", "-2", "1e3"], seeds=["1", "2", "0"],
                    first_seed=["0", "5", "-1"], round_size=["3", "2", "0"],
                    target=["acc", "acc2", "nope"], benchmark=["none", "bogus"]),
       use_earlier=st.booleans())
def test_fuzz_search(run_entry, search_table, tmp_path_factory, tmp_path, drawn, use_earlier):
  argv, workdir, earlier = _fuzz_case(run_entry, tmp_path_factory, tmp_path, "search",
                                      lambda w: search_args(search_table, w), drawn, use_earlier)

  def complete(w):
    res = json.loads((w / "results.json").read_text())
    strategies, seeds = _last(argv, "strategy").split(","), int(_last(argv, "seeds"))
    assert sorted(res["strategies"]) == sorted(strategies)
    for name in strategies:
      assert len(res["strategies"][name]["per_seed"]) == seeds
    assert (w / "trajectory.csv").exists()

  _check_outcome(run_entry("search", *argv), workdir, earlier, complete)


def test_replay_blend_reads_a_sweep_and_never_writes_over_it(run_entry, trained, tmp_path):
  """experiments.replay_blend: a finished sweep replayed; every bad input one line."""
  table = write_table(tmp_path / "t.csv")
  sweep = tmp_path / "sweep"
  args = [a for a in ranker_args(table, sweep) if not a.startswith("--train_size")]
  res = run_entry("sweep_train_size", *args, "--train_sizes=12,16", "--seeds=2", "--baselines=")
  assert res.rc == 0, res.stderr[-3000:]
  before = snapshot(sweep)
  res = run_entry("replay_blend", f"--workdir={sweep}", "--gnn_margins=0.02,1000")
  assert res.rc == 0, res.stderr[-3000:]
  assert res.stdout.count("| recorded |") == 2 and res.stdout.count("| 1000 |") == 2
  out = json.loads((sweep / "blend_replay.json").read_text())
  summary = json.loads((sweep / "summary.json").read_text())["jaxnas"]
  for size in ("12", "16"):
    # The default margin is what the sweep chose; a margin of 1000 leaves the GNN alone.
    assert out["summary"]["0.02"][size]["kendalltau_all"]["mean"] == pytest.approx(
        summary[size]["kendalltau_all"]["mean"], abs=1e-4)
    assert out["summary"]["1000"][size]["kendalltau_all"]["mean"] == pytest.approx(
        summary[size]["gnn_kendalltau_all"]["mean"], abs=1e-4)
    assert out["summary"]["1000"][size]["blend_weight"]["mean"] == 0.0
  assert {k: v for k, v in snapshot(sweep).items() if k != "blend_replay.json"} == before
  written = (sweep / "blend_replay.json").read_bytes()
  assert_one_line_error(run_entry("replay_blend", f"--workdir={sweep}"), "exists")
  assert (sweep / "blend_replay.json").read_bytes() == written
  other = [f"--output={tmp_path / 'o.json'}"]
  assert_one_line_error(run_entry("replay_blend", f"--workdir={sweep}", "--gnn_margins=abc",
                                  *other), "--gnn_margins")
  assert_one_line_error(run_entry("replay_blend", f"--workdir={sweep}", "--gnn_margins=nan",
                                  *other), "finite")
  assert_one_line_error(run_entry("replay_blend", f"--workdir={trained}", *other), "single run")
  assert_one_line_error(run_entry("replay_blend", f"--workdir={tmp_path / 'none'}", *other),
                        "no config.json")
  assert_one_line_error(run_entry("replay_blend", *other), "--workdir")
  # A damaged evidence file, and labels that changed since the sweep.
  damaged = tmp_path / "damaged"
  shutil.copytree(sweep, damaged)
  (damaged / "blend_evidence.npz").write_bytes(b"PK\x03\x04 torn")
  assert_one_line_error(run_entry("replay_blend", f"--workdir={damaged}", *other), "damaged")
  lines = table.read_text().splitlines()
  accs = [line.split(",")[2] for line in lines[1:]][::-1]
  table.write_text("\n".join([lines[0]] + [
      ",".join(line.split(",")[:2] + [a] + line.split(",")[3:]) for line, a in zip(lines[1:], accs)])
      + "\n")
  assert_one_line_error(run_entry("replay_blend", f"--workdir={sweep}", *other), "labels")
  assert not (tmp_path / "o.json").exists()
