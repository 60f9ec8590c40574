"""The training evaluator: trainable networks, group training, resume, the table, the npz loader."""

import csv
import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import checkpoint as checkpoint_lib
from jaxnas import errors
from jaxnas.data import csv_table
from jaxnas.data import images as images_lib
from jaxnas.evaluate import cell_costs
from jaxnas.evaluate import candidate_table
from jaxnas.evaluate import group_training as gt
from jaxnas.evaluate import random_weight_network as rwn
from jaxnas.evaluate import successive_halving
from jaxnas.evaluate import trainable_network as tn
from jaxnas.evaluate import training_evaluator
from jaxnas.spaces import registry

_logits = jax.jit(tn.logits, static_argnums=(3, 4))
TINY = gt.TrainingConfig(epochs=2, channels=3, image_size=8, num_stages=2, batch_size=16,
                         eval_batch=32, group_size=3, learning_rate=0.05)


@pytest.fixture(scope="module")
def space():
  return registry.get_space("nb201")


@pytest.fixture(scope="module")
def images():
  train = images_lib.synthetic_images(jax.random.key(0), 48, size=16)
  test = images_lib.synthetic_images(jax.random.key(1), 32, size=16)
  return train, test


@pytest.fixture(scope="module")
def trainer(space, images):
  return gt.GroupTrainer(space, TINY, gt.prepare_data(*images, TINY))


def _random_head(params, key):
  # A non-zero classifier and BN affine so the comparison sees every part.
  params["head"]["w"] = jax.random.normal(key, params["head"]["w"].shape)
  return params


@pytest.mark.parametrize("spec", ["nb201", "complete_dag:5"])
def test_trainable_network_equals_random_weight_network(spec):
  space = registry.get_space(spec)
  body = tn.CellNetworkShape(channels=3, cells_per_stage=2, num_stages=2).body(space)
  params = _random_head(tn.init_params(body, jax.random.key(0), 10), jax.random.key(1))
  x = jax.random.normal(jax.random.key(2), (6, 8, 8, 3))
  for enc in np.asarray(space.sample(jax.random.key(3), 4)):
    feats, _ = rwn.single_forward(params["net"], x, enc, body)
    want = feats @ params["head"]["w"] + params["head"]["b"]
    for mode in tn.EDGE_MODES:
      got = _logits(params, x, jnp.asarray(enc), body, mode)
      np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=f"{enc} {mode}")


def test_learned_bn_parameters_change_the_output(space):
  body = tn.CellNetworkShape(channels=3, cells_per_stage=1, num_stages=2).body(space)
  params = _random_head(tn.init_params(body, jax.random.key(0), 10), jax.random.key(1))
  x = jax.random.normal(jax.random.key(2), (6, 8, 8, 3))
  enc = jnp.asarray([3, 3, 3, 3, 3, 3])
  before = _logits(params, x, enc, body, "switch")
  params["bn"]["cells"][0]["conv3"]["scale"] = params["bn"]["cells"][0]["conv3"]["scale"] * 2.0
  assert not np.allclose(_logits(params, x, enc, body, "switch"), before)


@pytest.mark.parametrize("execution", ["map_switch", "vmap_mixed"])
def test_group_step_equals_per_candidate_steps(images, execution):
  cfg = TINY if execution == TINY.execution else gt.TrainingConfig(
      **{**TINY.__dict__, "execution": execution})
  space = registry.get_space("complete_dag:3")  # half of NB201's cell to trace, same code
  trainer = gt.GroupTrainer(space, cfg, gt.prepare_data(*images, cfg))
  enc = np.asarray([[3, 2, 4], [1, 1, 1], [4, 3, 2]], np.int32)
  state = trainer.init_state(enc)
  x, y = trainer.batch(0, 1)
  new, losses = jax.jit(trainer.group_step)(state, jnp.asarray(enc), x, y)
  candidate_step = jax.jit(trainer.candidate_step)
  # Slice on the host: an eager slice of every leaf would compile ~100 tiny programs.
  state, new = jax.device_get((state, new))
  for g in range(3):
    one = jax.tree.map(lambda a, g=g: a[g], state)
    p, _, loss = candidate_step(one["params"], one["opt_state"], enc[g], x, y)
    np.testing.assert_allclose(losses[g], loss, rtol=1e-5, atol=1e-6)
    jax.tree.map(lambda a, b, g=g: np.testing.assert_allclose(a[g], b, rtol=1e-4, atol=1e-5),
                 new["params"], p)
  # The step moved the weights (the comparison is not between two no-ops).
  assert not np.allclose(new["params"]["head"]["w"], state["params"]["head"]["w"])


