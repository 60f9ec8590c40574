"""Tests of jaxnas.graphs: dense DAGs -> fixed-slot arrays -> padded GraphsTuples."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from jaxnas import errors
from jaxnas import graphs
from jaxnas import spaces

NB201 = spaces.NB201Space()
NB_MACRO = "chain:8:identity,mb3_k3,mb6_k5"
SPECS = ["nb201", "complete_dag:6", NB_MACRO, "chain:16,32/16,32,64/identity,64"]


def _valid(sp, n, seed=0):
  rng = np.random.default_rng(seed)
  enc = rng.integers(0, sp.cardinalities, size=(4 * n + 16, sp.num_positions)).astype(np.int32)
  return enc[sp.is_valid(enc)][:n]


# --------------------------------------------------------------- templates / encode
def test_nb201_template():
  t = graphs.template_for(NB201)
  assert t.num_nodes == 8 and t.vocab_size == 7
  # Op nodes 1..6 are edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2; node 7 the output.
  # input -> (x<-0) ops: 3; (3<-x) ops -> output: 3; (1<-0) -> (2<-1), (3<-1);
  # (2<-0), (2<-1) -> (3<-2).
  expected = {(0, 1), (0, 2), (0, 4), (4, 7), (5, 7), (6, 7), (1, 3), (1, 5), (2, 6), (3, 6)}
  assert set(zip(t.senders.tolist(), t.receivers.tolist())) == expected
  assert t.num_edges == 10


def test_chain_template_is_the_chain():
  sp = spaces.get_space(NB_MACRO)
  t = graphs.template_for(sp)
  assert t.num_nodes == 10 and t.num_edges == 9
  assert (t.receivers == t.senders + 1).all()
  assert t.num_node_features == sp.num_node_features == 2 + 8 * 3 + 10


@pytest.mark.parametrize("spec", SPECS)
def test_encode_shapes_and_masks_match_dense_graphs(spec):
  sp = spaces.get_space(spec)
  enc = _valid(sp, 50)
  t = graphs.template_for(sp)
  arrays = graphs.encode(sp, enc)
  dense = sp.to_graphs(enc)
  n, v, e = enc.shape[0], sp.max_nodes, t.num_edges
  assert arrays.node_ops.shape == (n, v) and arrays.node_ops.dtype == np.int32
  assert arrays.node_mask.shape == (n, v) and arrays.node_mask.dtype == bool
  assert arrays.edge_mask.shape == (n, e) and arrays.edge_mask.dtype == bool
  assert arrays.globals.shape == (n, 0) and len(arrays) == n
  np.testing.assert_array_equal(arrays.node_mask, dense.node_mask)
  np.testing.assert_array_equal(arrays.node_ops, dense.node_ops)
  np.testing.assert_array_equal(arrays.edge_mask, dense.adjacency[:, t.senders, t.receivers])
  # No edge of the dense graphs falls outside the template (none is lost).
  assert arrays.edge_mask.sum() == dense.adjacency.sum()
  # Edges join existing nodes only; input and output always exist.
  assert not (arrays.edge_mask & ~arrays.node_mask[:, t.senders]).any()
  assert not (arrays.edge_mask & ~arrays.node_mask[:, t.receivers]).any()
  assert arrays.node_mask[:, 0].all() and arrays.node_mask[:, -1].all()
  assert (arrays.node_ops[:, 0] == 0).all() and (arrays.node_ops[:, -1] == 1).all()
  assert (arrays.node_ops < t.vocab_size).all()
  assert (arrays.node_ops[~arrays.node_mask] == 0).all()


def test_encode_nb201_by_hand():
  # 1<-0 conv3, 2<-0 none, 2<-1 pool, 3<-0 skip, 3<-1 none, 3<-2 conv1.
  e = NB201.parse("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|")
  a = graphs.encode(NB201, e[None], globals_=np.array([[0.5, 2.0]]))
  assert a.node_mask[0].tolist() == [True, True, False, True, True, False, True, True]
  vocab = NB201.node_vocab
  assert [vocab[o] for o, m in zip(a.node_ops[0], a.node_mask[0]) if m] == [
      "input", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_1x1", "output"]
  t = graphs.template_for(NB201)
  on = {(int(s), int(r)) for s, r, m in zip(t.senders, t.receivers, a.edge_mask[0]) if m}
  assert on == {(0, 1), (0, 4), (1, 3), (3, 6), (4, 7), (6, 7)}
  np.testing.assert_array_equal(a.globals, np.array([[0.5, 2.0]], np.float32))


def test_chain_graph_keeps_identities_in_place():
  """Identities are nodes at their own position: moving one changes the graph."""
  sp = spaces.get_space(NB_MACRO)
  a = sp.parse("mb3_k3|identity|mb6_k5|identity|identity|mb3_k3|identity|identity")
  b = sp.parse("mb3_k3|mb6_k5|identity|identity|identity|mb3_k3|identity|identity")
  d = sp.to_graphs(np.stack([a, b]))
  assert d.node_mask.all()
  vocab = sp.node_vocab
  assert [vocab[o] for o in d.node_ops[0]] == (
      ["input"] + "mb3_k3|identity|mb6_k5|identity|identity|mb3_k3|identity|identity".split("|")
      + ["output"])
  src, dst = np.nonzero(d.adjacency[0])
  assert list(zip(src.tolist(), dst.tolist())) == [(i, i + 1) for i in range(9)]
  assert not np.array_equal(d.node_ops[0], d.node_ops[1])
  # (position, choice) one-hot: input, output, then 3 columns per position.
  onehot = d.node_features[0, :, :26]
  assert onehot[0, 0] == onehot[-1, 1] == 1 and (onehot.sum(axis=1) == 1).all()
  for p, k in enumerate(a):
    assert onehot[p + 1, 2 + 3 * p + k] == 1
  identity_col = 26 + 1
  assert (d.node_features[0, [2, 4, 5, 7, 8], identity_col]
          > d.node_features[0, [1, 3, 6], identity_col].max()).all()


# --------------------------------------------------------------- GraphsTuple
@pytest.mark.parametrize("spec", SPECS)
def test_graphs_tuple_layout(spec):
  sp = spaces.get_space(spec)
  t = graphs.template_for(sp)
  enc = _valid(sp, 7, seed=1)
  b, v, e = enc.shape[0], t.num_nodes, t.num_edges
  arrays = graphs.encode(sp, enc, globals_=np.arange(b * 3, dtype=np.float32).reshape(b, 3))
  g = graphs.to_graphs_tuple(arrays, t)
  assert g.nodes["op"].shape == (b * v + 1,) and g.nodes["mask"].shape == (b * v + 1,)
  assert g.edges["mask"].shape == (b * e,)
  assert g.senders.shape == g.receivers.shape == (b * e,)
  assert g.n_node.tolist() == [v] * b + [1] and g.n_edge.tolist() == [e] * b + [0]
  assert g.globals.shape == (b + 1, 3) and float(g.globals[-1].sum()) == 0.0
  np.testing.assert_array_equal(np.asarray(g.nodes["mask"][:-1]).reshape(b, v),
                                arrays.node_mask.astype(np.float32))
  np.testing.assert_array_equal(np.asarray(g.nodes["op"][:-1]).reshape(b, v), arrays.node_ops)
  np.testing.assert_array_equal(np.asarray(g.edges["mask"]).reshape(b, e),
                                arrays.edge_mask.astype(np.float32))
  assert float(g.nodes["mask"][-1]) == 0.0
  # Edges of graph i stay inside graph i's node slots, in template order.
  send = np.asarray(g.senders).reshape(b, e)
  recv = np.asarray(g.receivers).reshape(b, e)
  offsets = (np.arange(b) * v)[:, None]
  np.testing.assert_array_equal(send - offsets, np.broadcast_to(t.senders, (b, e)))
  np.testing.assert_array_equal(recv - offsets, np.broadcast_to(t.receivers, (b, e)))
  # jraph's padding masks: only the trailing graph (and its one node) is padding.
  assert np.asarray(jraph.get_graph_padding_mask(g)).tolist() == [True] * b + [False]
  assert np.asarray(jraph.get_node_padding_mask(g)).tolist() == [True] * (b * v) + [False]
  assert np.asarray(jraph.get_edge_padding_mask(g)).all()
  # Masked-in edges join masked-in nodes of the same graph.
  nm, em = np.asarray(g.nodes["mask"]), np.asarray(g.edges["mask"])
  assert (nm[g.senders][em > 0] == 1).all() and (nm[g.receivers][em > 0] == 1).all()


def test_one_compile_per_batch_size():
  sp = NB201
  t = graphs.template_for(sp)
  table = graphs.encode(sp, sp.enumerate())
  traces = []

  @jax.jit
  def masked_degree_sum(arrays):
    traces.append(1)  # runs only while tracing
    g = graphs.to_graphs_tuple(arrays, t)
    live = g.edges["mask"]
    deg = jax.ops.segment_sum(live, g.receivers, num_segments=g.nodes["op"].shape[0])
    return jnp.sum(deg * g.nodes["mask"]), jnp.sum(g.nodes["mask"])

  rng = np.random.default_rng(0)
  results = []
  for _ in range(4):
    rows = rng.choice(len(table), 32, replace=False)
    batch = table.take(rows)
    edges, nodes = masked_degree_sum(batch)
    assert float(edges) == batch.edge_mask.sum() and float(nodes) == batch.node_mask.sum()
    results.append(float(edges))
  assert len(traces) == 1
  assert len(set(results)) > 1  # the batches did differ
  masked_degree_sum(table.take(np.arange(16)))  # another size: one more compile
  assert len(traces) == 2


def test_take_inside_jit_with_traced_rows():
  t = graphs.template_for(NB201)
  table = graphs.encode(NB201, NB201.enumerate())
  table = jax.tree_util.tree_map(jnp.asarray, table)

  @jax.jit
  def live_nodes(table, rows):
    g = graphs.to_graphs_tuple(table.take(rows), t)
    return jnp.sum(g.nodes["mask"])

  rows = np.array([0, 5, 15_624])
  host = graphs.encode(NB201, NB201.enumerate()[rows])
  assert float(live_nodes(table, rows)) == host.node_mask.sum()


def test_batch_encodings_matches_encode_then_pack():
  enc = _valid(NB201, 5)
  a = graphs.batch_encodings(NB201, enc)
  b = graphs.to_graphs_tuple(graphs.encode(NB201, enc), graphs.template_for(NB201))
  for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_encoding_all_nb201_cells_is_fast():
  enc = NB201.enumerate()
  graphs.encode(NB201, enc[:10])  # warm up imports and caches
  start = time.perf_counter()
  arrays = graphs.encode(NB201, enc)
  elapsed = time.perf_counter() - start
  assert len(arrays) == 15_625
  assert elapsed < 1.0, f"encoding 15,625 NB201 cells took {elapsed:.2f} s"


def test_globals_rows_must_match():
  enc = _valid(NB201, 3)
  a = graphs.encode(NB201, enc, globals_=np.arange(3.0))  # [N] -> [N, 1]
  assert a.globals.shape == (3, 1)
  # Five rows of globals for three archs: refused, not silently reshaped to [3, 5].
  with pytest.raises(errors.ConfigError, match=r"\(5, 3\)"):
    graphs.encode(NB201, enc, globals_=np.zeros((5, 3)))
  empty = graphs.encode(NB201, enc[:0], globals_=np.zeros((0, 4)))
  assert empty.globals.shape == (0, 4) and empty.edge_mask.shape == (0, 10)
