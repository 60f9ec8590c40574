"""Weak supervision (AceNAS): the weight-sharing supernet, zero-cost signals, weak
labels and pretraining + fine-tuning. Tiny networks on synthetic images (no
image folder needed)."""

from __future__ import annotations

import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import jitted
from jaxnas import checkpoint as checkpoint_lib
from jaxnas import errors
from jaxnas import linear_blend
from jaxnas import models
from jaxnas import pretrain as pretrain_lib
from jaxnas import protocol
from jaxnas import train
from jaxnas.data import benchmark as benchmark_lib
from jaxnas.data import images as images_lib
from jaxnas.evaluate import weight_sharing_supernet as sn
from jaxnas.evaluate import weak_labels as wl
from jaxnas.evaluate import zero_cost as zc
from jaxnas.spaces import CompleteDAGSpace
from jaxnas.spaces import NB201Space

SPACE = NB201Space()
CHOSEN = np.asarray([[3, 3, 3, 3, 3, 3], [0, 0, 0, 0, 0, 0], [1, 2, 4, 3, 0, 2],
                     [2, 1, 1, 3, 2, 0], [4, 0, 1, 0, 3, 1]], np.int32)
TINY_SUPERNET = sn.SupernetTrainConfig(channels=4, image_size=8, num_steps=6, batch_size=8,
                                       eval_images=16, eval_chunk=8, warmup_steps=2)
TINY_WEAK = wl.WeakLabelConfig(channels=4, image_size=8, zc_images=8, probe_fit_images=20,
                               probe_eval_images=20, chunk=8, supernet=TINY_SUPERNET)


def _sets(n_train=64, n_test=40):
  train_set = images_lib.synthetic_images(jax.random.key(0), n_train)
  test_set = images_lib.synthetic_images(jax.random.key(1), n_test)
  return train_set, test_set


def _images_dir(tmp_path):
  """A CIFAR-10-shaped npz folder of synthetic images."""
  train_set, test_set = _sets()
  os.makedirs(tmp_path / "cifar10", exist_ok=True)
  for name, s in (("train", train_set), ("test", test_set)):
    np.savez(tmp_path / "cifar10" / f"{name}.npz", x=s.x, y=s.y.astype(np.int64))
  return str(tmp_path)


# --------------------------------------------------------------------------- supernet
def test_candidate_forward_equals_standalone_network():
  cfg = TINY_SUPERNET.net_config(SPACE)
  params = sn.init_params(cfg, jax.random.key(0))
  params["head"]["w"] = jax.random.normal(jax.random.key(3), params["head"]["w"].shape)
  x = jax.random.normal(jax.random.key(1), (6, 8, 8, 3))
  def paths(params, x):
    # A standalone network holding copies of only the candidate's own weights.
    own = [sn.subnet_logits(sn.extract_subnet(params, enc, cfg), x, cfg) for enc in CHOSEN]
    return (sn.mixed_logits(params, x, jnp.asarray(CHOSEN), cfg),  # training path
            sn.switch_logits(params, x, jnp.asarray(CHOSEN), cfg),  # sweep path
            [sn.standalone_logits(params, x, enc, cfg) for enc in CHOSEN], own)
  mixed, switch, standalone, own = jitted(paths, params, x)
  for b in range(len(CHOSEN)):
    np.testing.assert_allclose(mixed[b], own[b], atol=2e-5)
    np.testing.assert_allclose(switch[b], own[b], atol=2e-5)
    np.testing.assert_allclose(standalone[b], own[b], atol=2e-5)


