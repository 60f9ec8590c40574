"""NAS-Bench-Graph space and loader, checked against the nas-bench-graph wheel."""

from __future__ import annotations

import io
import os
import pickle

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from jaxnas import errors
from jaxnas.data import table_checks
from jaxnas.spaces import nasbench_graph as ngs


@pytest.fixture(scope="module")
def space():
  return ngs.NasBenchGraphSpace()


@pytest.fixture(scope="module")
def proteins():
  return ngs.NasBenchGraphSpace(proteins=True)


@pytest.fixture(scope="module")
def wheel():
  return pytest.importorskip("nas_bench_graph")


@pytest.fixture(scope="module")
def cora(wheel):
  from jaxnas.data import nasbench_graph  # pylint: disable=import-outside-toplevel
  return nasbench_graph.load_nasbench_graph("cora")


def _all_combinations(space):
  idx = np.arange(space.num_combinations)
  return ((idx[:, None] // space._radix) % space.cardinalities).astype(np.int32)


# ----------------------------------------------------------------- space basics
def test_space_shape(space, proteins):
  assert space.name == "nasbench_graph" and proteins.name == "nasbench_graph_proteins"
  assert space.num_positions == 8 and space.max_nodes == 6
  assert space.cardinalities.tolist() == [1, 2, 3, 4, 9, 9, 9, 9]
  assert proteins.cardinalities.tolist() == [1, 2, 3, 4, 5, 5, 5, 5]
  assert space.num_combinations == 157_464 and proteins.num_combinations == 15_000
  assert space.node_vocab[:2] == ("input", "output") and space.node_vocab[2:] == ngs.GNN_OPS
  assert ngs.NasBenchGraphSpace.tables_are_canonical
  assert space.num_architectures == 26_206 and proteins.num_architectures == 2_021


def test_registry_builds_the_space():
  from jaxnas import spaces  # pylint: disable=import-outside-toplevel
  assert isinstance(spaces.get_space("nasbench_graph"), ngs.NasBenchGraphSpace)
  assert spaces.get_space("nasbench_graph_proteins").proteins


def test_is_valid_excludes_only_all_skip(space, proteins):
  for sp in (space, proteins):
    enc = _all_combinations(sp)
    valid = sp.is_valid(enc)
    all_skip = np.all(enc[:, 4:] == sp.skip_index, axis=1)
    np.testing.assert_array_equal(valid, ~all_skip)
    assert sp.decode_index(np.arange(sp.num_combinations)).shape[0] == valid.sum()
  bad = np.array([[1, 0, 0, 0, 0, 0, 0, 0], [0, 2, 0, 0, 0, 0, 0, 0], [0, 0, 0, 4, 0, 0, 0, 0],
                  [0, 0, 0, 0, 9, 0, 0, 0], [0, 0, 0, 0, -1, 0, 0, 0]])
  assert not space.is_valid(bad).any()
  assert not proteins.is_valid(np.array([[0, 0, 0, 0, 5, 0, 0, 0]]))[0]


# ----------------------------------------------------------------- wheel keys
def _wheel_hash(wheel, space, enc):
  from nas_bench_graph.architecture import Arch  # pylint: disable=import-outside-toplevel
  return Arch([int(v) for v in enc[:4]], [space.ops[int(v)] for v in enc[4:]]).valid_hash()


def test_keys_match_valid_hash_on_random_combinations(space, proteins, wheel):
  rng = np.random.default_rng(0)
  for sp in (space, proteins):
    enc = _all_combinations(sp)[rng.choice(sp.num_combinations, 3000, replace=False)]
    enc = enc[sp.is_valid(enc)]
    want = np.array([_wheel_hash(wheel, sp, e) for e in enc])
    np.testing.assert_array_equal(sp.wheel_keys(enc), want)


def test_keys_match_valid_hash_exhaustively(space, wheel):
  # The canonicalisation is reimplemented: check every link/op combination.
  from nas_bench_graph.architecture import Arch  # pylint: disable=import-outside-toplevel
  enc = _all_combinations(space)
  want = np.array([Arch(e[:4].tolist(), [ngs.GNN_OPS[v] for v in e[4:]]).valid_hash()
                   for e in enc])
  np.testing.assert_array_equal(ngs.wheel_valid_hash(enc[:, :4], enc[:, 4:]), want)
  assert set(want[want != ngs.ALL_SKIP_KEY].tolist()) == set(space._distinct[0].tolist())


def test_wheel_key_round_trip(space, proteins):
  for sp in (space, proteins):
    keys, enc = sp._distinct
    np.testing.assert_array_equal(sp.wheel_keys(enc), keys)
    np.testing.assert_array_equal(sp.from_wheel_keys(keys), enc)
    for k in keys[:: max(1, keys.size // 50)].tolist():
      assert sp.to_wheel_key(sp.from_wheel_key(k)) == k
      assert sp.canonical_id(sp.from_wheel_key(k)) == str(k)


@pytest.mark.parametrize("key", [ngs.ALL_SKIP_KEY, 10, 9, 10009, -1, 100000, 2**40])
def test_unknown_wheel_keys(space, key):
  with pytest.raises(errors.OutOfDomainError, match=str(key)):
    space.from_wheel_key(key)


def test_wheel_key_type_errors(space, proteins):
  with pytest.raises(errors.InvalidArchitectureError):
    space.from_wheel_key("1111")
  with pytest.raises(errors.InvalidArchitectureError):
    space.from_wheel_key(True)
  with pytest.raises(errors.OutOfDomainError):
    proteins.from_wheel_key(0)  # all gat: not trained on proteins


def test_isomorphic_archs_share_id_and_row(space, cora):
  pairs = [
      ("0,0,0,0:gcn,gat,gin,sage", "0,0,0,0:sage,gin,gat,gcn"),  # four parallel ops
      ("0,0,0,1:gcn,gat,gin,fc", "0,0,0,2:gat,gcn,gin,fc"),  # which sibling feeds fc
      ("0,0,1,2:gcn,gat,arma,fc", "0,0,1,2:gat,gcn,fc,arma"),  # two swapped chains
      ("0,1,2,3:skip,gcn,gat,fc", "0,1,2,3:gcn,skip,gat,fc"),  # skip inside a chain
  ]
  for a, b in pairs:
    ea, eb = space.parse(a), space.parse(b)
    assert not np.array_equal(ea, eb)
    assert space.canonical_id(ea) == space.canonical_id(eb), (a, b)
    assert cora.row(a) == cora.row(b)
    np.testing.assert_array_equal(space.canonicalize(ea[None]), space.canonicalize(eb[None]))
  assert space.canonical_id(space.parse(pairs[0][0])) != space.canonical_id(
      space.parse("0,0,0,0:gcn,gat,gin,fc"))


def test_canonical_ids_batch(space):
  enc = space.sample(jax.random.key(3), 64)
  assert space.canonical_ids(enc) == [space.canonical_id(e) for e in enc]
  with pytest.raises(errors.OutOfDomainError):
    space.canonical_ids(np.array([[0, 0, 0, 0, 8, 8, 8, 8]]))


def test_check_table_flags_isomorphic_duplicates(space):
  with pytest.raises(errors.BenchmarkDataError, match="isomorphic"):
    table_checks.check_table(
        space, ["0,0,0,0:gcn,gat,gin,sage", "0,0,0,0:sage,gin,gat,gcn"],
        {"perf": ["0.5", "0.6"]}, source="t.csv")


# ----------------------------------------------------------------- string form
def test_parse_format_round_trip(space, proteins):
  text = "0,0,1,2:gcn,gat,skip,fc"
  enc = space.parse(text)
  np.testing.assert_array_equal(enc, [0, 0, 1, 2, 1, 0, 8, 7])
  assert space.format(enc) == text
  assert space.parse(" 0, 0,1 ,2 : gcn, gat,skip,fc ").tolist() == enc.tolist()
  for sp in (space, proteins):
    enc = np.concatenate([sp.enumerate()[::97], sp.decode_index(np.arange(0, sp.num_combinations, 101))])
    strings = sp.format_many(enc)
    np.testing.assert_array_equal(sp.parse_many(strings), enc)
  assert space.to_link_ops(space.parse(text)) == ([0, 0, 1, 2], ["gcn", "gat", "skip", "fc"])


@pytest.mark.parametrize("text, error, fragment", [
    ("0,0,1,2", errors.InvalidArchitectureError, "links:ops"),
    ("0,0,1,2:gcn:gat", errors.InvalidArchitectureError, "links:ops"),
    ("0,0,1:gcn,gat,skip,fc", errors.WrongLengthError, "3 links"),
    ("0,0,1,2,3:gcn,gat,skip,fc", errors.WrongLengthError, "5 links"),
    ("0,0,1,2:gcn,gat,skip", errors.WrongLengthError, "3 ops"),
    ("0,0,1,2:gcn,gat,conv,fc", errors.UnknownOpError, "'conv' at op position 2"),
    ("0,0,3,2:gcn,gat,skip,fc", errors.InvalidArchitectureError, "link 2"),
    ("1,0,1,2:gcn,gat,skip,fc", errors.InvalidArchitectureError, "link 0"),
    ("0,-1,1,2:gcn,gat,skip,fc", errors.InvalidArchitectureError, "link 1"),
    ("0,a,1,2:gcn,gat,skip,fc", errors.InvalidArchitectureError, "link 1"),
    ("0,0,1,2:skip,skip,skip,skip", errors.OutOfDomainError, "all-skip"),
])
def test_parse_errors(space, text, error, fragment):
  with pytest.raises(error, match=fragment):
    space.parse(text)


def test_proteins_rejects_ops_it_did_not_train(proteins):
  with pytest.raises(errors.UnknownOpError, match="proteins"):
    proteins.parse("0,0,1,2:gcn,gat,skip,fc")
  assert proteins.format(proteins.parse("0,0,1,2:gcn,sage,skip,fc")) == "0,0,1,2:gcn,sage,skip,fc"


def test_validate_errors(space):
  with pytest.raises(errors.WrongLengthError):
    space.validate(np.zeros(7, np.int32))
  with pytest.raises(errors.UnknownOpError, match="op position 1"):
    space.validate(np.array([0, 0, 0, 0, 0, 9, 0, 0]))
  with pytest.raises(errors.InvalidArchitectureError, match="link 3"):
    space.validate(np.array([0, 0, 0, 4, 0, 0, 0, 0]))
  with pytest.raises(errors.InvalidArchitectureError, match="integers"):
    space.validate(np.zeros(8))
  with pytest.raises(errors.InvalidArchitectureError):
    space.parse(12)
  # The all-skip cell is invalid but can still be named in messages.
  assert space.format(np.array([0, 0, 0, 0, 8, 8, 8, 8])) == "0,0,0,0:skip,skip,skip,skip"


_OPS_AND_JUNK = st.sampled_from(list(ngs.GNN_OPS) + ["", " ", "GCN", "conv", "skip ", "ⅷ"])
_LINKS_AND_JUNK = st.sampled_from(["0", "1", "2", "3", "4", "-1", "", "²", "١", "+1", "00", "9" * 30])


@st.composite
def _near_misses(draw):
  links = draw(st.lists(_LINKS_AND_JUNK, min_size=0, max_size=6))
  ops = draw(st.lists(_OPS_AND_JUNK, min_size=0, max_size=6))
  sep = draw(st.sampled_from([":", "::", ",", ";", ""]))
  return ",".join(links) + sep + ",".join(ops)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="0123,:gcnatskipf "), _near_misses()))
def test_random_strings_raise_only_architecture_errors(text):
  space = ngs.NasBenchGraphSpace()
  try:
    enc = space.parse(text)
  except errors.InvalidArchitectureError:
    return
  assert space.is_valid(enc[None])[0]
  assert space.parse(space.format(enc)).tolist() == enc.tolist()


# ----------------------------------------------------------------- sampling
def test_sample_mutate_neighbours(space, proteins):
  for sp in (space, proteins):
    enc = sp.sample(jax.random.key(0), 300)
    assert enc.shape == (300, 8) and enc.dtype == np.int32
    assert sp.is_valid(enc).all()
    np.testing.assert_array_equal(sp.canonicalize(enc), enc)  # canonical representatives
    assert np.unique(sp.wheel_keys(enc)).size > 250  # uniform over 26k / 2k classes
    mut = sp.mutate(jax.random.key(1), enc)
    assert sp.is_valid(mut).all()
    assert (sp.wheel_keys(mut) != sp.wheel_keys(enc)).all()
    assert (np.sum(mut != enc, axis=1) == 1).all()
    nb = sp.neighbours(enc[0])
    keys = sp.wheel_keys(nb)
    assert nb.shape[0] > 0 and np.unique(keys).size == keys.size
    assert sp.wheel_keys(enc[:1])[0] not in keys
  np.testing.assert_array_equal(space.sample(jax.random.key(5), 10),
                                space.sample(jax.random.key(5), 10))


def test_enumerate_is_one_row_per_architecture(space):
  enc = space.enumerate()
  assert enc.shape == (26_206, 8)
  assert np.unique(space.wheel_keys(enc)).size == 26_206


# ----------------------------------------------------------------- graphs
def test_to_graphs(space):
  g = space.to_graphs(space.parse("0,0,1,2:gcn,gat,skip,fc")[None])
  assert g.node_ops.shape == (1, 6) and g.adjacency.shape == (1, 6, 6)
  assert g.node_mask.all()
  names = [space.node_vocab[i] for i in g.node_ops[0]]
  assert names == ["input", "gcn", "gat", "skip", "fc", "output"]
  edges = sorted(zip(*np.nonzero(g.adjacency[0])))
  # op0, op1 <- input; op2 <- op0; op3 <- op1; leaves op2, op3 -> output.
  assert edges == [(0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 5)]

  enc = space.sample(jax.random.key(2), 500)
  g = space.to_graphs(enc)
  assert g.node_ops.shape == (500, 6) and g.adjacency.shape == (500, 6, 6)
  adj = g.adjacency
  assert not (adj & np.tril(np.ones((6, 6), bool))).any()  # edges only go forward: a DAG
  np.testing.assert_array_equal(adj[:, :, 1:5].sum(axis=1), 1)  # one input per op
  assert (adj[:, :, 5].sum(axis=1) >= 1).all()
  assert not adj[:, 5].any() and not adj[:, :, 0].any()
  # Every op feeds another op or the output.
  assert (adj[:, 1:5].sum(axis=2) >= 1).all()


# ----------------------------------------------------------------- loader
def test_cora_table(cora, wheel):
  from nas_bench_graph import light_read  # pylint: disable=import-outside-toplevel
  raw = light_read("cora")
  assert len(cora) == 26_206 == len(raw)
  assert cora.name == "nasbench_graph:cora"
  assert cora.columns == ["perf", "valid_perf", "latency", "params_m"]
  assert sorted(raw) == cora.index.tolist()
  np.testing.assert_array_equal(cora.space.wheel_keys(cora.encodings), cora.index)
  for r in range(0, len(cora), 997):
    entry = raw[int(cora.index[r])]
    assert cora.metric("perf")[r] == entry["perf"]
    assert cora.metric("valid_perf")[r] == entry["valid_perf"]
    assert cora.metric("latency")[r] == entry["latency"]
    assert cora.metric("params_m")[r] == entry["para"]
  from nas_bench_graph.architecture import Arch  # pylint: disable=import-outside-toplevel
  key = Arch([0, 0, 1, 2], ["gcn", "gat", "skip", "fc"]).valid_hash()
  assert cora.lookup("0,0,1,2:gcn,gat,skip,fc", "perf") == raw[key]["perf"]


def test_rows_resolve_non_canonical_encodings(cora):
  space = cora.space
  enc = space.mutate(jax.random.key(7), space.sample(jax.random.key(6), 200))
  np.testing.assert_array_equal(cora.rows(enc), cora.rows(space.canonicalize(enc)))


def test_loader_is_cached_and_registered(cora):
  from jaxnas.data import nasbench_graph  # pylint: disable=import-outside-toplevel
  from jaxnas.data import registry  # pylint: disable=import-outside-toplevel
  assert nasbench_graph.load_nasbench_graph("cora") is cora
  assert nasbench_graph.load_nasbench_graph(" Cora") is cora
  assert registry.load_benchmark("nasbench_graph:cora") is cora
  assert registry.default_target("nasbench_graph:cora") in cora.columns


def test_proteins_table(wheel):
  from jaxnas.data import nasbench_graph  # pylint: disable=import-outside-toplevel
  b = nasbench_graph.load_nasbench_graph("proteins")
  assert len(b) == 2_021 and b.space.proteins
  assert np.isfinite(b.metric("perf")).all()
  assert b.lookup("0,0,0,0:gcn,gcn,gcn,gcn", "perf") > 0


def test_loader_errors(wheel, monkeypatch):
  from jaxnas.data import nasbench_graph  # pylint: disable=import-outside-toplevel
  with pytest.raises(errors.ConfigError, match="citeseer"):
    nasbench_graph.load_nasbench_graph("imagenet")
  with pytest.raises(errors.ConfigError):
    nasbench_graph.load_nasbench_graph(None)
  real = nasbench_graph.importlib.util.find_spec
  monkeypatch.setattr(nasbench_graph.importlib.util, "find_spec",
                      lambda name, *a: None if name == "nas_bench_graph" else real(name, *a))
  with pytest.raises(errors.ConfigError, match="pip install nas-bench-graph"):
    nasbench_graph.load_nasbench_graph("cora")


def test_unpickler_refuses_other_globals():
  from jaxnas.data import nasbench_graph  # pylint: disable=import-outside-toplevel
  payload = pickle.dumps({0: os.getcwd})
  with pytest.raises(errors.BenchmarkDataError, match="refusing"):
    nasbench_graph._NumpyScalarUnpickler(io.BytesIO(payload)).load()
  ok = pickle.dumps({0: {"para": np.float64(1.5)}})
  assert nasbench_graph._NumpyScalarUnpickler(io.BytesIO(ok)).load() == {0: {"para": 1.5}}


def test_sample_unique_draws_distinct_architectures(space):
  got = space.sample(jax.random.key(0), 2000, unique=True)
  assert len(np.unique(got, axis=0)) == 2000  # canonical encodings: one per class
  np.testing.assert_array_equal(got, space.sample(jax.random.key(0), 2000, unique=True))
  # With replacement, 2,000 draws of the 26,206 classes repeat some (~75 expected).
  dup = space.sample(jax.random.key(0), 2000)
  assert len(np.unique(dup, axis=0)) < 2000
  with pytest.raises(errors.ConfigError, match="distinct"):
    space.sample(jax.random.key(0), 10**6, unique=True)
