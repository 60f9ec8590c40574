"""WL node labels against a reference that names each node by (op, predecessor ops)."""

import numpy as np
import pytest

from jaxnas import graphs
from jaxnas import spaces
from jaxnas import wl_features


def _reference_keys(space, enc):
  """Per node slot: None for no node, else (op, sorted ops of its present predecessors),
  predecessors read edge by edge from the space's template."""
  tmpl = graphs.template_for(space)
  g = graphs.encode(space, enc)
  ops, present, edges = np.asarray(g.node_ops), np.asarray(g.node_mask), np.asarray(g.edge_mask)
  keys = []
  for i in range(len(enc)):
    row = []
    for v in range(tmpl.num_nodes):
      if not present[i, v]:
        row.append(None)
        continue
      preds = sorted(int(ops[i, s]) for e, (s, r) in enumerate(zip(tmpl.senders, tmpl.receivers))
                     if r == v and edges[i, e] and present[i, s])
      row.append((int(ops[i, v]), tuple(preds)))
    keys.append(row)
  return keys


@pytest.mark.parametrize("spec, step", [("nb201", 7), ("chain:6:a,b,c", 1),
                                        ("complete_dag:4", 3)])
def test_labels_name_exactly_an_op_and_its_predecessors(spec, step):
  space = spaces.get_space(spec)
  enc = space.enumerate()[::step][:2500]
  labels = wl_features.node_labels(space, enc)
  keys = _reference_keys(space, enc)
  by_key, by_label = {}, {}
  for i, row in enumerate(keys):
    for v, key in enumerate(row):
      lab = int(labels[i, v])
      assert (key is None) == (lab == 0)
      if key is not None:
        assert by_key.setdefault(key, lab) == lab  # one label per (op, predecessors)
        assert by_label.setdefault(lab, key) == key  # and no two share one
  assert len(by_key) > 10
  # The labels are the graph's own: any subset gets the rows it had in the pool.
  np.testing.assert_array_equal(wl_features.node_labels(space, enc[3::5]), labels[3::5])


def test_counts_per_architecture():
  labels = np.array([[5, 9, 0, 5], [0, 0, 0, 0], [7, 9, 9, 2]], np.uint64)
  vocab = np.array([2, 5, 9], np.uint64)
  np.testing.assert_array_equal(wl_features.counts(labels, vocab),
                                [[0, 2, 1], [0, 0, 0], [1, 0, 2]])
  assert wl_features.counts(labels, np.zeros(0, np.uint64)).shape == (3, 0)
  np.testing.assert_array_equal(wl_features.vocabulary(labels), [2, 5, 7, 9])