def test_unchosen_ops_neither_matter_nor_train():
  cfg = TINY_SUPERNET.net_config(SPACE)
  params = sn.init_params(cfg, jax.random.key(0))
  params["head"]["w"] = jax.random.normal(jax.random.key(3), params["head"]["w"].shape)
  x = jax.random.normal(jax.random.key(1), (6, 8, 8, 3))
  enc = jnp.asarray(CHOSEN[2:3])  # conv1x1 on edge 1, conv3x3 on edge 3, ...
  ops = [int(o) for o in CHOSEN[2]]
  kinds = cfg.kinds
  # Perturb every conv kernel the candidate does not use: same output.
  noisy = jax.tree.map(lambda a: a, params)
  for cp in noisy["net"]["cells"]:
    for kind in ("conv1", "conv3"):
      unused = np.asarray([kinds[o] != kind for o in ops])
      cp[kind] = cp[kind] + 5.0 * unused[:, None, None, None, None]
  logits = jax.jit(lambda p: sn.mixed_logits(p, x, enc, cfg))
  np.testing.assert_allclose(logits(noisy), logits(params), atol=1e-5)
  grads = jitted(jax.grad(lambda p: sn.cross_entropy(
      sn.mixed_logits(p, x, enc, cfg), jnp.zeros(6, jnp.int32)).mean()), params)
  for cp in grads["net"]["cells"]:
    for kind in ("conv1", "conv3"):
      for e, o in enumerate(ops):
        norm = float(jnp.abs(cp[kind][e]).sum())
        assert (norm > 0) == (kinds[o] == kind), (kind, e, norm)


def test_supernet_training_resumes_exactly(tmp_path):
  train_set, test_set = _sets()
  data = sn.load_images(TINY_SUPERNET, train=train_set, test=test_set)
  # The uninterrupted and the interrupted run share one trainer (one compiled step);
  # the resumed run is a fresh trainer, as after a restart.
  first = sn.SupernetTrainer(SPACE, TINY_SUPERNET, *data)
  full = first.train()
  ckpt = checkpoint_lib.Checkpointer(tmp_path / "ck")
  part = first.train(checkpointer=ckpt, checkpoint_every=3, stop_after=3)
  assert int(part["step"]) == 3 and ckpt.steps() == [3]
  messages = []
  resumed = sn.SupernetTrainer(SPACE, TINY_SUPERNET, *data).train(
      checkpointer=ckpt, checkpoint_every=3, log=messages.append)
  assert any("resumed from step 3" in m for m in messages)
  assert int(resumed["step"]) == TINY_SUPERNET.num_steps
  for a, b in zip(jax.tree.leaves(full["params"]), jax.tree.leaves(resumed["params"])):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  other = dataclasses.replace(TINY_SUPERNET, channels=2)
  with pytest.raises(errors.CheckpointError, match="different configuration"):
    sn.SupernetTrainer(SPACE, other, *sn.load_images(other, train=train_set, test=test_set)
                       ).train(checkpointer=ckpt)
  ckpt.close()


def test_sweep_of_candidates_compiles_once():
  train_set, test_set = _sets()
  trainer = sn.SupernetTrainer(SPACE, TINY_SUPERNET,
                               *sn.load_images(TINY_SUPERNET, train=train_set, test=test_set))
  state = trainer.init_state()
  enc = SPACE.enumerate()[::700]  # 23 candidates: 3 chunks, the last padded
  out = trainer.evaluate(state["params"], enc)
  assert trainer.num_eval_traces == 1
  assert out["accuracy"].shape == (len(enc),) and np.all((out["accuracy"] >= 0)
                                                         & (out["accuracy"] <= 1))
  # Zero head: every candidate predicts uniformly, loss log(10).
  np.testing.assert_allclose(out["loss"], np.log(10.0), rtol=1e-5)


# --------------------------------------------------------------------------- zero cost
def test_synflow_is_the_sum_of_theta_times_gradient():
  cfg = TINY_WEAK.supernet.net_config(SPACE)
  cfg = dataclasses.replace(cfg, naswot_images=0)
  train_set, _ = _sets()
  ev = zc.ZeroCostEvaluator(cfg, images_lib.normalize(train_set.x[:8, :8, :8]),
                            train_set.y[:8], zc.ZeroCostConfig(num_images=8, synflow_size=8,
                                                               chunk=4))
  got = ev.score_all(CHOSEN[:4], proxies=("synflow",))["synflow"]
  absp = jax.tree.map(jnp.abs, (ev.params, ev.head))
  none = dataclasses.replace(cfg, batch_norm="none")
  def synaptic_flow(p, enc):
    r = lambda q: jnp.sum(sn.standalone_logits({"net": q[0], "head": {"w": q[1], "b": 0.0}},
                                               jnp.ones((1, 8, 8, 3)), enc, none))
    grads = jax.grad(r)(p)
    return sum(jnp.sum(a * g) for a, g in zip(jax.tree.leaves(p), jax.tree.leaves(grads)))
  totals = jitted(lambda p: [synaptic_flow(p, enc) for enc in CHOSEN[:4]], absp)
  for b in range(4):
    want = np.log(max(float(totals[b]), 1e-30))
    np.testing.assert_allclose(got[b], want, rtol=1e-4, atol=1e-4)
  assert got[1] < got[0]  # the empty cell has no synaptic flow


