"""Cell spaces: an operation on every forward edge of an N-node DAG.

This covers NAS-Bench-201 (N=4), the complete-DAG space of ReNAS (any N, every
forward edge present, ``none`` among the ops so connections and operations are
searched together) and user-defined cells such as TransNAS-Bench micro.

Node 0 is the cell input, node N-1 its output; an intermediate node sums the
results of its incoming edges. Positions are the edges grouped by target node:
``(1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2), ...`` — NB201's order.

String form (NB201's, for any N): one ``+``-separated group per target node
``j = 1..N-1``, listing ``op~i`` for every source ``i < j``::

    |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|

Graphs use the op-on-node view common to GNN predictors (NASLib, TNASP, NAR):
one node per edge op plus an input and an output node; op node (i->j) feeds op
node (j->k). ``none`` nodes, and nodes on no input->output path, are pruned.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jaxnas import errors
from jaxnas.spaces import base
from jaxnas.spaces import graph_hash

__all__ = ["CellSpace", "CompleteDAGSpace"]


class CellSpace(base.Space):
  """Ops on the edges of an N-node DAG.

  Args:
    num_nodes: nodes of the cell, input and output included (>= 2).
    ops: operation names; include ``"none"`` to let edges be absent.
    name: the space's name.
    require_connected: when True, architectures whose output is unreachable
      from the input are invalid (not sampled, rejected by ``parse``).
    max_num_nodes: refuse to build cells larger than this (graph sizes grow
      quadratically).
  """

  def __init__(self, num_nodes: int, ops: Sequence[str], *, name: str | None = None,
               require_connected: bool = False, max_num_nodes: int = 32):
    if not isinstance(num_nodes, (int, np.integer)) or num_nodes < 2:
      raise errors.ConfigError(f"num_nodes must be an int >= 2, got {num_nodes!r}")
    if num_nodes > max_num_nodes:
      raise errors.TooManyEdgesError(
          f"num_nodes={num_nodes} exceeds the limit of {max_num_nodes} nodes")
    ops = tuple(str(o) for o in ops)
    if not ops or len(set(ops)) != len(ops):
      raise errors.ConfigError(f"ops must be a non-empty list of distinct names, got {ops!r}")
    for o in ops:
      if not o or any(ch in o for ch in "|+~ "):
        raise errors.ConfigError(f"op name {o!r} may not be empty or contain '|', '+', '~' or spaces")
    self.num_nodes = int(num_nodes)
    self.ops = ops
    self.name = name or f"cell{num_nodes}"
    self.require_connected = require_connected
    self.edges = [(i, j) for j in range(1, num_nodes) for i in range(j)]  # (src, dst)
    super().__init__([len(ops)] * len(self.edges))
    self.none_index = ops.index("none") if "none" in ops else -1
    self.node_vocab = ("input", "output") + ops
    self.max_nodes = len(self.edges) + 2
    self._op_index = {o: k for k, o in enumerate(ops)}
    self._template = self._op_node_template()
    self.edge_template = self._template  # bounds the edge budget of graph batches

  # ----------------------------------------------------------- string form
  def format(self, encoding: base.Encoding) -> str:
    # Shape and range only: disconnected cells can still be named in messages.
    enc = base.Space.validate(self, encoding)
    groups = []
    k = 0
    for j in range(1, self.num_nodes):
      items = []
      for i in range(j):
        items.append(f"{self.ops[int(enc[k])]}~{i}")
        k += 1
      groups.append("|" + "|".join(items) + "|")
    return "+".join(groups)

  def parse(self, text: str) -> base.Encoding:
    if not isinstance(text, str):
      raise errors.InvalidArchitectureError(
          f"{self.name}: expected an architecture string, got {type(text).__name__} {text!r}")
    groups = text.strip().split("+")
    if len(groups) != self.num_nodes - 1:
      raise errors.WrongLengthError(
          f"{self.name}: {text!r} has {len(groups)} node groups, expected "
          f"{self.num_nodes - 1} (groups are separated by '+')")
    enc = np.zeros(self.num_positions, np.int32)
    k = 0
    for j, group in enumerate(groups, start=1):
      items = [s for s in group.strip().strip("|").split("|")]
      if len(items) != j or any(not s for s in items):
        raise errors.WrongLengthError(
          f"{self.name}: group {j} of {text!r} is {group!r} with {len(items)} "
          f"edges, expected {j} ('|op~0|...|op~{j - 1}|')")
      by_src = {}
      for item in items:
        op, sep, src = item.partition("~")
        # isdigit() alone admits non-ASCII digits such as '²', which int() rejects.
        if not sep or not (src.isascii() and src.isdigit()):
          raise errors.InvalidArchitectureError(
              f"{self.name}: edge {item!r} in group {j} of {text!r} is not 'op~source'")
        if op not in self._op_index:
          raise errors.UnknownOpError(
              f"{self.name}: unknown op {op!r} on edge {src}->{j} of {text!r}; "
              f"expected one of {list(self.ops)}")
        s = int(src)
        if s >= j or s in by_src:
          raise errors.InvalidArchitectureError(
              f"{self.name}: edge {item!r} in group {j} of {text!r} has source {s}; "
              f"each source 0..{j - 1} must appear exactly once")
        by_src[s] = self._op_index[op]
      for i in range(j):
        enc[k] = by_src[i]
        k += 1
    return self.validate(enc)

  def parse_many(self, texts, *, source: str = "") -> base.Encodings:
    """Parses many strings ``-> [N, D]``; a fast path for well-formed input.

    Well-formed strings are split at ``|`` and looked up token by token (no
    per-string validation logic); if any string is not well-formed, the slow
    path reparses everything and raises the precise error of the first bad row.
    """
    texts = list(texts)
    if not self.require_connected:
      fast = self._parse_many_fast(texts)
      if fast is not None:
        return fast
    return super().parse_many(texts, source=source)

  def _parse_many_fast(self, texts: list) -> base.Encodings | None:
    if not hasattr(self, "_fast_tokens"):
      # Token slots of "|a~0|+|b~0|c~1|+|..." split at "|": "" first and last,
      # "+" between groups, op tokens elsewhere.
      layout, lookups = [""], []
      for j in range(1, self.num_nodes):
        if j > 1:
          layout.append("+")
        for i in range(j):
          layout.append(None)
          lookups.append({f"{o}~{i}": k for k, o in enumerate(self.ops)})
      layout.append("")
      op_slots = [k for k, t in enumerate(layout) if t is None]
      self._fast_tokens = (len(layout), op_slots, lookups, [
          (k, t) for k, t in enumerate(layout) if t is not None])
    n_tok, op_slots, lookups, fixed = self._fast_tokens
    try:
      rows = []
      for t in texts:
        toks = t.split("|")
        if len(toks) != n_tok or any(toks[k] != v for k, v in fixed):
          return None
        rows.append([lk[toks[k]] for k, lk in zip(op_slots, lookups)])
    except (KeyError, AttributeError, TypeError):
      return None
    if not rows:
      return np.zeros((0, self.num_positions), np.int32)
    return np.asarray(rows, np.int32)

  # ----------------------------------------------------------- validity
  def is_valid(self, encodings: base.Encodings) -> np.ndarray:
    enc = np.asarray(encodings)
    ok = super().is_valid(enc)
    if self.require_connected and enc.shape[0]:
      _, _, connected = self._prune(np.where(ok[:, None], enc, 0))
      ok &= connected
    return ok

  def validate(self, encoding: base.Encoding) -> base.Encoding:
    enc = super().validate(encoding)
    if self.require_connected and not self.is_valid(enc[None])[0]:
      raise errors.DisconnectedError(
          f"{self.name}: the output of {self.format(enc)!r} is not reachable from its input")
    return enc

  # ----------------------------------------------------------- graphs
  def _op_node_template(self) -> np.ndarray:
    """bool ``[V, V]`` adjacency of the op-node view with every op present."""
    e = len(self.edges)
    v = e + 2
    out = v - 1
    adj = np.zeros((v, v), bool)
    for a, (i, j) in enumerate(self.edges):
      if i == 0:
        adj[0, a + 1] = True
      if j == self.num_nodes - 1:
        adj[a + 1, out] = True
      for b, (k, _) in enumerate(self.edges):
        if k == j:
          adj[a + 1, b + 1] = True
    return adj

  def _prune(self, enc: np.ndarray):
    """Returns (adjacency [B,V,V], node_mask [B,V], connected [B])."""
    b = enc.shape[0]
    v = self.max_nodes
    present = np.ones((b, v), bool)
    if self.none_index >= 0:
      present[:, 1:-1] = enc != self.none_index
    adj = self._template[None] & present[:, :, None] & present[:, None, :]
    live = graph_hash.live_nodes(adj, present, 0, v - 1)
    connected = live[:, v - 1]
    adj = adj & live[:, :, None] & live[:, None, :]
    mask = live.copy()
    mask[:, 0] = True
    mask[:, -1] = True
    return adj, mask, connected

  def to_graphs(self, encodings: base.Encodings) -> base.DenseGraphs:
    enc = np.asarray(encodings, dtype=np.int32).reshape(-1, self.num_positions)
    adj, mask, _ = self._prune(enc)
    node_ops = np.zeros(mask.shape, np.int32)
    node_ops[:, 0] = 0  # input
    node_ops[:, -1] = 1  # output
    node_ops[:, 1:-1] = enc + 2
    node_ops = np.where(mask, node_ops, 0).astype(np.int32)
    return base.DenseGraphs(node_ops=node_ops, node_mask=mask, adjacency=adj)

  def canonical_id(self, encoding: base.Encoding) -> str:
    enc = self.validate(encoding)
    g = self.to_graphs(enc[None])
    keep = np.nonzero(g.node_mask[0])[0]
    matrix = g.adjacency[0][np.ix_(keep, keep)].astype(np.int32)
    labels = [-1 if n == 0 else -2 if n == 1 else int(n) - 2 for n in g.node_ops[0][keep]]
    return graph_hash.hash_module(matrix, labels)


class CompleteDAGSpace(CellSpace):
  """ReNAS's ab-initio space: a complete DAG of N nodes, an op on every edge.

  ``none`` must be among the ops, so that searching the ops also searches the
  connections. By default architectures must connect input to output.
  """

  DEFAULT_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")

  def __init__(self, num_nodes: int, ops: Sequence[str] = DEFAULT_OPS, *,
               require_connected: bool = True):
    if "none" not in ops:
      raise errors.ConfigError(
          "the complete-DAG space needs 'none' among its ops so that connections are searched")
    super().__init__(num_nodes, ops, name=f"complete_dag{num_nodes}",
                     require_connected=require_connected)
    if tuple(ops) == self.DEFAULT_OPS and require_connected:
      self.spec = f"complete_dag:{num_nodes}"
