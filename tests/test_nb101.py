"""Tests of the NAS-Bench-101 space (jaxnas.spaces.nb101) and loader (jaxnas.data.nb101)."""

from __future__ import annotations

import itertools
import json
import logging

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from jaxnas import errors
from jaxnas.data import nb101 as nb101_data
from jaxnas.data import paths
from jaxnas.data import registry
from jaxnas.data import table_checks
from jaxnas.spaces import get_space
from jaxnas.spaces import graph_hash
from jaxnas.spaces import nb101

SPACE = nb101.NB101Space()
C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"

# The Inception-like cell of the nasbench README (9 edges, nothing to prune).
README_MATRIX = [[0, 1, 1, 1, 0, 1, 0],
                 [0, 0, 0, 0, 0, 0, 1],
                 [0, 0, 0, 0, 0, 0, 1],
                 [0, 0, 0, 0, 1, 0, 0],
                 [0, 0, 0, 0, 0, 0, 1],
                 [0, 0, 0, 0, 0, 0, 1],
                 [0, 0, 0, 0, 0, 0, 0]]
README_OPS = ["input", C1, C3, C3, C3, MP, "output"]
README_STRING = ("0111010,0000001,0000001,0000100,0000001,0000001,0000000:"
                 "input,conv1x1-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,"
                 "maxpool3x3,output")
# The same cell as the official API stores it (vertices in another order), as
# printed by `nasbench.query` in the README's usage example.
README_STORED_MATRIX = [[0, 1, 1, 1, 1, 0, 0],
                        [0, 0, 0, 0, 0, 0, 1],
                        [0, 0, 0, 0, 0, 0, 1],
                        [0, 0, 0, 0, 0, 0, 1],
                        [0, 0, 0, 0, 0, 1, 0],
                        [0, 0, 0, 0, 0, 0, 1],
                        [0, 0, 0, 0, 0, 0, 0]]
README_STORED_OPS = ["input", C3, C1, MP, C3, C3, "output"]
# Its official module hash (the key of its rows in the NB101 dataset).
README_HASH = "28cfc7874f6d200472e1a9dcd8650aa0"


def _random_encodings(seed: int, n: int) -> np.ndarray:
  rng = np.random.default_rng(seed)
  return rng.integers(0, SPACE.cardinalities, size=(n, SPACE.num_positions)).astype(np.int32)


def _random_topological_relabel(matrix: np.ndarray, ops: list[str],
                                rng) -> tuple[np.ndarray, list[str]]:
  """An isomorphic spec: intermediate vertices in a random topological order."""
  v = matrix.shape[0]
  placed: list[int] = [0]
  while len(placed) < v - 1:
    ready = [u for u in range(1, v - 1) if u not in placed
             and all(w in placed for w in np.nonzero(matrix[:, u])[0])]
    placed.append(int(rng.choice(ready)))
  order = np.asarray(placed + [v - 1])
  return matrix[np.ix_(order, order)], [ops[k] for k in order]


# ------------------------------------------------------------------ encoding / strings
def test_space_shape_and_registry():
  assert SPACE.name == "nb101"
  assert SPACE.num_positions == 26
  assert SPACE.cardinalities.tolist() == [2] * 21 + [3] * 5
  assert SPACE.tables_are_canonical
  assert isinstance(get_space("nb101"), nb101.NB101Space)


def test_readme_cell_round_trip():
  enc = SPACE.from_spec(README_MATRIX, README_OPS)
  assert SPACE.format(enc) == README_STRING
  assert np.array_equal(SPACE.parse(README_STRING), enc)
  matrix, ops = SPACE.to_spec(enc)
  assert np.array_equal(matrix, README_MATRIX)
  assert ops == README_OPS


def test_parse_json_and_aliases_match_string_form():
  enc = SPACE.parse(README_STRING)
  as_json = json.dumps({"matrix": README_MATRIX, "ops": README_OPS})
  assert np.array_equal(SPACE.parse(as_json), enc)
  short = README_STRING.split(":")[0] + ":input,conv1x1,conv3x3,conv3x3,conv3x3,maxpool,output"
  assert np.array_equal(SPACE.parse(short), enc)


def test_format_parse_round_trip_on_samples():
  enc = SPACE.sample(jax.random.key(3), 200)
  for e in enc:
    text = SPACE.format(e)
    back = SPACE.parse(text)
    assert SPACE.format(back) == text
    assert SPACE.canonical_id(back) == SPACE.canonical_id(e)
    # parse gives the pruned embedding, so it is a fixed point of to_spec/from_spec.
    assert np.array_equal(SPACE.from_spec(*SPACE.to_spec(back)), back)


