"""Tests of random-weight evaluation: image loaders, the supernet, the probe, the evaluator."""

from __future__ import annotations

import inspect
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import jitted
from jaxnas import errors
from jaxnas.data import images as images_lib
from jaxnas.data import paths
from jaxnas.evaluate import cell_costs
from jaxnas.evaluate import random_weight_network as cs
from jaxnas.evaluate import probe
from jaxnas.evaluate import rwe
from jaxnas.evaluate import rwe_config
from jaxnas.evaluate import xla_cpu
from jaxnas.spaces import CompleteDAGSpace
from jaxnas.spaces import NB201Space

SPACE = NB201Space()
TINY = dict(channels=4, naswot_images=6)


def _probe(fit, ev, **settings) -> rwe.RandomWeightEvaluator:
  """An evaluator with RWEConfig(**settings)."""
  return rwe.RandomWeightEvaluator(SPACE, fit, ev, rwe.RWEConfig(**settings))


# Candidates that exercise every op, empty cells and shared first-cell terms.
CHOSEN = np.asarray([[3, 3, 3, 3, 3, 3], [0, 0, 0, 0, 0, 0], [1, 2, 4, 3, 0, 2],
                     [2, 1, 1, 3, 2, 0], [4, 0, 1, 0, 3, 1], [3, 3, 0, 1, 4, 2]], np.int32)


def _images(n=12, size=16, seed=0):
  ims = images_lib.synthetic_images(jax.random.key(seed), n, size=size)
  return jnp.asarray(images_lib.normalize(ims.x)), ims


# --------------------------------------------------------------------------- images
def _write_cifar_bin(path, x, y):
  rec = np.concatenate([y[:, None].astype(np.uint8),
                        x.transpose(0, 3, 1, 2).reshape(len(y), -1)], axis=1)
  path.write_bytes(rec.tobytes())


def test_binary_loader_roundtrip(tmp_path):
  rng = np.random.default_rng(0)
  x = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
  y = np.asarray([4, 0, 9])
  _write_cifar_bin(tmp_path / "data_batch_1.bin", x, y)
  _write_cifar_bin(tmp_path / "test_batch.bin", x[:1], y[:1])
  train = images_lib.load_cifar10_binary(tmp_path, "train")
  np.testing.assert_array_equal(train.x, x)
  np.testing.assert_array_equal(train.y, y)
  assert len(images_lib.load_cifar10_binary(tmp_path, "test")) == 1


def test_binary_loader_rejects_truncated_file(tmp_path):
  (tmp_path / "test_batch.bin").write_bytes(b"\x01" * 100)
  with pytest.raises(errors.BenchmarkDataError, match="3073-byte"):
    images_lib.load_cifar10_binary(tmp_path, "test")


def test_python_loader_needs_explicit_opt_in(tmp_path):
  x = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
  batch = {b"data": x.transpose(0, 3, 1, 2).reshape(2, -1), b"labels": [3, 7]}
  with open(tmp_path / "test_batch", "wb") as f:
    pickle.dump(batch, f)
  with pytest.raises(errors.ConfigError, match="allow_pickle=True"):
    images_lib.load_cifar10_python(tmp_path, "test")
  loaded = images_lib.load_cifar10_python(tmp_path, "test", allow_pickle=True)
  np.testing.assert_array_equal(loaded.x, x)
  np.testing.assert_array_equal(loaded.y, [3, 7])


def test_npz_loader_through_env(tmp_path, monkeypatch):
  (tmp_path / "cifar10").mkdir()
  x = np.zeros((20, 32, 32, 3), np.uint8)
  y = np.repeat(np.arange(10), 2)
  np.savez(tmp_path / "cifar10" / "train.npz", x=x, y=y)
  monkeypatch.setenv(paths.IMAGES_ENV_VAR, str(tmp_path))
  got = images_lib.load_cifar10_npz("train")
  assert got.x.shape == (20, 32, 32, 3) and got.y.dtype == np.int32
  sub = got.stratified(10, seed=3)
  assert sorted(sub.y.tolist()) == list(range(10))  # one image per class
  with pytest.raises(errors.ConfigError, match="not found"):
    images_lib.load_cifar10_npz("test")
  with pytest.raises(errors.ConfigError, match="unknown split"):
    images_lib.load_cifar10_npz("valid")


