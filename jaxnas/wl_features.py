"""Weisfeiler-Lehman node labels of architectures: which op sits after which.

Why: the second ranker beside the GNN (:mod:`jaxnas.linear_blend`) sees each
position's choice (one-hot), so an effect of *neighbouring* choices — a wide
layer after a narrow one, a convolution fed by a pooling — is an interaction
it must find among all pairs of positions. One Weisfeiler-Lehman step names
it directly: a node's label hashes its own op with the multiset of the ops of
its predecessors, the same label wherever in the graph the pair occurs (the
subtree features of NAS-BOWL, Ru et al., ICLR 2021). Counts of these labels
are the extra design columns that the second ranker may take
(:func:`jaxnas.linear_blend.fit_second_ranker`).

Labels are hashes of the graph alone (splitmix64 over the op ids), so the same
architecture gets the same labels in any pool, in any chunk an exported ranker
scores, and on any machine.
"""

from __future__ import annotations

import numpy as np

from jaxnas import graphs
from jaxnas.spaces import base

__all__ = ["counts", "node_labels", "vocabulary"]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_PRED = np.uint64(0xD6E8FEB86659FD93)


def _mix(x: np.ndarray) -> np.ndarray:
  """splitmix64's finaliser, elementwise on uint64 (wrapping arithmetic)."""
  x = (x ^ (x >> np.uint64(30))) * _M1
  x = (x ^ (x >> np.uint64(27))) * _M2
  return x ^ (x >> np.uint64(31))


def node_labels(space: base.Space, encodings: base.Encodings) -> np.ndarray:
  """One WL step's label of every node slot, uint64 ``[N, V]`` (0: no node there).

  A node's label hashes its op id with the (order-free) sum of its present
  predecessors' hashed op ids, so ``a -> b`` and ``b -> a`` differ and two
  architectures with the same (op, predecessor ops) pairs at other positions
  share labels. Nodes a space prunes (NB201 ``none`` edges, NB101 dangling
  vertices) are absent, and so are edges to or from them.

  Args:
    space: the architectures' space.
    encodings: int ``[N, D]``.
  """
  tmpl = graphs.template_for(space)
  g = graphs.encode(space, encodings)
  present = np.asarray(g.node_mask, bool)
  edges = np.asarray(g.edge_mask, bool) & present[:, tmpl.senders] & present[:, tmpl.receivers]
  own = _mix(np.asarray(g.node_ops, np.uint64) + _GOLDEN)  # [N, V]
  sent = np.where(edges, _mix(own[:, tmpl.senders] ^ _PRED), np.uint64(0))  # [N, E]
  preds = np.zeros(own.shape, np.uint64)
  for e, r in enumerate(tmpl.receivers):  # E is small (edge slots of one graph)
    preds[:, r] += sent[:, e]
  labels = _mix(own * _GOLDEN + preds)
  labels[labels == 0] = 1  # 0 means "no node"
  return np.where(present, labels, np.uint64(0))


def counts(labels: np.ndarray, vocab: np.ndarray) -> np.ndarray:
  """How often each label of ``vocab`` occurs per architecture.

  Args:
    labels: uint64 ``[N, V]`` (:func:`node_labels`).
    vocab: uint64 ``[K]`` sorted distinct labels (0 excluded).

  Returns:
    float64 ``[N, K]``; labels outside ``vocab`` are not counted.
  """
  labels = np.asarray(labels, np.uint64)
  vocab = np.asarray(vocab, np.uint64)
  n, k = labels.shape[0], len(vocab)
  if not k:
    return np.zeros((n, 0))
  idx = np.minimum(np.searchsorted(vocab, labels), k - 1)  # [N, V]
  hit = vocab[idx] == labels
  flat = (np.arange(n)[:, None] * k + idx)[hit]  # one bincount instead of np.add.at: ~10x faster
  return np.bincount(flat, minlength=n * k).reshape(n, k).astype(np.float64)


def vocabulary(labels: np.ndarray) -> np.ndarray:
  """The sorted distinct labels ``[K]`` (uint64) of :func:`node_labels` rows, 0 excluded."""
  labels = np.asarray(labels, np.uint64)
  return np.unique(labels[labels != 0])