# --------------------------------------------------------------------------- weak labels
def test_weak_labels_for_a_space_without_benchmark(tmp_path, monkeypatch):
  space = CompleteDAGSpace(4)
  enc = space.sample(jax.random.key(0), 12)
  train_set, test_set = _sets()
  cfg = dataclasses.replace(TINY_WEAK, signals=wl.SUPERNET_SIGNALS)
  path = tmp_path / "wl" / "weak_labels.csv"
  table = wl.load_or_compute(space, enc, cfg, path=path, train_images=train_set,
                             test_images=test_set)
  assert list(table.columns) == cfg.columns()
  assert table.archs == space.format_many(enc)
  for name in ("params", "flops", "synflow", "probe_accuracy", "supernet_accuracy",
               "supernet_loss"):
    assert np.all(np.isfinite(table.columns[name])), name
  assert path.is_file() and json.loads(path.with_suffix(".json").read_text())["num_archs"] == 12
  # Reused when nothing changed (computing would raise)...
  monkeypatch.setattr(wl, "compute", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
  again = wl.load_or_compute(space, enc[::-1], cfg, path=path)
  np.testing.assert_array_equal(again.columns["synflow"], table.columns["synflow"][::-1])
  # ...recomputed when the settings differ.
  with pytest.raises(AssertionError):
    wl.load_or_compute(space, enc, dataclasses.replace(cfg, seed=1), path=path)


class _GuardedMetrics(dict):
  """Benchmark metrics that record which columns are read."""

  def __init__(self, *a, **k):
    super().__init__(*a, **k)
    self.read = []

  def __getitem__(self, key):
    self.read.append(key)
    return super().__getitem__(key)

  def get(self, key, default=None):
    self.read.append(key)
    return super().get(key, default)


def _tiny_bench(n=120):
  enc = SPACE.enumerate()[::15625 // n][:n]
  conv3 = np.sum(enc == 3, axis=1)
  acc = conv3 + 0.3 * np.sum(enc == 2, axis=1) - 2.0 * (enc[:, 0] == 0)
  noise = np.random.default_rng(0).normal(0, 0.3, n)
  bench = benchmark_lib.Benchmark("tiny201", SPACE, enc, {
      "acc": acc + noise, "naswot": noise, "params_m": acc})
  return bench


def _tiny_config(tmp_path, mode="zero_cost", use="both"):
  weak = dataclasses.replace(TINY_WEAK, signals=wl.ZERO_COST_SIGNALS)
  return protocol.RunConfig(
      benchmark="tiny201", train_size=30, seed=0, checkpoint_every=10,
      model=models.ModelConfig(hidden=8, num_layers=1, head_hidden=8, num_tiers=0),
      train=train.TrainConfig(num_steps=20, eval_every=10, batch_size=16, loss="lambdarank"),
      pretrain=pretrain_lib.PretrainConfig(
          mode=mode, use=use, num_steps=20, batch_size=16, images_dir=_images_dir(tmp_path),
          cache_dir=str(tmp_path / "cache"), weak=weak))


def test_weak_labels_never_read_a_benchmark_column(tmp_path):
  bench = _tiny_bench()
  bench.metrics = _GuardedMetrics(bench.metrics)
  labels = bench.metrics["acc"]
  bench.metrics.read.clear()
  loaded = protocol.LoadedBenchmark(bench, "acc", labels, 0)
  config = _tiny_config(tmp_path)
  rows, _ = bench.split(0, 30)
  out = protocol.fit_and_score(loaded, config, protocol.member_specs(rows, 0, 1, 0), None,
                               log=lambda m: None)
  assert bench.metrics.read == []  # the target was read by the caller, nothing else
  assert out["weak_features"].shape == (len(bench), len(wl.WeakLabelConfig().columns()))
  # The table was written to the cache and holds only computed columns.
  (csv_path,) = list((tmp_path / "cache").rglob("weak_labels.csv"))
  header = csv_path.read_text().splitlines()[0].split(",")
  assert header == ["arch", "params", "flops", "naswot", "synflow", "probe_accuracy"]


def test_pretrain_then_finetune_end_to_end(tmp_path, monkeypatch):
  bench = _tiny_bench()
  config = _tiny_config(tmp_path, use="both")
  loaded = protocol.LoadedBenchmark(bench, "acc", bench.metric("acc"), 0)
  monkeypatch.setattr(protocol, "load_for_ranking", lambda cfg: loaded)
  messages = []
  out = protocol.sweep(config, [20, 30], [0, 1], str(tmp_path / "sweep"), log=messages.append)
  # Two seeds, each a ranker and its fold members (the blend's: 5 folds, repeated
  # 3 times at 20 archs, seeds shared with 30 archs' 2 repeats), all pretrained.
  distinct = 2 * (1 + config.blend_folds * linear_blend.fold_repeats(20))
  assert any(f"pretrained {distinct} distinct initialisation(s)" in m for m in messages)
  # Four jaxnas runs, each with the built-in one-hot ridge reference on its split.
  assert sorted(r["method"] for r in out["runs"]) == ["jaxnas"] * 4 + ["onehot_ridge"] * 4
  assert all(np.isfinite(r["kendalltau_all"]) for r in out["runs"])
  assert out["summary"]["jaxnas"]["pretrain_time_s"] > 0
  # Pretraining moved the parameters away from the fresh initialisation.
  plan = pretrain_lib.prepare(config.pretrain, SPACE, bench.encodings)
  trainer = train.RankerTrainer(SPACE, bench.encodings, dataclasses.replace(
      config.model, num_globals=2 + plan.features.shape[1]), config.train,
      pool_globals=np.concatenate([np.zeros((len(bench), 2), np.float32), plan.features], 1))
  fresh = trainer.init_state([0])
  pre = plan.hook(trainer, fresh)
  moved = [float(jnp.abs(a - b).max()) for a, b in
           zip(jax.tree.leaves(fresh.params), jax.tree.leaves(pre.params))]
  assert max(moved) > 1e-3
  # A rerun resumes from the fine-tuning checkpoint without pretraining again.
  again = []
  protocol.sweep(config, [20, 30], [0, 1], str(tmp_path / "sweep"), log=again.append)
  assert any("resumed from checkpoint" in m for m in again)
  assert not any("pretrained" in m for m in again)


def test_rank_columns_choose_the_pretraining_target(tmp_path):
  bench = _tiny_bench()
  pre = _tiny_config(tmp_path).pretrain
  all_plan = pretrain_lib.prepare(pre, SPACE, bench.encodings)
  some = dataclasses.replace(pre, rank_columns=("params", "naswot"))
  plan = pretrain_lib.prepare(some, SPACE, bench.encodings)
  # Every column stays an auxiliary target; only the ranking target changes.
  np.testing.assert_array_equal(plan.targets, all_plan.targets)
  expect = wl.combined(plan.table, ["params", "naswot"])
  expect = (expect - expect.mean()) / (expect.std() + 1e-12)
  np.testing.assert_allclose(plan.combined, expect, rtol=1e-5, atol=1e-5)
  assert not np.allclose(plan.combined, all_plan.combined)
  with pytest.raises(errors.ConfigError, match="rank_columns"):
    dataclasses.replace(pre, rank_columns=("supernet_accuracy",))
  with pytest.raises(errors.ConfigError, match="rank_columns"):
    dataclasses.replace(pre, rank_columns=())


# --------------------------------------------------------------------------- NB101
def test_nb101_cost_model_matches_the_published_parameter_counts(data_dir):
  from jaxnas.data import nb101 as nb101_data  # pylint: disable=import-outside-toplevel
  from jaxnas.evaluate import nb101_costs  # pylint: disable=import-outside-toplevel
  try:
    bench = nb101_data.load_nb101(data_dir, on_invalid="drop")
  except errors.ConfigError as e:
    pytest.skip(str(e))
  got = nb101_costs.cost_features(bench.encodings)
  # Validation only: the weak labels themselves never read these columns.
  np.testing.assert_allclose(np.exp(got["params"]) / 1e6, bench.metric("params"), atol=1e-6)
  from scipy import stats  # pylint: disable=import-outside-toplevel
  assert stats.spearmanr(got["flops"], bench.metric("flops"))[0] > 0.99