def test_normalize_and_synthetic():
  ims = images_lib.synthetic_images(jax.random.key(0), 5, size=8)
  assert ims.x.shape == (5, 8, 8, 3) and ims.x.dtype == np.uint8 and ims.source == "synthetic"
  mean_img = np.broadcast_to(np.round(images_lib.CIFAR10_MEAN * 255).astype(np.uint8), (1, 2, 2, 3))
  np.testing.assert_allclose(images_lib.normalize(mean_img), 0.0, atol=0.01)


# --------------------------------------------------------------------------- supernet
@pytest.mark.parametrize("net", [
    dict(),
    dict(batch_norm="none", features="stages"),
    dict(batch_norm="none", features="stages_edges"),
    dict(features="stages_edges", cells_per_stage=2, num_stages=2),
    dict(cells_per_stage=2, num_stages=2),
    dict(batch_norm="none", share_edge_weights=True),
])
def test_supernet_equals_single_network(net):
  x, _ = _images()
  cfg = cs.SupernetConfig(**TINY, **net)
  params = cs.init_params(cfg, jax.random.key(0))
  feats, gram = jax.jit(lambda p, im, e: cs.batch_forward(p, im, e, cfg))(params, x, CHOSEN)
  singles = jitted(lambda p, im: [cs.single_forward(p, im, e, cfg) for e in CHOSEN], params, x)
  for b, (f1, g1) in enumerate(singles):
    np.testing.assert_allclose(feats[b], f1, atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(gram[b], g1, rtol=1e-6)
  assert feats.shape == (len(CHOSEN), x.shape[0], cfg.feature_dim)
  np.testing.assert_array_equal(feats[1], 0.0)  # all-none: the output is zero
  if cfg.features == "stages_edges":
    # Edge taps come last, in edges order: the all-3x3 cell's edges are all
    # distinct convs (non-zero), the third candidate's none edge is zero.
    taps = np.asarray(feats[:, :, -len(cfg.edges) * cfg.channels:]).reshape(
        len(CHOSEN), x.shape[0], len(cfg.edges), cfg.channels)
    assert (np.abs(taps[0]).sum(axis=(0, 2)) > 0).all()
    np.testing.assert_array_equal(taps[2][:, CHOSEN[2] == 0], 0.0)


@pytest.mark.parametrize("parallel,features", [(3, "last"), (4, "last"), (3, "stages_edges")])
def test_vmapped_candidate_groups_equal_one_at_a_time(parallel, features):
  # The accelerator path (groups of candidates vmapped: every switch becomes a
  # select) computes the same features as the CPU path; 4 leaves a remainder.
  x, _ = _images(n=8)
  cfg = cs.SupernetConfig(**TINY, features=features)
  params = cs.init_params(cfg, jax.random.key(0))
  one, grouped = jitted(lambda p, im: (
      cs.batch_forward(p, im, CHOSEN, cfg),
      cs.batch_forward(p, im, CHOSEN, cfg, parallel_candidates=parallel)), params, x)
  np.testing.assert_allclose(grouped[0], one[0], atol=2e-5, rtol=1e-4)
  np.testing.assert_allclose(grouped[1], one[1], rtol=1e-6)


def test_shared_edge_weights_are_one_kernel_per_op_and_cell():
  cfg = cs.SupernetConfig(**TINY, share_edge_weights=True)
  cells = cs.init_params(cfg, jax.random.key(0))["cells"]
  for cell in cells:
    for kind in ("conv1", "conv3"):
      w = np.asarray(cell[kind])
      assert w.shape[0] == len(cfg.edges)
      np.testing.assert_array_equal(w, np.broadcast_to(w[:1], w.shape))


@pytest.mark.parametrize("init,edges_in_fan_in", [("he", 1), ("he_over_edges", 6)])
def test_cell_kernels_have_he_variance(init, edges_in_fan_in):
  cfg = cs.SupernetConfig(channels=16, kernel_init=init)
  conv3 = np.asarray(cs.init_params(cfg, jax.random.key(0))["cells"][0]["conv3"])
  assert conv3.shape == (6, 3, 3, 16, 16)
  assert conv3.std() == pytest.approx(np.sqrt(2.0 / (edges_in_fan_in * 9 * 16)), rel=0.05)


@pytest.mark.parametrize("features", ["last", "stages_edges"])
def test_supernet_without_sharing_and_complete_dag(features):
  x, _ = _images(n=8)
  space = CompleteDAGSpace(5)
  cfg = cs.SupernetConfig.for_space(space, **TINY, features=features)
  params = cs.init_params(cfg, jax.random.key(1))
  enc = np.asarray(space.sample(jax.random.key(2), 3))
  singles = jitted(lambda p, im: [cs.single_forward(p, im, e, cfg)[0] for e in enc], params, x)
  for share in (True, False):
    feats, _ = jitted(lambda p, im, share=share: cs.batch_forward(
        p, im, enc, cfg, share_first_cell=share), params, x)
    for b in range(3):
      np.testing.assert_allclose(feats[b], singles[b], atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("share_edge_weights,rows", [(False, 27), (True, 13)])
def test_shared_first_cell_table_has_one_row_per_distinct_result(share_edge_weights, rows):
  # NB201: x0; from x0 a pool (any edge) and conv1/conv3 per edge (0,1..3) = 7;
  # from the 4 non-zero node-1 values a pool and conv1/conv3 per edge (1,2..3),
  # the pool of x0 already there = 19. Shared kernels: a conv, too, is one row per
  # input (1 + 3 + 4 * 3 - 3 = 13).
  x, _ = _images(n=4, size=8)
  cfg = cs.SupernetConfig(**TINY, share_edge_weights=share_edge_weights)
  params = cs.init_params(cfg, jax.random.key(0))
  table = cs._SharedFirstCell(params, cs.stem(params, x, cfg.batch_norm), cfg).table
  assert table.shape[0] == rows


def test_flax_module_wraps_the_same_params():
  from flax import nnx  # pylint: disable=import-outside-toplevel
  x, _ = _images(n=6)
  cfg = cs.SupernetConfig(**TINY)
  model = cs.CellSupernet(cfg, rngs=nnx.Rngs(params=0))
  f, _ = model(x, CHOSEN[:2])
  f1, _ = jitted(lambda p, im: cs.single_forward(p, im, CHOSEN[0], cfg), model.params(), x)
  np.testing.assert_allclose(f[0], f1, atol=2e-5, rtol=1e-4)


def test_config_errors():
  with pytest.raises(errors.ConfigError, match="sep_conv"):
    cs.SupernetConfig(ops=("none", "sep_conv_3x3"))
  with pytest.raises(errors.ConfigError, match="batch_norm"):
    cs.SupernetConfig(batch_norm="running")
  with pytest.raises(errors.ConfigError, match="channels"):
    cs.SupernetConfig(channels=0)


def test_network_flops_counts_convs():
  cfg = cs.SupernetConfig(channels=4, num_stages=1)
  f = cell_costs.network_flops(cfg, np.asarray([[0] * 6, [3, 0, 0, 0, 0, 2]]), 8, 8, 2)
  stem = 2 * 9 * 3 * 4 * 64 * 2
  assert f[0] == stem
  assert f[1] == stem + 2 * (9 + 1) * 16 * 64 * 2


# --------------------------------------------------------------------------- probe
def _numpy_ridge_oracle(fx, fy, ex, ey, lam, classes):
  mu, sd = fx.mean(0), fx.std(0)
  sd = np.where(sd > 1e-6, sd, 1.0)
  xs, xe = (fx - mu) / sd, (ex - mu) / sd
  y1 = np.eye(classes)[fy]
  n, d = xs.shape
  # Ridge as an augmented least-squares problem: [X; sqrt(n lam) I] w = [Y - ybar; 0].
  a = np.concatenate([xs, np.sqrt(n * lam) * np.eye(d)])
  b = np.concatenate([y1 - y1.mean(0), np.zeros((d, classes))])
  w = np.linalg.lstsq(a, b, rcond=None)[0]
  pred = xe @ w + y1.mean(0)
  return np.mean(pred.argmax(1) == ey), np.mean(np.sum((pred - np.eye(classes)[ey]) ** 2, 1))


def test_ridge_probe_matches_lstsq_oracle():
  rng = np.random.default_rng(0)
  fx, ex = rng.normal(size=(60, 7)), rng.normal(size=(25, 7))
  fx[:, 3] = 2.0  # a constant feature
  ex[:, 3] = 2.0
  fy, ey = rng.integers(0, 4, 60), rng.integers(0, 4, 25)
  ridges = (1e-3, 0.1, 3.0)
  out = probe.ridge_probe(jnp.asarray(fx), jnp.asarray(fy), jnp.asarray(ex), jnp.asarray(ey),
                          num_classes=4, ridges=ridges)
  for r, lam in enumerate(ridges):
    acc, mse = _numpy_ridge_oracle(fx, fy, ex, ey, lam, 4)
    assert float(out["accuracy"][r]) == pytest.approx(acc)
    assert float(out["mse"][r]) == pytest.approx(mse, rel=1e-4)


def test_leave_one_out_matches_refitting_without_each_image():
  rng = np.random.default_rng(1)
  fx, fy = rng.normal(size=(30, 5)), rng.integers(0, 3, 30)
  ridges = (0.05, 2.0)
  out = probe.ridge_probe(jnp.asarray(fx), jnp.asarray(fy), jnp.asarray(fx[:2]),
                          jnp.asarray(fy[:2]), num_classes=3, ridges=ridges)
  # The closed form keeps the fit set's standardisation and the 1/n scale of
  # the objective; the oracle refits weights and bias on n - 1 images.
  n = len(fy)
  xs = (fx - fx.mean(0)) / fx.std(0)
  y1 = np.eye(3)[fy]
  for r, lam in enumerate(ridges):
    preds = []
    for i in range(n):
      keep = np.arange(n) != i
      xm, ym = xs[keep].mean(0), y1[keep].mean(0)
      xc = xs[keep] - xm
      w = np.linalg.solve(xc.T @ xc / n + lam * np.eye(5), xc.T @ (y1[keep] - ym) / n)
      preds.append((xs[i] - xm) @ w + ym)
    preds = np.asarray(preds)
    assert float(out["loo_mse"][r]) == pytest.approx(np.mean(np.sum((preds - y1) ** 2, 1)),
                                                     rel=1e-4)
    assert float(out["loo_accuracy"][r]) == pytest.approx(np.mean(preds.argmax(1) == fy))


def test_probe_of_constant_features_is_majority_class():
  fy = np.asarray([1, 1, 1, 2])
  out = probe.ridge_probe(jnp.zeros((4, 3)), jnp.asarray(fy), jnp.zeros((3, 3)),
                          jnp.asarray([1, 2, 1]), num_classes=3, ridges=(1e-3, 1.0))
  np.testing.assert_allclose(out["accuracy"], 2 / 3)


@pytest.mark.parametrize("shape", [(12, 4, 4, 4), (7, 3, 5, 3), (9, 1, 1, 1)])
def test_packed_naswot_gram_equals_sign_matmul(shape):
  # Unit counts 64, 45 (padded to 64 bits) and 1.
  x = jax.random.normal(jax.random.key(3), shape)
  n = min(8, shape[0])
  s = np.where(np.asarray(x[:n]) > 0, 1.0, -1.0).reshape(n, -1)
  np.testing.assert_array_equal(np.asarray(cs.naswot_gram(x, n)), 0.5 * (s.shape[1] + s @ s.T))


@pytest.mark.parametrize("size", [(6, 6), (5, 7)])
def test_avg_pool2_is_mean_of_2x2_blocks(size):
  x = np.asarray(jax.random.normal(jax.random.key(4), (2, *size, 3)))
  h, w = size[0] // 2, size[1] // 2
  ref = x[:, :2 * h, :2 * w].reshape(2, h, 2, w, 2, 3).mean(axis=(2, 4))
  np.testing.assert_allclose(np.asarray(cs.avg_pool2(jnp.asarray(x))), ref, rtol=1e-6, atol=1e-6)


def test_xla_cpu_options_keep_convolutions_off_ynnpack():
  opts = xla_cpu.eigen_conv_options()
  if jax.default_backend() != "cpu":
    assert opts is None
    return
  if opts is None:
    pytest.skip("this jaxlib's XLA:CPU has no YNNPACK fusion option")
  x, w = jnp.zeros((2, 8, 8, 4)), jnp.zeros((3, 3, 4, 4))
  hlo = jax.jit(cs.conv, compiler_options=opts).lower(x, w).compile().as_text()
  assert "__ynn_fusion" not in hlo


def test_xla_cpu_options_fall_back_when_xla_lacks_them(monkeypatch):
  monkeypatch.setattr(xla_cpu, "EIGEN_CONV_OPTIONS", {"xla_cpu_no_such_option": "1"})
  xla_cpu.eigen_conv_options.cache_clear()
  try:
    assert xla_cpu.eigen_conv_options() is None
  finally:
    xla_cpu.eigen_conv_options.cache_clear()


def test_naswot_score_is_logdet():
  k = np.asarray([[4.0, 1.0], [1.0, 3.0]])
  assert float(probe.naswot_score(jnp.asarray(k))) == pytest.approx(np.log(11.0), rel=1e-6)


# --------------------------------------------------------------------------- evaluator
@pytest.fixture(scope="module")
def evaluator():
  fit = images_lib.synthetic_images(jax.random.key(0), 16, size=16)
  ev = images_lib.synthetic_images(jax.random.key(1), 8, size=16)
  return _probe(fit, ev, candidates_per_call=4, ridges=(0.01, 1.0), weight_seeds=1,
                                   score_by="accuracy", **TINY)


def test_evaluator_batched_equals_loop(evaluator):
  out = evaluator.score_all(CHOSEN[:5])
  p0 = jax.tree.map(lambda a: a[0], jax.device_get(evaluator.params))  # host slices: no compiles
  n_fit = evaluator.num_fit
  for b in range(5):
    f, g = cs.single_forward(p0, evaluator.images, CHOSEN[b], evaluator.config)
    ref = probe.ridge_probe(f[:n_fit], evaluator.fit_y, f[n_fit:], evaluator.eval_y,
                            num_classes=10, ridges=evaluator.settings.ridges)
    np.testing.assert_allclose(out["probe_accuracy_per_ridge"][b], ref["accuracy"], atol=1e-6)
    assert out["probe_accuracy"][b] == pytest.approx(float(np.mean(ref["accuracy"])))
    assert out["naswot"][b] == pytest.approx(float(probe.naswot_score(g)), rel=1e-5)


def test_one_compilation_for_a_sweep(evaluator):
  before = evaluator.num_traces
  enc = SPACE.sample(jax.random.key(5), 11)  # three batches of 4, the last padded
  full = evaluator.score(enc)
  evaluator.score(enc[:3])
  assert evaluator.num_traces - before <= 1
  assert evaluator.num_traces == 1
  # Scores do not depend on batch composition or padding.
  np.testing.assert_allclose(evaluator.score(enc[4:5]), full[4:5])


def test_small_request_buckets_pad_to_powers_of_two():
  fit = images_lib.synthetic_images(jax.random.key(0), 8, size=8)
  kw = dict(candidates_per_call=8, channels=2, naswot_images=0, weight_seeds=1, small_request_buckets=True)
  ev = _probe(fit, fit, **kw)
  enc = SPACE.sample(jax.random.key(6), 11)
  full = ev.score(enc)  # batches of 8, the last padded to 8: one shape
  assert ev.num_traces == 1
  np.testing.assert_allclose(ev.score(enc[:1]), full[:1], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(ev.score(enc[:3]), full[:3], rtol=1e-5, atol=1e-6)  # pads to 4
  ev.score(enc[4:7])  # 4 again: no new shape
  assert ev.num_traces == 3


def test_score_by_picks_and_reduces_the_probe_quality():
  fit = images_lib.synthetic_images(jax.random.key(0), 12, size=8)
  ev = images_lib.synthetic_images(jax.random.key(1), 6, size=8)
  kw = dict(candidates_per_call=3, channels=2, naswot_images=0, ridges=(0.1, 10.0), weight_seeds=1)
  loo = _probe(fit, ev, score_by="loo_neg_mse", ridge_reduce="max", **kw)
  out = loo.score_all(CHOSEN[:3])
  np.testing.assert_allclose(out["score"], -out["loo_mse_per_ridge"].min(axis=1))
  np.testing.assert_allclose(loo.score(CHOSEN[:3]), out["score"])
  acc = _probe(fit, ev, score_by="accuracy", **kw).score_all(CHOSEN[:3])
  np.testing.assert_allclose(acc["score"], acc["probe_accuracy_per_ridge"].mean(axis=1))
  with pytest.raises(errors.ConfigError, match="score_by"):
    _probe(fit, ev, score_by="auc", **kw)


def test_evaluator_defaults_are_the_measured_best_probe():
  # The evaluator's default config is the "quality" preset, the best probe
  # measured on NB201 (docs/rwe.md); checked without building a C=16 network.
  default = inspect.signature(rwe.RandomWeightEvaluator).parameters["config"].default
  assert default == rwe_config.preset("quality") == rwe_config.RWEConfig()
  assert (default.channels, default.batch_norm, default.features, default.kernel_init) == (
      16, "none", "stages_edges", "orthogonal")
  assert (default.weight_seeds, default.combine_seeds, default.score_by, default.ridges) == (
      4, "concat", "loo_neg_mse", (1.0, 3.0, 10.0))
  # A config's fields reach the network and the probe.
  fit = images_lib.synthetic_images(jax.random.key(0), 4, size=8)
  ev = _probe(fit, fit, channels=2, weight_seeds=1, ridges=(0.5,), naswot_images=0)
  assert (ev.config.channels, ev.settings.weight_seeds, ev.settings.ridges) == (2, 1, (0.5,))
  # Presets are configs; an unknown preset or field is one clear error.
  assert rwe_config.preset("speed", channels=4).channels == 4
  with pytest.raises(errors.ConfigError, match="preset"):
    rwe_config.preset("fastest")
  with pytest.raises(errors.ConfigError, match="no field"):
    rwe_config.preset("quality", chanels=4)
  with pytest.raises(errors.ConfigError, match="ridges"):
    rwe_config.RWEConfig(ridges=(0.0,))


@pytest.mark.parametrize("combine", ["concat", "mean"])
def test_weight_seeds_concatenate_features_or_average_scores(combine):
  fit = images_lib.synthetic_images(jax.random.key(0), 12, size=8)
  ev = images_lib.synthetic_images(jax.random.key(1), 6, size=8)
  two = _probe(fit, ev, candidates_per_call=2, weight_seeds=2, channels=2,
                                  naswot_images=0, ridges=(0.1, 1.0), combine_seeds=combine)
  assert jax.tree.leaves(two.params)[0].shape[0] == 2
  out = two.score_all(CHOSEN[:3])
  assert out["probe_accuracy"].shape == (3,) and np.all(out["naswot"] == 0)
  # The oracle: the probe on each draw's features, built one network at a time.
  n_fit = two.num_fit
  singles = jitted(lambda ps, im: [[cs.single_forward(jax.tree.map(lambda a, s=s: a[s], ps), im,
                                                      CHOSEN[b], two.config)[0]
                                     for s in range(2)] for b in range(3)],
                   two.params, two.images)
  for b in range(3):
    draws = singles[b]
    fit_probe = lambda f: probe.ridge_probe(f[:n_fit], two.fit_y, f[n_fit:], two.eval_y,
                                            num_classes=10, ridges=two.settings.ridges)
    if combine == "concat":
      want = fit_probe(jnp.concatenate(draws, axis=-1))["loo_mse"]
    else:
      want = np.mean([fit_probe(f)["loo_mse"] for f in draws], axis=0)
    np.testing.assert_allclose(out["loo_mse_per_ridge"][b], want, rtol=1e-4)
  with pytest.raises(errors.ConfigError, match="combine_seeds"):
    _probe(fit, ev, combine_seeds="max")


def test_evaluator_parallel_candidates_gives_the_same_scores(evaluator):
  fit = images_lib.synthetic_images(jax.random.key(0), 16, size=16)
  ev = images_lib.synthetic_images(jax.random.key(1), 8, size=16)
  grouped = _probe(fit, ev, candidates_per_call=4, ridges=(0.01, 1.0),
                                      weight_seeds=1, score_by="accuracy",
                                      parallel_candidates=2, **TINY)
  assert evaluator.parallel_candidates == 1  # CPU default: one candidate at a time
  np.testing.assert_allclose(grouped.score_all(CHOSEN[:5])["loo_mse_per_ridge"],
                             evaluator.score_all(CHOSEN[:5])["loo_mse_per_ridge"], rtol=1e-4)
  with pytest.raises(errors.ConfigError, match="parallel_candidates"):
    _probe(fit, ev, parallel_candidates=-1)


def test_evaluator_errors(evaluator):
  with pytest.raises(errors.WrongLengthError, match=r"\[N, 6\]"):
    evaluator.score(np.zeros((2, 5), np.int32))
  with pytest.raises(errors.InvalidArchitectureError, match="row 1"):
    evaluator.score(np.asarray([[0] * 6, [0, 0, 7, 0, 0, 0]]))
  fit = images_lib.synthetic_images(jax.random.key(0), 4, size=8)
  with pytest.raises(errors.ConfigError, match="ridge_reduce"):
    _probe(fit, fit, ridge_reduce="median")


# --------------------------------------------------------------------------- end to end
def test_rwe_experiment_end_to_end(tmp_path):
  if paths.images_dir(required=False) is None or paths.data_dir(required=False) is None:
    pytest.skip("needs the shared CIFAR-10 images and the NB201 table")
  from jaxnas.evaluate import rwe_study  # pylint: disable=import-outside-toplevel
  probe = rwe_config.RWEConfig(channels=2, num_stages=2, image_size=8, num_fit_images=20,
                               num_eval_images=10, weight_seeds=2, candidates_per_call=4,
                               naswot_images=4, batch_norm="batch", features="last",
                               ridges=(1.0,))
  res = rwe_study.run(rwe_study.RWEStudyConfig(num_candidates="6", probe=probe), str(tmp_path))
  assert res["num_candidates"] == 6 and res["num_compilations"] == 1
  assert {"probe", "probe_heldout_accuracy", "params_m", "naswot_jaxnas",
          "probe_naswot_vote"} <= set(res)
  assert set(res["probe_kendalltau_per_ridge"]) == set(rwe.SCORE_KINDS)
  for name in ("config.json", "scores.csv", "results.json", "rwe_vs_accuracy.png"):
    assert (tmp_path / name).is_file()
