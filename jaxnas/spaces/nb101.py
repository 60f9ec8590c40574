"""NAS-Bench-101 space.

Ying et al., "NAS-Bench-101: Towards Reproducible Neural Architecture Search",
ICML 2019. A cell is a DAG of at most 7 vertices and at most 9 edges, given as
an upper-triangular adjacency matrix plus one op per vertex: ``input`` first,
``output`` last, and ``conv3x3-bn-relu``, ``conv1x1-bn-relu`` or ``maxpool3x3``
in between. Pruning, validity and hashing follow google-research/nasbench's
``ModelSpec`` and ``NASBench._check_spec`` (Apache-2.0; see
``third_party/nasbench/NOTICE``):

* vertices that are not on some input -> output path are removed (their rows,
  columns and ops); if the input does not reach the output the spec is invalid;
* after pruning, at most 7 vertices and 9 edges;
* :meth:`NB101Space.canonical_id` is nasbench's ``hash_spec``, so ids equal the
  official API's module hashes, and isomorphic cells share one id.

**Encoding** (``D = 26``): the 21 upper-triangular adjacency bits of a 7-vertex
matrix in row-major order ``(0,1), (0,2), ..., (0,6), (1,2), ..., (5,6)``,
then the ops of vertices 1..5 as indices into ``NB101_OPS`` = ``(conv3x3-bn-relu,
conv1x1-bn-relu, maxpool3x3)`` (nasbench's label order). Cardinalities are
``[2] * 21 + [3] * 5``. A spec with fewer vertices is embedded with its
vertices ``0..V-2`` first, its output at vertex 6 and vertices ``V-1..5``
isolated (with op index 0); such vertices are pruned away again. Many encodings
denote the same cell (dangling vertices, ops of pruned vertices, isomorphisms);
:meth:`from_spec` gives the embedding of the *pruned* spec.

**String form**: the rows of the pruned matrix as 0/1 strings, ``,``-separated,
then ``:`` and the ops, ``,``-separated::

    01100,00011,00001,00001,00000:input,conv3x3-bn-relu,maxpool3x3,conv1x1-bn-relu,output

(edges 0->1, 0->2, 1->3, 1->4, 2->4, 3->4; vertex 4 is the output).

:meth:`NB101Space.parse` also takes the short op names ``conv3x3``, ``conv1x1``
and ``maxpool``, and a JSON object ``{"matrix": [[...], ...], "ops": [...]}``
(the spec may be unpruned; it is pruned). :meth:`NB101Space.format` always
writes the pruned spec with the long names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from jaxnas import errors
from jaxnas.spaces import base
from jaxnas.spaces import graph_hash

__all__ = ["INPUT", "MAX_EDGES", "NB101Space", "NB101_OPS", "NODE_VOCAB", "NUM_EDGE_POSITIONS",
           "NUM_OP_POSITIONS", "NUM_VERTICES", "OP_ALIASES", "OUTPUT", "prune_spec", "spec_string"]

INPUT = "input"
OUTPUT = "output"
# nasbench's config['available_ops']: a vertex's label in the hash is its index here.
NB101_OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
OP_ALIASES = {"conv3x3": "conv3x3-bn-relu", "conv1x1": "conv1x1-bn-relu", "maxpool": "maxpool3x3"}
NUM_VERTICES = 7
MAX_EDGES = 9
NODE_VOCAB = (INPUT, OUTPUT, "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3")

# Row-major upper-triangular positions: position p is the edge _ROWS[p] -> _COLS[p].
_ROWS, _COLS = np.triu_indices(NUM_VERTICES, k=1)
NUM_EDGE_POSITIONS = int(_ROWS.size)  # 21
NUM_OP_POSITIONS = NUM_VERTICES - 2  # 5
# Op choice (index into NB101_OPS) -> index into NODE_VOCAB.
_OP_TO_VOCAB = np.asarray([NODE_VOCAB.index(o) for o in NB101_OPS], np.int32)
# Refuse to look at larger matrices at all: a spec this big cannot prune to 7 vertices
# in any plausible input, and the check bounds the work done on hostile input.
_MAX_INPUT_VERTICES = 64


def _op_name(op, vertex: int) -> str:
  """Long name of one op given by name or alias; raises for anything else."""
  if not isinstance(op, str):
    raise errors.UnknownOpError(
        f"nb101: op at vertex {vertex} is {op!r}; ops must be names, one of "
        f"{[INPUT, *NB101_OPS, OUTPUT]}")
  name = OP_ALIASES.get(op.strip(), op.strip())
  if name not in (INPUT, OUTPUT) + NB101_OPS:
    raise errors.UnknownOpError(
        f"nb101: unknown op {op!r} at vertex {vertex}; expected one of "
        f"{[INPUT, *NB101_OPS, OUTPUT]} (or {sorted(OP_ALIASES)})")
  return name


def _as_matrix(matrix) -> np.ndarray:
  """A square 0/1 int32 matrix ``[V, V]`` from nested lists / arrays."""
  try:
    m = np.asarray(matrix)
  except (ValueError, TypeError, OverflowError):  # ragged or odd nested input
    raise errors.WrongLengthError(
        f"nb101: matrix {matrix!r} is not a rectangular array of 0/1 entries") from None
  if m.ndim != 2 or m.shape[0] != m.shape[1]:
    raise errors.WrongLengthError(f"nb101: matrix must be square [V, V], got shape {m.shape}")
  if m.shape[0] < 2:
    raise errors.WrongLengthError(
        f"nb101: matrix has {m.shape[0]} vertices; a cell needs at least input and output")
  if m.shape[0] > _MAX_INPUT_VERTICES:
    raise errors.TooManyEdgesError(
        f"nb101: matrix has {m.shape[0]} vertices, at most {NUM_VERTICES} are allowed")
  if m.dtype.kind not in "biuf":
    raise errors.InvalidArchitectureError(
        f"nb101: matrix entries must be 0 or 1, got dtype {m.dtype}")
  bad = np.argwhere(~np.isin(m, (0, 1)))
  if bad.size:
    i, j = (int(x) for x in bad[0])
    raise errors.InvalidArchitectureError(
        f"nb101: matrix entry [{i}, {j}] is {m[i, j]!r}; entries must be 0 or 1")
  return m.astype(np.int32)


def _check_ops(ops, num_vertices: int) -> list[str]:
  """Long op names ``[V]``; input first, output last, NB101 ops between."""
  if isinstance(ops, (str, bytes)) or not isinstance(ops, (Sequence, np.ndarray)):
    raise errors.InvalidArchitectureError(f"nb101: ops must be a list of op names, got {ops!r}")
  if len(ops) != num_vertices:
    raise errors.WrongLengthError(
        f"nb101: {len(ops)} ops for a matrix of {num_vertices} vertices; give one op per vertex")
  names = [_op_name(op, k) for k, op in enumerate(ops)]
  if names[0] != INPUT:
    raise errors.InvalidArchitectureError(
        f"nb101: the first op (vertex 0) must be 'input', got {names[0]!r}")
  if names[-1] != OUTPUT:
    raise errors.InvalidArchitectureError(
        f"nb101: the last op (vertex {num_vertices - 1}) must be 'output', got {names[-1]!r}")
  for k, name in enumerate(names[1:-1], start=1):
    if name not in NB101_OPS:
      raise errors.InvalidArchitectureError(
          f"nb101: vertex {k} has op {name!r}; only the first vertex is 'input' and the "
          f"last 'output', the others take one of {list(NB101_OPS)}")
  return names


def _check_acyclic(m: np.ndarray) -> None:
  """nasbench wants vertices in topological order: no entry on or below the diagonal."""
  back = np.argwhere(np.tril(m) != 0)
  if back.size:
    i, j = (int(x) for x in back[0])
    raise errors.CycleError(
        f"nb101: edge {i}->{j} does not go forward (source {i} >= target {j}); the matrix "
        "must be strictly upper-triangular (vertices in topological order), so the graph "
        "is a DAG")


def prune_spec(matrix, ops) -> tuple[np.ndarray, list[str]]:
  """Validates a spec and removes vertices on no input -> output path.

  Args:
    matrix: ``[V, V]`` 0/1 upper-triangular adjacency (nested lists or array).
    ops: ``[V]`` op names (long names or the aliases in ``OP_ALIASES``).

  Returns:
    ``(matrix [V', V'] int32, ops [V'])``, the pruned spec.

  Raises:
    WrongLengthError, UnknownOpError, CycleError, DisconnectedError,
    TooManyEdgesError, InvalidArchitectureError: naming the problem.
  """
  m = _as_matrix(matrix)
  names = _check_ops(ops, m.shape[0])
  _check_acyclic(m)
  v = m.shape[0]
  live = graph_hash.live_nodes(m[None].astype(bool), np.ones((1, v), bool), 0, v - 1)[0]
  if not live[v - 1]:
    raise errors.DisconnectedError(
        f"nb101: the output (vertex {v - 1}) is not reachable from the input (vertex 0)")
  keep = np.nonzero(live)[0]
  pm = m[np.ix_(keep, keep)]
  pops = [names[k] for k in keep]
  if keep.size > NUM_VERTICES:
    raise errors.TooManyEdgesError(
        f"nb101: {keep.size} vertices after pruning, at most {NUM_VERTICES} are allowed")
  if int(pm.sum()) > MAX_EDGES:
    raise errors.TooManyEdgesError(
        f"nb101: {int(pm.sum())} edges after pruning, at most {MAX_EDGES} are allowed")
  return pm, pops


def spec_string(matrix: np.ndarray, ops: Sequence[str]) -> str:
  """The string form of a (pruned) spec, see the module docstring."""
  rows = ",".join("".join(str(int(x)) for x in row) for row in np.asarray(matrix))
  return f"{rows}:{','.join(ops)}"


class NB101Space(base.Space):
  """The NAS-Bench-101 cell space (423,624 distinct cells up to isomorphism).

  See the module docstring for the encoding and string form. ``sample`` draws
  encodings uniformly among the valid ones (rejection sampling: uniform
  adjacency bits and ops, kept when the pruned spec is valid), which is how
  nasbench's own ``random_spec`` samples, so it is *not* uniform over the
  423,624 isomorphism classes: cells that prune to few vertices are drawn far
  more often (300 draws hold only about 170 distinct cells). ``mutate`` flips one bit or changes one op and
  may, like nasbench's mutation, yield an encoding that prunes to the same cell.
  """

  name = "nb101"
  spec = "nb101"
  node_vocab = NODE_VOCAB
  max_nodes = NUM_VERTICES
  # Benchmark tables hold one row per isomorphism class (checked on load).
  tables_are_canonical = True

  def __init__(self):
    super().__init__([2] * NUM_EDGE_POSITIONS + [len(NB101_OPS)] * NUM_OP_POSITIONS)

  # ----------------------------------------------------------- specs
  def from_spec(self, matrix, ops) -> base.Encoding:
    """Encoding ``[26]`` of a spec, pruned first (any V <= 7 after pruning).

    Args:
      matrix: ``[V, V]`` 0/1 upper-triangular adjacency.
      ops: ``[V]`` op names, ``input`` first and ``output`` last.
    """
    pm, pops = prune_spec(matrix, ops)
    v = pm.shape[0]
    # Pruned vertices 0..V-2 stay in place, the output moves to vertex 6.
    where = np.asarray(list(range(v - 1)) + [NUM_VERTICES - 1])
    full = np.zeros((NUM_VERTICES, NUM_VERTICES), np.int32)
    full[np.ix_(where, where)] = pm
    enc = np.zeros(self.num_positions, np.int32)
    enc[:NUM_EDGE_POSITIONS] = full[_ROWS, _COLS]
    for k in range(1, v - 1):
      enc[NUM_EDGE_POSITIONS + k - 1] = NB101_OPS.index(pops[k])
    return enc

  def to_spec(self, encoding: base.Encoding) -> tuple[np.ndarray, list[str]]:
    """The pruned spec ``(matrix [V, V] int32, ops [V])`` of an encoding ``[26]``."""
    enc = self.validate(encoding)
    adj, live, _ = self._prune(enc[None])
    keep = np.nonzero(live[0])[0]
    ops = [INPUT] + [NB101_OPS[int(o)] for o in enc[NUM_EDGE_POSITIONS:]] + [OUTPUT]
    return adj[0][np.ix_(keep, keep)].astype(np.int32), [ops[k] for k in keep]

  @staticmethod
  def _adjacency(enc: np.ndarray) -> np.ndarray:
    """bool ``[N, 7, 7]`` unpruned adjacency of encodings ``[N, 26]``."""
    adj = np.zeros((enc.shape[0], NUM_VERTICES, NUM_VERTICES), bool)
    adj[:, _ROWS, _COLS] = enc[:, :NUM_EDGE_POSITIONS] == 1
    return adj

  def _prune(self, enc: np.ndarray):
    """Pruning of in-range encodings ``[N, 26]`` (vectorised).

    Returns:
      ``(adjacency [N, 7, 7] bool among live vertices, live [N, 7] bool,
      num_edges [N] int)``; ``live`` is all False when the output is
      unreachable from the input.
    """
    adj = self._adjacency(enc)
    live = graph_hash.live_nodes(adj, np.ones(adj.shape[:2], bool), 0, NUM_VERTICES - 1)
    adj = adj & live[:, :, None] & live[:, None, :]
    return adj, live, adj.sum(axis=(1, 2))

  # ----------------------------------------------------------- string form
  def parse(self, text: str) -> base.Encoding:
    if not isinstance(text, str):
      raise errors.InvalidArchitectureError(
          f"nb101: expected an architecture string, got {type(text).__name__} {text!r}")
    s = text.strip()
    if s.startswith("{"):
      return self._parse_json(s)
    rows_text, sep, ops_text = s.partition(":")
    if not sep:
      raise errors.InvalidArchitectureError(
          f"nb101: {text!r} is neither 'rows:ops' (e.g. '01,00:input,output') nor a JSON "
          "object with 'matrix' and 'ops'")
    rows = [r.strip() for r in rows_text.split(",")]
    for k, row in enumerate(rows):
      if not row or any(ch not in "01" for ch in row):
        raise errors.InvalidArchitectureError(
            f"nb101: matrix row {k} of {text!r} is {row!r}; rows are strings of 0 and 1")
      if len(row) != len(rows):
        raise errors.WrongLengthError(
            f"nb101: matrix row {k} of {text!r} has {len(row)} entries but there are "
            f"{len(rows)} rows; the matrix must be square")
    matrix = [[int(ch) for ch in row] for row in rows]
    return self.from_spec(matrix, ops_text.split(","))

  def _parse_json(self, text: str) -> base.Encoding:
    try:
      obj = json.loads(text)
    except (ValueError, RecursionError) as e:
      raise errors.InvalidArchitectureError(f"nb101: {text!r} is not valid JSON ({e})") from None
    if not isinstance(obj, dict) or "matrix" not in obj or "ops" not in obj:
      raise errors.InvalidArchitectureError(
          f"nb101: JSON spec {text!r} must be an object with keys 'matrix' and 'ops'")
    return self.from_spec(obj["matrix"], obj["ops"])

  def format(self, encoding: base.Encoding) -> str:
    return spec_string(*self.to_spec(encoding))

  # ----------------------------------------------------------- validity
  def is_valid(self, encodings: base.Encodings) -> np.ndarray:
    enc = np.asarray(encodings).reshape(-1, self.num_positions)
    ok = super().is_valid(enc)
    if enc.shape[0]:
      _, live, num_edges = self._prune(np.where(ok[:, None], enc, 0))
      ok &= live[:, -1] & (num_edges <= MAX_EDGES)
    return ok

  def validate(self, encoding: base.Encoding) -> base.Encoding:
    enc = super().validate(encoding)
    _, live, num_edges = self._prune(enc[None])
    if not live[0, -1]:
      raise errors.DisconnectedError(
          f"nb101: encoding {enc.tolist()}: the output is not reachable from the input")
    if num_edges[0] > MAX_EDGES:
      raise errors.TooManyEdgesError(
          f"nb101: encoding {enc.tolist()} has {int(num_edges[0])} edges after pruning, "
          f"at most {MAX_EDGES} are allowed")
    return enc

  # ----------------------------------------------------------- identity
  def canonical_id(self, encoding: base.Encoding) -> str:
    """nasbench's module hash of the pruned spec (the official API's id)."""
    matrix, ops = self.to_spec(encoding)
    labeling = [-1] + [NB101_OPS.index(op) for op in ops[1:-1]] + [-2]
    return graph_hash.hash_module(matrix, labeling)

  # ----------------------------------------------------------- graphs
  def to_graphs(self, encodings: base.Encodings) -> base.DenseGraphs:
    """Pruned cells as 7-node DAGs; vertices keep their encoding positions.

    Args:
      encodings: ``[N, 26]``.

    Returns:
      DenseGraphs with ``node_ops`` / ``node_mask`` ``[N, 7]`` and
      ``adjacency`` ``[N, 7, 7]``. Pruned vertices are masked out; input and
      output are always present (an invalid row becomes two unlinked nodes).
    """
    enc = np.asarray(encodings, dtype=np.int32).reshape(-1, self.num_positions)
    in_range = base.Space.is_valid(self, enc)
    adj, live, _ = self._prune(np.where(in_range[:, None], enc, 0))
    mask = live.copy()
    mask[:, 0] = True
    mask[:, -1] = True
    node_ops = np.zeros(mask.shape, np.int32)
    node_ops[:, 0] = NODE_VOCAB.index(INPUT)
    node_ops[:, -1] = NODE_VOCAB.index(OUTPUT)
    ops = np.clip(enc[:, NUM_EDGE_POSITIONS:], 0, len(NB101_OPS) - 1)
    node_ops[:, 1:-1] = _OP_TO_VOCAB[ops]
    node_ops = np.where(mask, node_ops, 0).astype(np.int32)
    return base.DenseGraphs(node_ops=node_ops, node_mask=mask, adjacency=adj)