def test_one_compile_per_group_shape_and_learning(trainer):
  a = np.asarray([[3, 3, 3, 3, 3, 3], [2, 1, 3, 0, 3, 1], [1, 0, 0, 1, 0, 0]], np.int32)
  b = np.asarray([[4, 4, 1, 2, 2, 3], [0, 0, 0, 0, 0, 0], [3, 1, 3, 1, 3, 1]], np.int32)
  ra = trainer.train_group(a)
  rb = trainer.train_group(b[:2])  # a short group is padded to the group shape
  assert trainer.num_traces == 1
  assert ra["curves"].shape == (3, TINY.epochs) and rb["accuracy"].shape == (2,)
  # The all-"none" cell outputs zeros: its classifier sees a constant, so it is at chance,
  # below the conv cell trained on the same batches.
  assert ra["train_loss"][0, -1] < ra["train_loss"][0, 0]
  assert rb["train_loss"][1, -1] > ra["train_loss"][0, -1]


def test_result_of_a_candidate_does_not_depend_on_its_group(trainer):
  enc = np.asarray([[3, 2, 1, 4, 0, 3], [1, 1, 2, 2, 3, 3], [4, 3, 2, 1, 0, 1]], np.int32)
  together = trainer.train_group(enc)
  alone = trainer.train_group(enc[1:2])
  np.testing.assert_allclose(alone["curves"][0], together["curves"][1], atol=1e-6)
  np.testing.assert_allclose(alone["train_loss"][0], together["train_loss"][1], rtol=1e-5)


def test_group_resumes_exactly_after_a_stop(trainer, tmp_path):
  enc = np.asarray([[3, 2, 1, 4, 0, 3], [2, 2, 2, 3, 3, 3]], np.int32)
  full = trainer.train_group(enc)
  ckpt = checkpoint_lib.Checkpointer(tmp_path / "g")
  assert trainer.train_group(enc, checkpointer=ckpt, stop_after_epochs=1) is None
  assert ckpt.steps() == [1]
  ckpt.close()
  ckpt = checkpoint_lib.Checkpointer(tmp_path / "g")
  resumed = trainer.train_group(enc, checkpointer=ckpt)
  np.testing.assert_array_equal(resumed["curves"], full["curves"])
  np.testing.assert_array_equal(resumed["train_loss"], full["train_loss"])
  with pytest.raises(errors.CheckpointError):  # another group in the same directory
    trainer.train_group(enc[::-1], checkpointer=ckpt)


def test_training_evaluator_counts_distinct_archs(trainer, tmp_path):
  ev = training_evaluator.TrainingEvaluator(trainer, workdir=tmp_path, budget=4)
  enc = np.asarray([[3, 2, 1, 4, 0, 3], [2, 2, 2, 3, 3, 3], [3, 2, 1, 4, 0, 3]], np.int32)
  scores = ev.evaluate(enc)
  assert ev.num_evaluations == 2 and scores[0] == scores[2]
  direct = trainer.train_group(enc[:2])
  np.testing.assert_allclose(scores[:2], direct["accuracy"], atol=1e-6)
  again = training_evaluator.TrainingEvaluator(trainer, workdir=tmp_path)  # reads results back
  np.testing.assert_array_equal(again.evaluate(enc[:2]), scores[:2])
  with pytest.raises(errors.QueryBudgetExceededError):
    ev.evaluate(np.asarray([[0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 0]]))


