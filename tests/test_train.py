"""Vmapped multi-member training: one compile, determinism, resume, early stopping."""

import dataclasses
import shutil

import jax
import numpy as np
import pytest

from jaxnas import checkpoint
from jaxnas import errors
from jaxnas import metrics
from jaxnas import models
from jaxnas import spaces
from jaxnas import train

SPACE = spaces.NB201Space()
POOL = SPACE.enumerate()[::16]  # 977 cells
# A smooth synthetic quality: conv3x3 count, conv1x1 count, minus 'none' count.
LABELS = ((POOL == 3).sum(1) * 2.0 + (POOL == 2).sum(1) - (POOL == 0).sum(1)
          + np.random.default_rng(0).normal(0, 0.3, len(POOL)))
MODEL = models.ModelConfig(hidden=16, num_layers=2, head_hidden=16, num_tiers=3)
CONFIG = train.TrainConfig(num_steps=60, eval_every=20, batch_size=16, val_fraction=0.2,
                           tier_weight=0.5, learning_rate=3e-3)


@pytest.fixture(scope="module")
def trainer():
  return train.RankerTrainer(SPACE, POOL, MODEL, CONFIG, score_chunk=256)


def _data(seeds=(0, 1, 2), sizes=(30, 60, 90)):
  rows = [np.random.default_rng(s).choice(len(POOL), n, replace=False) for s, n in zip(seeds, sizes)]
  return train.make_member_data(rows, [LABELS[r] for r in rows], list(seeds), val_fraction=0.2,
                                num_tiers=3)


def test_members_learn_and_compile_once(trainer):
  data = _data()
  state = trainer.train(data, trainer.init_state([0, 1, 2]))
  assert int(state.step) == 60
  assert trainer.trace_count == 1  # 3 segments, one compilation
  scores = trainer.score(trainer.final_params(state, data))
  assert scores.shape == (3, len(POOL))
  taus = [metrics.kendall_tau_np(s, LABELS) for s in scores]
  assert min(taus) > 0.15 and min(taus[1:]) > 0.5, taus  # more data, better order
  # A second run with new data of the same shapes reuses the compiled segment.
  trainer.train(_data(seeds=(3, 4, 5)), trainer.init_state([3, 4, 5]))
  assert trainer.trace_count == 1


def test_same_seed_same_params_and_different_seeds_differ(trainer):
  data = _data()
  a = trainer.train(data, trainer.init_state([0, 1, 2]))
  b = trainer.train(data, trainer.init_state([0, 1, 2]))
  for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
    np.testing.assert_array_equal(x, y)
  c = trainer.train(data, trainer.init_state([7, 8, 9]))
  assert not np.allclose(jax.tree.leaves(a.params)[0], jax.tree.leaves(c.params)[0])


def test_resume_from_checkpoint_equals_uninterrupted(trainer, tmp_path):
  data = _data()
  full = trainer.train(data, trainer.init_state([0, 1, 2]))
  ckpt = checkpoint.Checkpointer(tmp_path / "ckpt")
  # Two segments (40 steps), as if the run had been killed after saving.
  state = trainer.init_state([0, 1, 2])
  for _ in range(2):
    state, _ = trainer._segment(state, jax.device_put(data))
  ckpt.save(int(state.step), state, {"note": "half"})
  step, restored, meta = ckpt.restore_latest(trainer.init_state([0, 1, 2]))
  assert step == 40 and meta == {"note": "half"}
  resumed = trainer.train(data, restored)
  for x, y in zip(jax.tree.leaves(full.params), jax.tree.leaves(resumed.params)):
    np.testing.assert_array_equal(x, y)


def _damage(step_dir, how):
  if how == "truncate":  # every file of the step cut to a few bytes
    for path in step_dir.rglob("*"):
      if path.is_file():
        path.write_bytes(path.read_bytes()[:7])
  elif how == "no_metadata":
    (step_dir / "state" / "_METADATA").unlink()
  elif how == "emptied":  # killed after the folder was made, before any file
    shutil.rmtree(step_dir)
    step_dir.mkdir()
  elif how == "no_meta_item":
    shutil.rmtree(step_dir / "meta")


