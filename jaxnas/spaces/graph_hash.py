"""Isomorphism-invariant hashing and pruning of labelled DAGs.

The hash is the one of google-research/nasbench (``graph_util.hash_module``,
Apache-2.0; see ``third_party/nasbench/NOTICE``): iterated Weisfeiler-Lehman
style refinement of (out-degree, in-degree, label) with md5, so NB101 ids made
here match the ids of the official NB101 API. Isomorphic graphs always hash
equal; distinct graphs collide only in WL-indistinguishable corner cases, which
do not occur in NB101 (checked by its authors on all 423,624 cells).
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["hash_module", "live_nodes", "reachability"]


def hash_module(matrix: np.ndarray, labeling: list[int]) -> str:
  """nasbench's isomorphism-invariant fingerprint of a labelled DAG.

  Args:
    matrix: ``[V, V]`` 0/1 adjacency (``matrix[i, j]``: edge i -> j).
    labeling: ``[V]`` integer labels (nasbench uses -1 input, -2 output).

  Returns:
    A 32-character hex md5 fingerprint.
  """
  matrix = np.asarray(matrix)
  vertices = matrix.shape[0]
  in_edges = np.sum(matrix, axis=0).tolist()
  out_edges = np.sum(matrix, axis=1).tolist()
  hashes = [hashlib.md5(str(h).encode("utf-8")).hexdigest()
            for h in zip(out_edges, in_edges, labeling)]
  for _ in range(vertices):
    new_hashes = []
    for v in range(vertices):
      in_neighbors = [hashes[w] for w in range(vertices) if matrix[w, v]]
      out_neighbors = [hashes[w] for w in range(vertices) if matrix[v, w]]
      new_hashes.append(hashlib.md5(
          ("".join(sorted(in_neighbors)) + "|" + "".join(sorted(out_neighbors))
           + "|" + hashes[v]).encode("utf-8")).hexdigest())
    hashes = new_hashes
  return hashlib.md5(str(sorted(hashes)).encode("utf-8")).hexdigest()


def reachability(adjacency: np.ndarray) -> np.ndarray:
  """Transitive closure (reflexive) of batched DAG adjacency.

  Args:
    adjacency: bool ``[..., V, V]``.

  Returns:
    bool ``[..., V, V]``: ``out[..., i, j]`` is True when j is reachable from i.
  """
  adj = np.asarray(adjacency, dtype=bool)
  v = adj.shape[-1]
  reach = adj | np.eye(v, dtype=bool)
  # Repeated squaring: paths of length <= 2^k after k steps.
  for _ in range(max(1, int(np.ceil(np.log2(max(v, 2)))))):
    reach = np.matmul(reach.astype(np.int32), reach.astype(np.int32)) > 0
  return reach


def live_nodes(adjacency: np.ndarray, node_mask: np.ndarray, source: int,
               sink: int) -> np.ndarray:
  """Nodes that lie on some source -> sink path (vectorised over the batch).

  Args:
    adjacency: bool ``[B, V, V]``.
    node_mask: bool ``[B, V]``; nodes that exist.
    source: index of the input node.
    sink: index of the output node.

  Returns:
    bool ``[B, V]``; all False for a graph whose sink is unreachable.
  """
  adj = np.asarray(adjacency, bool) & node_mask[:, :, None] & node_mask[:, None, :]
  v = adj.shape[-1]
  backward = ~np.triu(np.ones((v, v), bool), k=1)  # i -> j with j <= i
  if source == 0 and sink == v - 1 and not (adj.any(axis=0) & backward).any():
    # Topologically ordered DAG (edges only i -> j > i), the layout of every
    # jaxnas space: one forward and one backward sweep over the nodes instead
    # of a transitive closure (O(V^2 B) boolean ops, no matrix products).
    from_source = np.zeros(adj.shape[:2], bool)
    from_source[:, 0] = node_mask[:, 0]
    for j in range(1, v):
      from_source[:, j] = np.any(from_source[:, :j] & adj[:, :j, j], axis=1)
    to_sink = np.zeros(adj.shape[:2], bool)
    to_sink[:, v - 1] = node_mask[:, v - 1]
    for i in range(v - 2, -1, -1):
      to_sink[:, i] = np.any(adj[:, i, i + 1:] & to_sink[:, i + 1:], axis=1)
  else:
    reach = reachability(adj)
    from_source = reach[:, source, :]
    to_sink = reach[:, :, sink]
  live = from_source & to_sink & node_mask
  connected = from_source[:, sink]
  return live & connected[:, None]
