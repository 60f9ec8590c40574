"""The public API: lazy ``import jaxnas``, ``__all__``, ``py.typed``, unique
sampling, and the NASLib-shaped predictor (fit/query, save/load, streamed top-k)."""

from __future__ import annotations

import importlib
import json
import pathlib
import pkgutil
import subprocess
import sys

import jax
import numpy as np
import pytest
from scipy import stats

import jaxnas
from jaxnas import errors
from jaxnas import models
from jaxnas import spaces
from jaxnas import train
from jaxnas.naslib_adapter import JaxnasPredictor

# Every library module (packages' __init__ re-export their own names).
PUBLIC_MODULES = sorted(
    m.name for m in pkgutil.walk_packages(jaxnas.__path__, "jaxnas.")
    if not m.ispkg or m.name in ("jaxnas.evaluate", "jaxnas.search", "jaxnas.spaces"))


# ------------------------------------------------------------------ package surface
def test_import_jaxnas_is_lazy():
  # A fresh interpreter: importing the package loads neither JAX nor orbax nor
  # the evaluators/searchers; the first use of a name imports what it needs.
  code = """
import sys, jaxnas
heavy = ("jax", "orbax", "flax", "jaxnas.search", "jaxnas.evaluate", "jaxnas.protocol")
print(sorted(m for m in heavy if m in sys.modules))
jaxnas.losses
print("jax" in sys.modules, "orbax" in sys.modules, "jaxnas.search" in sys.modules)
"""
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       cwd=pathlib.Path(jaxnas.__file__).parents[1]).stdout.split("\n")
  assert out[0] == "[]"
  assert out[1] == "True False False"


def test_top_level_names_resolve_like_eager_imports():
  from jaxnas import protocol  # pylint: disable=import-outside-toplevel
  assert jaxnas.__all__ == sorted(jaxnas.__all__)
  for name in jaxnas.__all__:
    assert getattr(jaxnas, name) is not None, name
    assert name in dir(jaxnas)
  assert jaxnas.train_and_evaluate is protocol.train_and_evaluate
  assert jaxnas.metrics is importlib.import_module("jaxnas.metrics")
  from jaxnas import RunConfig, stream_top_k  # pylint: disable=import-outside-toplevel,unused-import
  assert RunConfig is protocol.RunConfig
  with pytest.raises(AttributeError, match="no attribute 'nope'"):
    jaxnas.nope  # pylint: disable=pointless-statement


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_modules_declare_all(name):
  mod = importlib.import_module(name)
  assert list(mod.__all__) == sorted(mod.__all__), name
  for attr in mod.__all__:
    assert hasattr(mod, attr), f"{name}.__all__ names missing {attr!r}"
  # Every public function/class defined in the module is exported.
  defined = {n for n, v in vars(mod).items()
             if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == name}
  assert defined <= set(mod.__all__), sorted(defined - set(mod.__all__))


def test_py_typed_marker_ships():
  root = pathlib.Path(jaxnas.__file__).parent
  assert (root / "py.typed").is_file()
  pyproject = (root.parent / "pyproject.toml").read_text()
  assert '[tool.setuptools.package-data]\n' in pyproject and 'jaxnas = ["py.typed"]' in pyproject


# ------------------------------------------------------------------ unique sampling
@pytest.mark.parametrize("spec, n", [("chain:2:a,b,c", 9), ("chain:2:a,b,c", 4),
                                     ("nb201", 10_000), ("complete_dag:5", 500)])
def test_sample_unique_gives_distinct_valid_archs(spec, n):
  space = spaces.get_space(spec)
  got = space.sample(jax.random.key(0), n, unique=True)
  assert got.shape == (n, space.num_positions) and got.dtype == np.int32
  assert np.all(space.is_valid(got))
  assert len(np.unique(got, axis=0)) == n
  np.testing.assert_array_equal(got, space.sample(jax.random.key(0), n, unique=True))
  if spec == "nb201":  # with replacement, 10,000 draws repeat ~1,600 cells
    assert len(np.unique(space.sample(jax.random.key(0), n), axis=0)) < 0.9 * n