@pytest.mark.parametrize("how", ["truncate", "no_metadata", "no_meta_item", "emptied"])
def test_damaged_latest_checkpoint_is_moved_aside_and_training_finishes(trainer, tmp_path, how):
  """Issue 19 case 1: the rerun used to fail at the damaged step (StepAlreadyExistsError)."""
  data = _data()
  full = trainer.train(data, trainer.init_state([0, 1, 2]))
  directory = tmp_path / "ckpt"
  ckpt = checkpoint.Checkpointer(directory)
  state = trainer.init_state([0, 1, 2])
  for _ in range(2):  # saved steps 20 and 40, then "killed"
    state, _ = trainer._segment(state, jax.device_put(data))
    ckpt.save(int(state.step), state, {"fingerprint": "f"})
  ckpt.close()
  _damage(directory / "40", how)
  rerun = checkpoint.Checkpointer(directory)
  step, restored, _ = rerun.restore_latest(trainer.init_state([0, 1, 2]), fingerprint="f")
  assert step == 20
  # Training goes past the damaged step (saving it again) and ends where an
  # uninterrupted run ends.
  resumed = trainer.train(data, restored, checkpointer=rerun, checkpoint_every=20,
                          meta={"fingerprint": "f"})
  for x, y in zip(jax.tree.leaves(full.params), jax.tree.leaves(resumed.params)):
    np.testing.assert_array_equal(x, y)
  assert rerun.steps() == [20, 40, 60]
  assert (directory / checkpoint.DAMAGED / "40").is_dir()  # kept for inspection
  rerun.close()


def test_best_params_kept_with_validation(trainer):
  data = _data()
  state = trainer.train(data, trainer.init_state([0, 1, 2]))
  assert np.all(np.isfinite(np.asarray(state.best_val)))
  final = trainer.final_params(state, data)
  # Members with validation rows use their best-validation parameters.
  for x, y in zip(jax.tree.leaves(final), jax.tree.leaves(state.best_params)):
    np.testing.assert_array_equal(x, y)


def test_member_data_rejects_nan_labels_and_bad_config():
  with pytest.raises(errors.BenchmarkDataError, match="NaN"):
    train.make_member_data([np.arange(5)], [np.array([1.0, np.nan, 2, 3, 4])], [0],
                           val_fraction=0.0, num_tiers=0)
  with pytest.raises(errors.ConfigError, match="unknown loss"):
    train.TrainConfig(loss="bogus")
  with pytest.raises(errors.ConfigError, match="learning_rate"):
    train.TrainConfig(learning_rate=float("nan"))
  # Very short runs still get a valid warm-up + cosine schedule.
  train.RankerTrainer(SPACE, POOL[:8], MODEL, train.TrainConfig(num_steps=1, batch_size=4))


def test_num_steps_not_a_multiple_of_eval_every_stops_at_num_steps():
  data = _data(seeds=(0,), sizes=(60,))
  cfg = dataclasses.replace(CONFIG, num_steps=50)  # segments of 20: 20, 40, then 10 of 20
  uneven = train.RankerTrainer(SPACE, POOL, MODEL, cfg, score_chunk=256)
  steps = []
  state = uneven.train(data, uneven.init_state([0]), on_segment=lambda r: steps.append(r["step"]))
  assert steps == [20, 40, 50] and int(state.step) == 50
  assert uneven.trace_count == 1  # the short last segment is the same program
  # The same 50 updates as segments of 10 (which end exactly at 50).
  even = train.RankerTrainer(SPACE, POOL, MODEL, dataclasses.replace(cfg, eval_every=10),
                             score_chunk=256)
  want = even.train(data, even.init_state([0]))
  for x, y in zip(jax.tree.leaves(state.params), jax.tree.leaves(want.params)):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