def test_parameter_count_matches_the_network(space):
  body = tn.CellNetworkShape(channels=3, cells_per_stage=2, num_stages=2).body(space)
  params = tn.init_params(body, jax.random.key(0), 7)
  enc = np.asarray([[3, 2, 1, 4, 0, 3]])
  kinds = body.kinds
  # Count the arrays the candidate's own network uses: shared parts plus its chosen ops.
  total = sum(a.size for a in jax.tree.leaves(
      {"stem": params["net"]["stem"], "red": params["net"]["reductions"],
       "bn": [params["bn"]["stem"], params["bn"]["reductions"], params["bn"]["final"]],
       "head": params["head"]}))
  for cp, cb in zip(params["net"]["cells"], params["bn"]["cells"]):
    for e, o in enumerate(enc[0]):
      if kinds[o] in rwn.CONV_KINDS:
        total += cp[kinds[o]][e].size + cb[kinds[o]]["scale"][e].size * 2
  assert cell_costs.parameter_count(body, enc, 7)[0] == total


# train_candidates' runs, in this process and as entry points: one setting, so that its
# programs are traced here once and compiled once per session (a 3-edge space: half of
# NB201's cell to trace).
TABLE_TRAINING = gt.TrainingConfig(epochs=3, channels=3, image_size=8, batch_size=16,
                                   group_size=2, learning_rate=0.05, seed=1)
TABLE_FLAGS = ["--holdout_fraction=0.4", "--space=complete_dag:3", "--epochs=3", "--channels=3",
               "--image_size=8", "--batch_size=16", "--group_size=2", "--learning_rate=0.05",
               "--seed=1"]


def _table_config(npz, num_candidates):
  return candidate_table.CandidateTableConfig(
      space="complete_dag:3", num_candidates=num_candidates, images=str(npz),
      holdout_fraction=0.4, training=TABLE_TRAINING)


@pytest.fixture(scope="module")
def four_class_npz(images, tmp_path_factory):
  """A user's ``.npz`` of the synthetic images with 4 classes."""
  train, test = images
  path = tmp_path_factory.mktemp("npz") / "mine.npz"
  np.savez(path, x=np.concatenate([train.x, test.x]),
           y=np.concatenate([train.y, test.y]) % 4)
  return path


def test_train_candidates_writes_a_table_the_ranker_reads(four_class_npz, tmp_path):
  cfg = _table_config(four_class_npz, 4)
  work = tmp_path / "run"
  assert candidate_table.train_candidates(cfg, work, log=lambda m: None,
                                          stop_after_groups=1) is None
  out = candidate_table.train_candidates(cfg, work, log=lambda m: None)
  assert out["num_classes"] == 4 and out["num_candidates"] == 4
  bench = csv_table.load_csv(work / "table.csv", registry.get_space("complete_dag:3"),
                             label_columns=["trained_accuracy"])
  assert len(bench) == 4
  with open(work / "table.csv") as f:
    header = next(csv.reader(f))
  assert header == ["arch", "trained_accuracy", "acc_epoch_1", "acc_epoch_2", "acc_epoch_3",
                    "params", "flops", "train_seconds"]
  np.testing.assert_allclose(bench.metric("trained_accuracy"), bench.metric("acc_epoch_3"))
  assert (work / "learning_curves.png").is_file()
  assert json.loads((work / "config.json").read_text())["training"]["epochs"] == 3
  # The same config again on the finished workdir: its results, every file untouched.
  before = {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()}
  messages = []
  assert candidate_table.train_candidates(cfg, work, log=messages.append) == out
  assert {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()} == before
  assert any("nothing was changed" in m for m in messages)
  with pytest.raises(errors.ConfigError, match="another configuration"):
    candidate_table.train_candidates(_table_config(four_class_npz, 5), work, log=lambda m: None)