@pytest.mark.parametrize("n", [3, 6])  # 6 of 9: the enumerate-and-permute branch
def test_sample_unique_is_uniform_over_subsets(n):
  space = spaces.get_space("chain:2:a,b,c")  # 9 archs
  counts = np.zeros(9)
  trials = 400
  for t in range(trials):
    got = space.sample(jax.random.key(t), n, unique=True)
    counts[got[:, 0] * 3 + got[:, 1]] += 1
  # Each arch is in a uniform n-subset with probability n/9.
  assert stats.chisquare(counts, np.full(9, trials * n / 9)).pvalue > 1e-3


def test_sample_unique_refuses_more_than_the_space_holds():
  space = spaces.get_space("chain:2:a,b,c")
  with pytest.raises(errors.ConfigError, match="cannot draw 10 distinct architectures from 9"):
    space.sample(jax.random.key(0), 10, unique=True)
  assert space.sample(jax.random.key(0), 0, unique=True).shape == (0, 2)


# ------------------------------------------------------------------ predictor
def _labels(space, enc):
  """A learnable quality: conv ops help, `none` hurts (NB201 op indices)."""
  return (enc == 3).sum(1) + 0.6 * (enc == 2).sum(1) - 0.8 * (enc == 0).sum(1)


@pytest.fixture(scope="module")
def fitted():
  space = spaces.get_space("nb201")
  enc = space.sample(jax.random.key(1), 60, unique=True)
  predictor = JaxnasPredictor(
      "nb201", ensemble_size=2, seed=0,
      model_config=models.ModelConfig(hidden=8, num_layers=1, head_hidden=8, num_tiers=0),
      train_config=train.TrainConfig(num_steps=150, eval_every=50, batch_size=16,
                                     val_fraction=0.0))
  predictor.fit([space.format(e) for e in enc], _labels(space, enc))
  return predictor


def test_predictor_learns_and_accepts_every_arch_form(fitted):
  space = fitted.space
  test = space.sample(jax.random.key(2), 300, unique=True)
  mean, std = fitted.query_with_std(test)
  assert mean.shape == std.shape == (300,) and np.all(std >= 0)
  assert stats.kendalltau(mean, _labels(space, test)).statistic > 0.5
  # Strings, NASLib tuples and int encodings are the same architectures.
  np.testing.assert_allclose(fitted.query([space.to_naslib(e) for e in test[:5]]), mean[:5],
                             rtol=1e-6)
  np.testing.assert_allclose(fitted.query(test[:5]), mean[:5], rtol=1e-6)
  with pytest.raises(errors.ConfigError, match="before querying"):
    JaxnasPredictor("nb201").query(test[:2])


def test_predictor_save_load_round_trip(fitted, tmp_path):
  test = fitted.space.sample(jax.random.key(3), 50)
  fitted.save(str(tmp_path / "ranker"))
  loaded = JaxnasPredictor.load(str(tmp_path / "ranker"))
  assert loaded.ensemble_size == 2 and loaded.space.spec == "nb201"
  for a, b in zip(fitted.query_with_std(test), loaded.query_with_std(test)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
  # The same format experiments.train_ranker writes: its loader reads it.
  meta = json.loads(next((tmp_path / "ranker").glob("*/meta/metadata")).read_text())
  assert meta["space"] == "nb201" and len(meta["score_mean"]) == 7  # 2 + 5 fold members
  assert meta["fold_members"] == 5
  with pytest.raises(errors.ConfigError, match="before querying"):
    JaxnasPredictor("nb201").save(str(tmp_path / "unfitted"))
  with pytest.raises(errors.CheckpointError, match="no exported ranker"):
    JaxnasPredictor.load(str(tmp_path / "missing"))


def test_predictor_top_k_streams_the_whole_space(fitted):
  every = fitted.space.enumerate()
  scores = fitted.query(every)
  top = fitted.top_k(5, chunk_size=4096)
  assert top.num_scored == every.shape[0] and top.encodings.shape == (5, 6)
  np.testing.assert_allclose(top.scores, np.sort(scores)[::-1][:5], rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(fitted.query(top.encodings), top.scores, rtol=1e-5, atol=1e-5)
  sampled = fitted.top_k(3, num_candidates=1000, chunk_size=512, seed=1)
  assert sampled.num_scored == 1000 and sampled.scores.shape == (3,)