def test_smaller_spec_is_embedded_with_output_last():
  enc = SPACE.from_spec([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", MP, "output"])
  full = np.zeros((7, 7), int)
  full[0, 1] = full[1, 6] = 1
  assert np.array_equal(enc[:21], full[np.triu_indices(7, 1)])
  assert enc[21] == nb101.NB101_OPS.index(MP)
  assert SPACE.format(enc) == "010,001,000:input,maxpool3x3,output"


# ------------------------------------------------------------------ pruning
def test_readme_cell_needs_no_pruning():
  matrix, ops = nb101.prune_spec(README_MATRIX, README_OPS)
  assert np.array_equal(matrix, README_MATRIX) and ops == README_OPS


@pytest.mark.parametrize("matrix,ops,want_matrix,want_ops", [
    # Vertex 2 is fed by the input but feeds nothing (dangling).
    ([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]], ["input", C1, C3, "output"],
     [[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", C1, "output"]),
    # Vertex 1 feeds the output but is not fed by the input.
    ([[0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", C1, C3, "output"],
     [[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", C3, "output"]),
    # An island (2 -> 3) besides the path 0 -> 1 -> 4 (nasbench's test_prune_islands).
    ([[0, 1, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
     ["input", MP, C3, C1, "output"], [[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", MP, "output"]),
])
def test_pruning_removes_vertices_off_the_path(matrix, ops, want_matrix, want_ops):
  got_matrix, got_ops = nb101.prune_spec(matrix, ops)
  assert np.array_equal(got_matrix, want_matrix)
  assert got_ops == want_ops
  enc = SPACE.from_spec(matrix, ops)
  assert np.array_equal(SPACE.to_spec(enc)[0], want_matrix)
  assert SPACE.canonical_id(enc) == SPACE.canonical_id(SPACE.from_spec(want_matrix, want_ops))


def test_dangling_vertices_do_not_count_towards_the_edge_limit():
  # 0->1->6 plus a dangling vertex 2 with 9 more edges: valid after pruning.
  m = np.zeros((7, 7), int)
  m[0, 1] = m[1, 6] = 1
  m[0, 2] = 1
  m[2, 3] = m[2, 4] = m[2, 5] = m[3, 4] = m[3, 5] = m[4, 5] = m[1, 2] = m[1, 3] = 1
  assert m.sum() > 9
  enc = SPACE.from_spec(m, ["input", C3, C3, C3, C3, C3, "output"])
  assert SPACE.format(enc) == "010,001,000:input,conv3x3-bn-relu,output"


# ------------------------------------------------------------------ hashing
def test_canonical_id_is_the_official_hash():
  enc = SPACE.from_spec(README_MATRIX, README_OPS)
  assert SPACE.canonical_id(enc) == README_HASH
  stored = SPACE.from_spec(README_STORED_MATRIX, README_STORED_OPS)
  assert not np.array_equal(stored, enc)
  assert SPACE.canonical_id(stored) == README_HASH


def test_canonical_id_follows_nasbench_labels():
  enc = SPACE.sample(jax.random.key(5), 20)
  for e in enc:
    matrix, ops = SPACE.to_spec(e)
    labels = [-1] + [[C3, C1, MP].index(o) for o in ops[1:-1]] + [-2]
    assert SPACE.canonical_id(e) == graph_hash.hash_module(matrix, labels)


def test_isomorphic_specs_share_an_id():
  rng = np.random.default_rng(0)
  enc = SPACE.sample(jax.random.key(1), 60)
  relabelled = 0
  for e in enc:
    matrix, ops = SPACE.to_spec(e)
    pm, pops = _random_topological_relabel(matrix, ops, rng)
    other = SPACE.from_spec(pm, pops)
    relabelled += not np.array_equal(other, SPACE.from_spec(matrix, ops))
    assert SPACE.canonical_id(other) == SPACE.canonical_id(e)
  assert relabelled > 10  # the test really permuted vertices


def test_non_isomorphic_specs_differ():
  base_id = SPACE.canonical_id(SPACE.from_spec(README_MATRIX, README_OPS))
  other_op = list(README_OPS)
  other_op[5] = C3  # maxpool -> conv3x3
  assert SPACE.canonical_id(SPACE.from_spec(README_MATRIX, other_op)) != base_id
  other_edge = np.array(README_MATRIX)
  other_edge[1, 6], other_edge[1, 4] = 0, 1  # 1x1 conv now feeds the second 3x3 conv
  assert SPACE.canonical_id(SPACE.from_spec(other_edge, README_OPS)) != base_id


def _brute_force_canonical_form(matrix: np.ndarray, ops: list[str]) -> tuple:
  """Smallest (matrix, ops) over all relabellings of the intermediate vertices."""
  v = matrix.shape[0]
  best = None
  for perm in itertools.permutations(range(1, v - 1)):
    order = [0, *perm, v - 1]
    form = (matrix[np.ix_(order, order)].tobytes(), tuple(ops[k] for k in order))
    best = form if best is None or form < best else best
  return best


def test_canonical_id_classes_are_isomorphism_classes():
  # Same id <=> isomorphic, checked by brute force on the distinct sampled cells.
  enc = SPACE.sample(jax.random.key(2), 300)
  ids, forms = {}, {}
  for e in enc:
    spec = SPACE.to_spec(e)
    ids[SPACE.format(e)] = SPACE.canonical_id(e)
    forms[SPACE.format(e)] = _brute_force_canonical_form(*spec)
  strings = sorted(ids)
  by_id = {frozenset(s for s in strings if ids[s] == ids[t]) for t in strings}
  by_form = {frozenset(s for s in strings if forms[s] == forms[t]) for t in strings}
  assert by_id == by_form
  assert len(by_id) > 100 and len(by_id) < len(strings)  # some classes have several strings


# ------------------------------------------------------------------ validation errors
def _seven(**edges):
  m = np.zeros((7, 7), int)
  for (i, j) in edges.get("e", []):
    m[i, j] = 1
  return m


CHAIN = _seven(e=[(0, 1), (1, 6)])
OPS7 = ["input", C3, C3, C3, C3, C3, "output"]


@pytest.mark.parametrize("matrix,ops,error,words", [
    (CHAIN, ["input", C3, "conv5x5", C3, C3, C3, "output"], errors.UnknownOpError,
     ["'conv5x5'", "vertex 2"]),
    (CHAIN, ["input", 1, C3, C3, C3, C3, "output"], errors.UnknownOpError, ["vertex 1"]),
    (CHAIN[:, :6], OPS7, errors.WrongLengthError, ["square", "(7, 6)"]),
    (CHAIN, OPS7[:-1], errors.WrongLengthError, ["6 ops", "7 vertices"]),
    ([[0]], ["input"], errors.WrongLengthError, ["1 vertices"]),
    ([[0, 1], [1, 0]], ["input", "output"], errors.CycleError, ["1->0", "upper-triangular"]),
    ([[1, 1], [0, 0]], ["input", "output"], errors.CycleError, ["0->0"]),
    (_seven(e=[(0, 1), (2, 6)]), OPS7, errors.DisconnectedError, ["not reachable"]),
    (np.zeros((7, 7), int), OPS7, errors.DisconnectedError, ["not reachable"]),
    (_seven(e=[(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 6), (2, 6), (3, 6), (4, 6), (5, 6)]),
     OPS7, errors.TooManyEdgesError, ["10 edges", "at most 9"]),
    (np.eye(8, k=1, dtype=int), ["input"] + [C3] * 6 + ["output"], errors.TooManyEdgesError,
     ["8 vertices", "at most 7"]),
    (CHAIN, [C3] * 6 + ["output"], errors.InvalidArchitectureError, ["first op", "'input'"]),
    (CHAIN, OPS7[:-1] + [C3], errors.InvalidArchitectureError, ["last op", "'output'"]),
    (CHAIN, ["input", "output", C3, C3, C3, C3, "output"], errors.InvalidArchitectureError,
     ["vertex 1", "'output'"]),
    ([[0, 2], [0, 0]], ["input", "output"], errors.InvalidArchitectureError, ["[0, 1]", "0 or 1"]),
    ([[0, "a"], [0, 0]], ["input", "output"], errors.InvalidArchitectureError, ["0 or 1"]),
    ([[0, 1], [0]], ["input", "output"], errors.WrongLengthError, ["rectangular"]),
])
def test_validation_errors_name_the_problem(matrix, ops, error, words):
  with pytest.raises(error) as info:
    SPACE.from_spec(matrix, ops)
  for w in words:
    assert w in str(info.value), (w, str(info.value))


@pytest.mark.parametrize("text,error,words", [
    ("0111", errors.InvalidArchitectureError, ["rows:ops"]),
    ("01,0x:input,output", errors.InvalidArchitectureError, ["row 1", "'0x'"]),
    ("01,000:input,output", errors.WrongLengthError, ["row 1", "square"]),
    ("01,00:input,conv7x7,output", errors.WrongLengthError, ["3 ops", "2 vertices"]),
    ("01,00:input,outptu", errors.UnknownOpError, ["'outptu'", "vertex 1"]),
    ("00,00:input,output", errors.DisconnectedError, ["not reachable"]),
    ('{"matrix": [[0, 1], [0, 0]]}', errors.InvalidArchitectureError, ["'ops'"]),
    ('{"matrix": [[0, 1], [0, 0]], "ops": ', errors.InvalidArchitectureError, ["JSON"]),
])
def test_parse_errors_name_the_problem(text, error, words):
  with pytest.raises(error) as info:
    SPACE.parse(text)
  for w in words:
    assert w in str(info.value), (w, str(info.value))


def test_validate_rejects_invalid_encodings():
  with pytest.raises(errors.WrongLengthError):
    SPACE.validate(np.zeros(25, np.int32))
  with pytest.raises(errors.InvalidArchitectureError, match="position 21"):
    SPACE.validate(np.r_[np.ones(21), [3, 0, 0, 0, 0]].astype(np.int32))
  with pytest.raises(errors.DisconnectedError):
    SPACE.validate(np.zeros(26, np.int32))
  with pytest.raises(errors.TooManyEdgesError, match="21 edges"):
    SPACE.format(np.r_[np.ones(21), np.zeros(5)].astype(np.int32))


# ------------------------------------------------------------------ is_valid / sampling
def test_is_valid_matches_validate_row_by_row():
  enc = _random_encodings(0, 400)
  enc[:5, 22] = 3  # out of range
  enc[5:10, 3] = -1
  got = SPACE.is_valid(enc)
  want = []
  for e in enc:
    try:
      SPACE.validate(e)
      want.append(True)
    except errors.InvalidArchitectureError:
      want.append(False)
  assert got.tolist() == want
  assert 0 < got.sum() < len(got)
  assert SPACE.is_valid(np.zeros((0, 26), np.int32)).shape == (0,)


def test_is_valid_agrees_with_pruning_a_spec():
  for e in _random_encodings(1, 200):
    m = np.zeros((7, 7), int)
    m[np.triu_indices(7, 1)] = e[:21]
    ops = ["input"] + [nb101.NB101_OPS[o] for o in e[21:]] + ["output"]
    try:
      nb101.prune_spec(m, ops)
      ok = True
    except errors.InvalidArchitectureError:
      ok = False
    assert SPACE.is_valid(e[None])[0] == ok


def test_sample_is_valid_and_deterministic():
  a = SPACE.sample(jax.random.key(7), 64)
  b = SPACE.sample(jax.random.key(7), 64)
  c = SPACE.sample(jax.random.key(8), 64)
  assert a.shape == (64, 26) and a.dtype == np.int32
  assert SPACE.is_valid(a).all()
  assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_mutate_and_neighbours_are_valid_and_deterministic():
  enc = SPACE.sample(jax.random.key(0), 32)
  m1 = SPACE.mutate(jax.random.key(1), enc)
  m2 = SPACE.mutate(jax.random.key(1), enc)
  assert np.array_equal(m1, m2)
  assert SPACE.is_valid(m1).all()
  # Exactly one position changed per row.
  assert np.all(np.sum(m1 != enc, axis=1) == 1)
  nb = SPACE.neighbours(enc[0])
  assert nb.shape[1] == 26 and len(nb) > 0
  assert SPACE.is_valid(nb).all()
  assert np.all(np.sum(nb != enc[0], axis=1) == 1)


# ------------------------------------------------------------------ graphs
def test_to_graphs_readme_cell():
  g = SPACE.to_graphs(SPACE.from_spec(README_MATRIX, README_OPS)[None])
  assert g.node_ops.shape == (1, 7) and g.node_mask.shape == (1, 7)
  assert g.adjacency.shape == (1, 7, 7)
  assert g.node_mask.all()
  assert np.array_equal(g.adjacency[0], np.array(README_MATRIX, bool))
  assert [SPACE.node_vocab[k] for k in g.node_ops[0]] == README_OPS


def test_to_graphs_masks_pruned_vertices():
  # 0 -> 1 -> 6 with vertex 2 dangling off the input.
  m = _seven(e=[(0, 1), (1, 6), (0, 2)])
  raw = np.zeros(26, np.int32)
  raw[:21] = m[np.triu_indices(7, 1)]
  raw[21:] = [2, 1, 0, 0, 0]  # vertex 1 maxpool, vertex 2 conv1x1
  enc = np.stack([raw, SPACE.from_spec(README_MATRIX, README_OPS)])
  g = SPACE.to_graphs(enc)
  assert g.batch_size == 2 and g.max_nodes == 7
  assert g.node_mask[0].tolist() == [True, True, False, False, False, False, True]
  assert g.node_ops[0].tolist() == [0, SPACE.node_vocab.index(MP), 0, 0, 0, 0, 1]
  want = np.zeros((7, 7), bool)
  want[0, 1] = want[1, 6] = True
  assert np.array_equal(g.adjacency[0], want)
  # Edges only between existing nodes, across a random batch.
  g = SPACE.to_graphs(SPACE.sample(jax.random.key(4), 50))
  assert not np.any(g.adjacency & ~(g.node_mask[:, :, None] & g.node_mask[:, None, :]))
  assert np.all(g.adjacency.sum(axis=(1, 2)) <= 9)
  assert np.all(g.node_ops[~g.node_mask] == 0)


# ------------------------------------------------------------------ loader (small files)
def _write_jsonl(path, specs, accs=None, extra_lines=()):
  lines = []
  for k, (matrix, ops) in enumerate(specs):
    acc = 90.0 + k if accs is None else accs[k]
    lines.append(json.dumps({"matrix": np.asarray(matrix).tolist(), "ops": ops,
                             "val_accuracy": acc, "params": 1.5 + k}))
  lines.extend(extra_lines)
  path.write_text("\n".join(lines) + "\n")
  return path


def test_loader_reads_prunes_and_drops_duplicates(tmp_path, caplog):
  specs = [(README_MATRIX, README_OPS),
           (README_STORED_MATRIX, README_STORED_OPS),  # isomorphic to row 1
           ([[0, 1], [0, 0]], ["input", "output"]),
           (_seven(e=[(0, 6), (2, 3)]), OPS7)]  # prunes to row 3's cell
  path = _write_jsonl(tmp_path / "t.jsonl", specs)
  with caplog.at_level(logging.WARNING):
    bench = nb101_data.load_nb101(path=path)
  assert len(bench) == 2
  assert bench.index.tolist() == [0, 2]
  assert bench.metric("val_accuracy").tolist() == [90.0, 92.0]
  assert bench.columns == ["val_accuracy", "params"]
  assert "1 duplicate" in caplog.text and "1 isomorphic duplicate" in caplog.text
  # Lookup of an isomorphic (unpruned) variant finds the kept row.
  assert bench.row(json.dumps({"matrix": README_STORED_MATRIX, "ops": README_STORED_OPS})) == 0
  with pytest.raises(errors.BenchmarkDataError, match="isomorphic"):
    nb101_data.load_nb101(path=path, duplicates="raise")


def test_loader_invalid_rows_raise_or_drop(tmp_path):
  specs = [(README_MATRIX, README_OPS), (np.zeros((7, 7), int), OPS7),
           ([[0, 1], [0, 0]], ["input", "output"])]
  path = _write_jsonl(tmp_path / "t.jsonl", specs, accs=[90.0, 91.0, float("nan")])
  with pytest.raises(errors.BenchmarkDataError) as info:
    nb101_data.load_nb101(path=path)
  msg = str(info.value)
  assert "1 invalid arch" in msg and "row 2" in msg and "not reachable" in msg
  assert "1 non finite label" in msg and "row 3" in msg
  bench = nb101_data.load_nb101(path=path, on_invalid="drop")
  assert len(bench) == 1 and bench.index.tolist() == [0]


def test_loader_malformed_json_names_file_and_line(tmp_path):
  path = _write_jsonl(tmp_path / "bad.jsonl", [(README_MATRIX, README_OPS)],
                      extra_lines=['{"matrix": [[0, 1], [0, 0]], "ops": '])
  with pytest.raises(errors.BenchmarkDataError, match=r"bad\.jsonl, line 2: not valid JSON"):
    nb101_data.load_nb101(path=path)
  path.write_text('[1, 2]\n')
  with pytest.raises(errors.BenchmarkDataError, match="line 1: expected a JSON object"):
    nb101_data.load_nb101(path=path)
  path.write_text('{"matrix": [[0, 1], [0, 0]], "val_accuracy": 1}\n')
  with pytest.raises(errors.BenchmarkDataError, match=r"line 1: missing key\(s\) \['ops'\]"):
    nb101_data.load_nb101(path=path)
  with pytest.raises(errors.ConfigError, match="on_invalid"):
    nb101_data.load_nb101(path=path, on_invalid="ignore")


def test_load_benchmark_uses_the_data_dir(tmp_path):
  (tmp_path / "nb101").mkdir()
  _write_jsonl(tmp_path / "nb101" / "nb101_subset.jsonl",
               [(README_MATRIX, README_OPS), (README_STORED_MATRIX, README_STORED_OPS)])
  bench = registry.load_benchmark("nb101", data_dir=tmp_path)
  assert len(bench) == 1 and bench.name == "nb101"
  assert registry.default_target("nb101") in bench.columns


# ------------------------------------------------------------------ real data
REAL_DIR = paths.data_dir(required=False)
_real = pytest.mark.skipif(
    REAL_DIR is None or not (REAL_DIR / nb101_data.RELATIVE_PATH).is_file(),
    reason="no shared data folder with nb101/nb101_subset.jsonl (set JAXNAS_DATA_DIR)")


@_real
def test_real_subset_counts():
  path = REAL_DIR / nb101_data.RELATIVE_PATH
  specs, columns = nb101_data.read_jsonl_specs(path)
  assert len(specs) == 500
  _, _, report = table_checks.check_table(
      SPACE, specs, columns, source=str(path), label_columns=("val_accuracy",),
      on_invalid="drop", row_offset=1, parse=lambda s: SPACE.from_spec(*s))
  # Every spec is valid after pruning; many prune to the same cell.
  assert report.counts() == {"duplicate": 199, "isomorphic_duplicate": 9}
  bench = registry.load_benchmark("nb101")
  assert len(bench) == 292
  assert len(set(SPACE.canonical_ids(bench.encodings))) == 292
  acc = bench.metric("val_accuracy")
  assert np.all(np.isfinite(acc)) and 70 < acc.min() and acc.max() < 95.5
  assert {"flops", "params", "synflow"} <= set(bench.columns)
  # NB101 trained each cell 3 times, so rows of one cell carry at most 3
  # distinct accuracies: a check of pruning + hashing against the real data.
  runs: dict[str, set] = {}
  for spec, a in zip(specs, columns["val_accuracy"]):
    runs.setdefault(SPACE.canonical_id(SPACE.from_spec(*spec)), set()).add(a)
  assert len(runs) == 292
  assert max(len(v) for v in runs.values()) == 3


# ------------------------------------------------------------------ properties
_OP_WORDS = st.sampled_from(["input", "output", C3, C1, MP, "conv3x3", "maxpool", "x", ""])


@st.composite
def _structured_strings(draw):
  n = draw(st.integers(0, 9))
  rows = [draw(st.text(alphabet="01", min_size=0, max_size=9)) for _ in range(n)]
  ops = draw(st.lists(_OP_WORDS, max_size=9))
  return ",".join(rows) + draw(st.sampled_from([":", "", "::"])) + ",".join(ops)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=8) | st.dictionaries(
        st.sampled_from(["matrix", "ops", "x"]), children, max_size=3),
    max_leaves=60)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=60), _structured_strings(),
                 _JSON.map(lambda x: json.dumps(x)),
                 st.builds(lambda m, o: json.dumps({"matrix": m, "ops": o}), _JSON, _JSON)))
def test_parse_only_raises_architecture_errors(text):
  try:
    enc = SPACE.parse(text)
  except errors.InvalidArchitectureError:
    return
  assert SPACE.is_valid(enc[None])[0]
  assert np.array_equal(SPACE.parse(SPACE.format(enc)), enc)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 9).flatmap(lambda v: st.tuples(
    st.lists(st.lists(st.integers(-1, 2), min_size=v, max_size=v), min_size=v, max_size=v),
    st.lists(_OP_WORDS, min_size=v - 1, max_size=v + 1))))
def test_from_spec_only_raises_architecture_errors(spec):
  matrix, ops = spec
  try:
    enc = SPACE.from_spec(matrix, ops)
  except errors.InvalidArchitectureError:
    return
  assert SPACE.is_valid(enc[None])[0]
  pm, pops = SPACE.to_spec(enc)
  assert pm.sum() <= 9 and len(pops) <= 7