@pytest.mark.parametrize("arrays,message", [
    ({"x": np.zeros((4, 8, 8, 3), np.float32), "y": np.arange(4)}, "uint8"),
    ({"x": np.zeros((4, 8, 6, 3), np.uint8), "y": np.arange(4)}, "square"),
    ({"x": np.zeros((4, 8, 8, 3), np.uint8), "y": np.arange(3)}, "one label per image"),
    ({"x": np.zeros((4, 8, 8, 3), np.uint8), "y": -np.arange(4)}, ">= 0"),
    ({"x": np.zeros((4, 8, 8, 3), np.uint8), "y": np.zeros(4, int)}, "two classes"),
    ({"images": np.zeros((4, 8, 8, 3), np.uint8)}, "missing arrays"),
])
def test_user_npz_is_validated_with_one_line(tmp_path, arrays, message):
  path = tmp_path / "bad.npz"
  np.savez(path, **arrays)
  with pytest.raises(errors.JaxnasError, match=message) as e:
    images_lib.load_npz(path)
  assert "\n" not in str(e.value)


def test_user_npz_any_classes_and_size(tmp_path):
  path = tmp_path / "ok.npz"
  y = np.arange(30) % 5
  x = np.broadcast_to(np.arange(30, dtype=np.uint8)[:, None, None, None], (30, 12, 12, 1))
  np.savez(path, x=x, y=y)
  s = images_lib.load_npz(path)
  train, held = images_lib.split_holdout(s, 0.2, seed=0)
  ids_train, ids_held = set(train.x[:, 0, 0, 0]), set(held.x[:, 0, 0, 0])
  assert len(held) == 6 and len(set(held.y)) == 5  # class-balanced
  assert not ids_train & ids_held and len(ids_train | ids_held) == 30
  with pytest.raises(errors.ConfigError, match="not found"):
    images_lib.load_npz(tmp_path / "missing.npz")
  (tmp_path / "junk.npz").write_bytes(b"not a zip")
  with pytest.raises(errors.BenchmarkDataError, match="not a readable"):
    images_lib.load_npz(tmp_path / "junk.npz")


def test_sigkill_then_resume_matches_uninterrupted(four_class_npz, run_entry, tmp_path):
  """train_candidates killed with SIGKILL after its first checkpoint, then restarted, writes
  the table an uninterrupted run writes."""
  import os
  import signal
  import time
  flags = [f"--images={four_class_npz}", "--num_candidates=2", *TABLE_FLAGS]
  # The uninterrupted run goes first, in this process: its programs are the table test's
  # and are in the session's compilation cache, which the two later runs (fresh
  # processes forked by the warm entry worker) read instead of compiling.
  candidate_table.train_candidates(_table_config(four_class_npz, 2), tmp_path / "whole",
                                   log=lambda m: None)
  killed = tmp_path / "killed"
  proc = run_entry.start("train_candidates", f"--workdir={killed}", *flags)
  ckpt = killed / "groups" / "group_00000" / "checkpoints"
  deadline = time.time() + 900
  saved = lambda: ckpt.is_dir() and any(d.isdigit() for d in os.listdir(ckpt))
  while time.time() < deadline and proc.running():
    if saved():
      break
    time.sleep(0.2)
  assert saved(), "no checkpoint before the kill: the resume would not be tested"
  os.kill(proc.pid, signal.SIGKILL)
  assert proc.wait().rc == -signal.SIGKILL, "the run ended before it could be killed"
  assert not (killed / "table.csv").exists()
  resumed = run_entry("train_candidates", f"--workdir={killed}", *flags)
  assert resumed.rc == 0, resumed.stderr[-2000:]
  read = lambda d: csv_table.read_csv_columns(d / "table.csv")
  got, want = read(killed), read(tmp_path / "whole")
  got.pop("train_seconds"), want.pop("train_seconds")
  assert got == want


def test_held_out_chunks_mix_classes_when_the_file_is_sorted_by_class():
  # BN scores a held-out chunk with the chunk's own statistics: a file sorted
  # by class (the shared CIFAR-10 test.npz is) must not give one-class chunks.
  rng = np.random.default_rng(0)
  x = rng.integers(0, 255, (400, 8, 8, 3), dtype=np.uint8)
  y = np.repeat(np.arange(10), 40).astype(np.int32)  # sorted by class
  x[:, 0, 0, 0] = 20 * y
  sets = images_lib.ImageSet(x, y), images_lib.ImageSet(x, y)
  cfg = dataclasses.replace(TINY, eval_batch=50)
  data = gt.prepare_data(*sets, cfg)
  for lo in range(0, len(data.eval_y), cfg.eval_batch):
    assert len(np.unique(data.eval_y[lo:lo + cfg.eval_batch])) >= 6
  # Only reordered: every image keeps its label (pixel (0, 0, 0) encodes it).
  tag = data.eval_x[:, 0, 0, 0]
  per_label = [np.unique(tag[data.eval_y == c]) for c in range(10)]
  assert all(len(v) == 1 for v in per_label)
  assert np.all(np.diff([v[0] for v in per_label]) > 0)
  assert np.bincount(data.eval_y).tolist() == [40] * 10


def test_successive_halving_continues_survivors_exactly_and_resumes(trainer, tmp_path,
                                                                    monkeypatch):
  enc = np.asarray([[3, 2, 1, 4, 0, 3], [1, 1, 2, 2, 3, 3], [4, 3, 2, 1, 0, 1],
                    [3, 3, 3, 3, 3, 3], [2, 2, 2, 2, 2, 2]], np.int32)
  cfg = successive_halving.HalvingConfig(rung_epochs=(1, 2), eta=2)
  out = successive_halving.successive_halving(trainer, enc, cfg, folder=tmp_path / "sh")
  # The oracle: every candidate trained alone for the whole budget.
  full = [trainer.train_group(e[None])["curves"][0] for e in enc]
  survivors = np.nonzero(out["epochs"] == 2)[0]
  assert len(survivors) == 3 and out["epochs_total"] == 5 + 3
  assert out["rungs"] == [{"epochs": 1, "candidates": 5}, {"epochs": 2, "candidates": 3}]
  first = np.asarray([c[0] for c in full])
  # The best three after one epoch continued (regrouped: 3 of 5 in groups of 3).
  assert set(survivors) == set(np.argsort(-first, kind="stable")[:3])
  for i in range(len(enc)):
    np.testing.assert_allclose(out["curves"][i], full[i][:out["epochs"][i]], atol=1e-6)
  # Replaying the rungs on the full-budget curves makes the same choices.
  replayed = successive_halving.replay(np.stack(full), cfg)
  np.testing.assert_array_equal(replayed["epochs"], out["epochs"])
  np.testing.assert_allclose(replayed["accuracy"], out["accuracy"], atol=1e-6)
  # A rerun reads every rung's groups from disk: nothing is trained again.
  monkeypatch.setattr(gt.GroupTrainer, "train_epoch",
                      lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
  again = successive_halving.successive_halving(trainer, enc, cfg, folder=tmp_path / "sh")
  np.testing.assert_array_equal(again["accuracy"], out["accuracy"])
  assert again["curves"] == out["curves"]
  for bad in [dict(rung_epochs=(1, 3)), dict(rung_epochs=(2, 1, 2)), dict(eta=1)]:
    with pytest.raises(errors.ConfigError):
      successive_halving.successive_halving(
          trainer, enc, dataclasses.replace(cfg, **bad))
