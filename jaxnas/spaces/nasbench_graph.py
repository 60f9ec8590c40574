"""NAS-Bench-Graph space (Qin et al., NeurIPS 2022 Datasets & Benchmarks).

A GNN "cell" of four operations. Op ``i`` (0..3) reads from one earlier node,
``link[i]`` in ``0..i``: 0 is the cell input, ``k >= 1`` the output of op
``k - 1``. Ops whose output no other op reads (the leaves) are combined into the
cell output. Ops are ``gat, gcn, gin, cheb, sage, arma, graph, fc, skip``; the
``proteins`` variant of the benchmark only trained ``gcn, sage, arma, fc, skip``.

Encoding (``D = 8``): positions 0..3 are ``link[0..3]`` (cardinalities 1, 2, 3,
4) and positions 4..7 the op indices into :attr:`NasBenchGraphSpace.ops` (9, or
5 for proteins). That is 24 * 9^4 = 157,464 combinations (24 * 5^4 = 15,000 for
proteins), of which many are isomorphic: the benchmark has 26,206 distinct
architectures (2,021 for proteins).

String form: the four links, a colon, the four op names, comma-separated::

    0,0,1,2:gcn,gat,skip,fc

Identity: the ``nas-bench-graph`` wheel (Apache-2.0, see
``third_party/nas_bench_graph/NOTICE``) keys its tables by
``Arch(link, ops).valid_hash()``, which canonicalises isomorphic architectures
(``regularize`` -> ``move_skip_op`` -> ``equalpart_sort`` -> ``hash_arch``).
The key is a base-10 number whose first digit is the index of the canonical link
pattern in the wheel's ``link_list`` and whose last four digits are the
canonical ops as indices into the wheel's 9-op ``gnn_list`` (also for proteins).
We reimplement that canonicalisation without importing the wheel (it is an
optional dependency) and without Python loops over architectures: the wheel's
link/skip rewrites depend only on the link pattern and on which ops are
``skip`` (24 x 16 cases), so they are precomputed as a permutation table and the
op-dependent sorting is vectorised. The tests check equality with the wheel's
``valid_hash`` on all 157,464 combinations.

The all-``skip`` cell (wheel key 88888) is not in the benchmark (the wheel's
``all_archs`` skips it), so it is not a valid architecture here; every other
combination is.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from jaxnas import errors
from jaxnas.spaces import base

__all__ = ["ALL_LINKS", "ALL_SKIP_KEY", "GNN_OPS", "LINK_LIST", "NUM_OPS", "NUM_POSITIONS",
           "NasBenchGraphSpace", "PROTEINS_OPS", "wheel_valid_hash"]

# The wheel's op list; wheel keys index into it for every dataset.
GNN_OPS = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
PROTEINS_OPS = ("gcn", "sage", "arma", "fc", "skip")
NUM_OPS = 4
NUM_POSITIONS = 2 * NUM_OPS
_SKIP = GNN_OPS.index("skip")

# The wheel's canonical link patterns; the first digit of a key indexes this.
LINK_LIST = (
    (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 1), (0, 0, 1, 2), (0, 0, 1, 3),
    (0, 1, 1, 1), (0, 1, 1, 2), (0, 1, 2, 2), (0, 1, 2, 3),
)
# Every link vector link[i] in 0..i, in mixed-radix order (link[3] fastest),
# which is also the order of combination indices of the encoding.
ALL_LINKS = tuple((0, a, b, c) for a in range(2) for b in range(3) for c in range(4))
ALL_SKIP_KEY = 88888  # valid_hash of any all-skip cell; not in the benchmark.
_KEY_BASE = len(GNN_OPS) + 1  # hash_arch's base: 10, whatever the dataset.

# regularize(): non-canonical link -> (canonical link, new op order as indices
# into the old ops). Copied from the wheel's Arch.regularize.
_REGULARIZE = {
    (0, 0, 0, 2): ((0, 0, 0, 1), (1, 0, 2, 3)),
    (0, 0, 0, 3): ((0, 0, 0, 1), (2, 0, 1, 3)),
    (0, 0, 1, 0): ((0, 0, 0, 1), (0, 1, 3, 2)),
    (0, 0, 2, 0): ((0, 0, 0, 1), (1, 0, 3, 2)),
    (0, 0, 2, 1): ((0, 0, 1, 2), (1, 0, 2, 3)),
    (0, 0, 2, 2): ((0, 0, 1, 1), (1, 0, 2, 3)),
    (0, 0, 2, 3): ((0, 0, 1, 3), (1, 0, 2, 3)),
    (0, 1, 0, 0): ((0, 0, 0, 1), (0, 2, 3, 1)),
    (0, 1, 0, 1): ((0, 0, 1, 1), (0, 2, 1, 3)),
    (0, 1, 0, 2): ((0, 0, 1, 3), (0, 2, 1, 3)),
    (0, 1, 0, 3): ((0, 0, 1, 2), (0, 2, 1, 3)),
    (0, 1, 1, 0): ((0, 0, 1, 1), (0, 3, 1, 2)),
    (0, 1, 1, 3): ((0, 1, 1, 2), (0, 2, 1, 3)),
    (0, 1, 2, 0): ((0, 0, 1, 3), (0, 3, 1, 2)),
    (0, 1, 2, 1): ((0, 1, 1, 2), (0, 1, 3, 2)),
}


def _move_skip_op(link: list[int], ops: list[int], is_skip) -> tuple[list[int], list[int]]:
  """The wheel's ``Arch.move_skip_op`` on op *placeholders*.

  ``ops`` holds original op positions and ``is_skip(op)`` says whether that op
  is ``skip``: the rewrite only ever asks that question, so running it on
  placeholders yields the permutation it applies to any ops with the same skip
  pattern. The statement order (including the quirks) mirrors the wheel.
  """
  link = link[:]
  ops = ops[:]

  def move_one(k, link, ops):
    ops = [ops[k]] + ops[:k] + ops[k + 1:]
    for i, father in enumerate(link):
      if father == k + 1:
        link[i] = link[k]
      if father <= k:
        link[i] = link[i] + 1
    link = [0] + link[:k] + link[k + 1:]
    return link, ops

  def check_dim(k, link, ops):
    while k > -1:
      if not is_skip(ops[k]):
        return False
      k = link[k] - 1
    return True

  for i in range(len(link)):
    if not is_skip(ops[i]):
      continue
    son = False
    brother = False
    for j, fa in enumerate(link):
      if fa == i + 1:
        son = True
      elif j != i and fa == link[i]:
        brother = True
    if son or not brother or check_dim(i, link, ops) and not son:
      link, ops = move_one(i, link, ops)

  if link == [0, 1, 2, 1]:
    link = [0, 1, 1, 2]
    ops = ops[:2] + [ops[3], ops[2]]
  elif link == [0, 1, 1, 3]:
    link = [0, 1, 1, 2]
    ops = [ops[0], ops[2], ops[1], ops[3]]
  return link, ops


@functools.lru_cache(maxsize=None)
def _rewrite_plan() -> tuple[np.ndarray, np.ndarray]:
  """Link/skip rewrites of ``valid_hash`` before the op sort, as tables.

  Returns:
    ``(link_index [24, 16], perm [24, 16, 4])`` indexed by (link vector id in
    :data:`ALL_LINKS`, skip bitmask with bit ``i`` set when op ``i`` is skip):
    the canonical link's index in :data:`LINK_LIST` and the original op
    position that ends up at each canonical position.
  """
  link_index = np.zeros((len(ALL_LINKS), 16), np.int64)
  perm = np.zeros((len(ALL_LINKS), 16, NUM_OPS), np.int64)
  for li, lk in enumerate(ALL_LINKS):
    for mask in range(16):
      link, order = _REGULARIZE.get(lk, (lk, (0, 1, 2, 3)))
      link, ops = _move_skip_op(list(link), list(order), lambda p, m=mask: bool(m >> p & 1))
      # The wheel's hash_arch fails on links outside link_list; checked
      # exhaustively here so a future change of the rules cannot go unnoticed.
      assert tuple(link) in LINK_LIST, (lk, mask, link)
      link_index[li, mask] = LINK_LIST.index(tuple(link))
      perm[li, mask] = ops
  return link_index, perm


# equalpart_sort(): canonical link index -> op positions sorted among themselves
# (interchangeable leaves / siblings). Link 3, (0,0,1,2), swaps whole chains.
_SORT_GROUPS = {0: (0, 1, 2, 3), 1: (1, 2), 2: (2, 3), 5: (1, 2, 3), 7: (2, 3)}
_CHAINS_LINK = 3


def wheel_valid_hash(links: np.ndarray, gnn_ops: np.ndarray) -> np.ndarray:
  """Vectorised ``Arch(link, ops).valid_hash()`` of the wheel.

  Args:
    links: int ``[N, 4]``, ``links[:, i]`` in ``0..i``.
    gnn_ops: int ``[N, 4]``, indices into :data:`GNN_OPS` (the 9-op list).

  Returns:
    int64 ``[N]`` wheel keys (:data:`ALL_SKIP_KEY` for all-skip cells).
  """
  links = np.asarray(links, np.int64).reshape(-1, NUM_OPS)
  gnn_ops = np.asarray(gnn_ops, np.int64).reshape(-1, NUM_OPS)
  link_index, perm = _rewrite_plan()
  link_id = links[:, 1] * 12 + links[:, 2] * 4 + links[:, 3]
  mask = ((gnn_ops == _SKIP) * (1 << np.arange(NUM_OPS))).sum(axis=1)
  canon_link = link_index[link_id, mask]  # [N]
  ops = np.take_along_axis(gnn_ops, perm[link_id, mask], axis=1)  # [N, 4]
  for li, ids in _SORT_GROUPS.items():
    rows = canon_link == li
    cols = np.asarray(ids)
    ops[np.ix_(rows, cols)] = np.sort(ops[np.ix_(rows, cols)], axis=1)
  # sort0012: order the two chains (op0 -> op2) and (op1 -> op3).
  swap = (canon_link == _CHAINS_LINK) & (
      (ops[:, 0] > ops[:, 1]) | ((ops[:, 0] == ops[:, 1]) & (ops[:, 2] > ops[:, 3])))
  ops[swap] = ops[swap][:, [1, 0, 3, 2]]
  key = canon_link
  for i in range(NUM_OPS):
    key = key * _KEY_BASE + ops[:, i]
  return key


class NasBenchGraphSpace(base.Space):
  """The NAS-Bench-Graph space; see the module docstring.

  Args:
    proteins: use the 5-op list of the ``proteins`` dataset.

  Attributes:
    ops: the op names, in encoding order.
    tables_are_canonical: benchmark tables hold one row per isomorphism class.
  """

  tables_are_canonical = True

  def __init__(self, proteins: bool = False):
    self.proteins = bool(proteins)
    self.name = "nasbench_graph_proteins" if self.proteins else "nasbench_graph"
    self.spec = self.name
    self.ops = PROTEINS_OPS if self.proteins else GNN_OPS
    super().__init__([1, 2, 3, 4] + [len(self.ops)] * NUM_OPS)
    self.node_vocab = ("input", "output") + self.ops
    self.max_nodes = NUM_OPS + 2
    self.skip_index = self.ops.index("skip")
    self._op_index = {o: k for k, o in enumerate(self.ops)}
    # Our op index -> wheel (gnn_list) index, and back (-1: not in this space).
    self._to_gnn = np.asarray([GNN_OPS.index(o) for o in self.ops], np.int64)
    self._from_gnn = np.full(len(GNN_OPS), -1, np.int64)
    self._from_gnn[self._to_gnn] = np.arange(len(self.ops))
    self._radix = np.asarray(
        [int(np.prod(self.cardinalities[p + 1:])) for p in range(NUM_POSITIONS)], np.int64)

  # ----------------------------------------------------------- lookup tables
  @functools.cached_property
  def _key_table(self) -> np.ndarray:
    """int64 ``[num_combinations]``: wheel key of each combination, -1 if invalid.

    Built once per space object (~60 ms) so that validity and identity of any
    batch are single gathers.
    """
    idx = np.arange(self.num_combinations, dtype=np.int64)
    enc = (idx[:, None] // self._radix) % self.cardinalities.astype(np.int64)
    keys = wheel_valid_hash(enc[:, :NUM_OPS], self._to_gnn[enc[:, NUM_OPS:]])
    return np.where(keys == ALL_SKIP_KEY, -1, keys)

  @functools.cached_property
  def _distinct(self) -> tuple[np.ndarray, np.ndarray]:
    """``(keys [M], encodings [M, D])``: every architecture once, by wheel key.

    The encoding of a key is the wheel's own canonical form of it (the key's
    digits), the one ``from_wheel_key`` returns.
    """
    keys = np.unique(self._key_table[self._key_table >= 0])
    return keys, self._decode(keys)

  @functools.cached_property
  def _distinct_rows(self) -> dict[int, int]:
    """Wheel key -> row of ``_distinct`` (for per-key lookups without numpy)."""
    return {k: i for i, k in enumerate(self._distinct[0].tolist())}

  def _in_range(self, enc: np.ndarray) -> np.ndarray:
    return np.all((enc >= 0) & (enc < self.cardinalities), axis=-1)

  def _combination_index(self, enc: np.ndarray) -> np.ndarray:
    return (np.asarray(enc, np.int64) * self._radix).sum(axis=-1)

  def _decode(self, keys: np.ndarray) -> np.ndarray:
    """Digits of keys ``[N]`` -> encodings ``[N, D]`` (no checks)."""
    keys = np.asarray(keys, np.int64)
    digits = (keys[:, None] // _KEY_BASE ** np.arange(NUM_OPS, -1, -1)) % _KEY_BASE
    enc = np.zeros((keys.shape[0], NUM_POSITIONS), np.int32)
    enc[:, :NUM_OPS] = np.asarray(LINK_LIST, np.int32)[np.minimum(digits[:, 0], len(LINK_LIST) - 1)]
    enc[:, NUM_OPS:] = self._from_gnn[np.minimum(digits[:, 1:], len(GNN_OPS) - 1)]
    return enc

  # ----------------------------------------------------------- wheel keys
  def wheel_keys(self, encodings: base.Encodings) -> np.ndarray:
    """Wheel keys ``[N]`` (int64) of encodings ``[N, D]``; -1 for invalid rows."""
    enc = np.asarray(encodings).reshape(-1, self.num_positions)
    ok = self._in_range(enc)
    keys = self._key_table[self._combination_index(np.where(ok[:, None], enc, 0))]
    return np.where(ok, keys, -1)

  def to_wheel_key(self, encoding: base.Encoding) -> int:
    """The wheel's ``Arch(link, ops).valid_hash()`` of one valid encoding ``[D]``."""
    enc = self.validate(encoding)
    # Scalar path (no batch arrays): tables and Benchmark.rows call this per row.
    return int(self._key_table[int(enc.astype(np.int64) @ self._radix)])

  def from_wheel_keys(self, keys) -> base.Encodings:
    """Canonical encodings ``[N, D]`` of wheel keys ``[N]``.

    Raises:
      OutOfDomainError: a key that is not the key of an architecture of this
        space (not canonical, all-skip, or an op outside the proteins list).
    """
    keys = np.asarray(keys)
    if keys.ndim != 1 or (keys.size and not np.issubdtype(keys.dtype, np.integer)):
      raise errors.InvalidArchitectureError(
          f"{self.name}: wheel keys must be a 1-D array of ints, got {keys!r:.80}")
    known, _ = self._distinct
    pos = np.minimum(np.searchsorted(known, keys), known.size - 1)
    bad = np.nonzero(known[pos] != keys)[0]
    if bad.size:
      k = int(keys[bad[0]])
      raise errors.OutOfDomainError(
          f"{self.name}: {k} is not the wheel key (Arch.valid_hash()) of any "
          f"architecture of this space ({bad.size} of {keys.size} keys unknown)")
    return self._decode(keys)

  def from_wheel_key(self, key: int) -> base.Encoding:
    """Canonical encoding ``[D]`` of one wheel key (see :meth:`from_wheel_keys`)."""
    if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
      raise errors.InvalidArchitectureError(
          f"{self.name}: a wheel key is an int, got {type(key).__name__} {key!r:.80}")
    row = self._distinct_rows.get(int(key))
    if row is None:
      return self.from_wheel_keys(np.asarray([key], np.int64))[0]  # raises
    return self._distinct[1][row].copy()

  # ----------------------------------------------------------- string form
  def to_link_ops(self, encoding: base.Encoding) -> tuple[list[int], list[str]]:
    """``(link, ops)`` as the wheel's ``Arch(link, ops)`` takes them."""
    enc = base.Space.validate(self, encoding)
    return [int(v) for v in enc[:NUM_OPS]], [self.ops[int(v)] for v in enc[NUM_OPS:]]

  def from_link_ops(self, link, ops, *, text: str | None = None) -> base.Encoding:
    """Validated encoding ``[D]`` of a wheel-style ``(link, ops)`` pair."""
    where = f" of {text!r}" if text is not None else ""
    link, ops = list(link), list(ops)
    if len(link) != NUM_OPS:
      raise errors.WrongLengthError(
          f"{self.name}: {len(link)} links{where}, expected {NUM_OPS}")
    if len(ops) != NUM_OPS:
      raise errors.WrongLengthError(
          f"{self.name}: {len(ops)} ops{where}, expected {NUM_OPS}")
    enc = np.zeros(NUM_POSITIONS, np.int32)
    for i, v in enumerate(link):
      if isinstance(v, str):
        v = v.strip()
        # ASCII digits only: int() also takes '+1', '1_0' and other scripts.
        v = int(v) if v.isascii() and v.isdigit() and len(v) < 4 else v
      if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= i:
        raise errors.InvalidArchitectureError(
            f"{self.name}: link {i}{where} is {v!r}, expected an integer in 0..{i} "
            f"(0 = input, k = output of op k-1)")
      enc[i] = v
    for i, o in enumerate(ops):
      name = o.strip() if isinstance(o, str) else o
      if name not in self._op_index:
        hint = " (not trained on proteins)" if self.proteins and name in GNN_OPS else ""
        raise errors.UnknownOpError(
            f"{self.name}: unknown op {o!r} at op position {i}{where}{hint}; expected "
            f"one of {list(self.ops)}")
      enc[NUM_OPS + i] = self._op_index[name]
    return self.validate(enc)

  def parse(self, text: str) -> base.Encoding:
    if not isinstance(text, str):
      raise errors.InvalidArchitectureError(
          f"{self.name}: expected an architecture string, got {type(text).__name__} {text!r:.80}")
    parts = text.strip().split(":")
    if len(parts) != 2:
      raise errors.InvalidArchitectureError(
          f"{self.name}: {text!r} is not 'links:ops' (e.g. '0,0,1,2:gcn,gat,skip,fc')")
    return self.from_link_ops(parts[0].split(","), parts[1].split(","), text=text)

  def format(self, encoding: base.Encoding) -> str:
    # Range checks only: the all-skip cell can still be named in messages.
    link, ops = self.to_link_ops(encoding)
    return ",".join(map(str, link)) + ":" + ",".join(ops)

  # ----------------------------------------------------------- validity
  def is_valid(self, encodings: base.Encodings) -> np.ndarray:
    enc = np.asarray(encodings)
    if enc.shape[-1:] != (self.num_positions,) or not np.issubdtype(enc.dtype, np.integer):
      return np.zeros(enc.shape[:-1], bool)
    return (self.wheel_keys(enc) >= 0).reshape(enc.shape[:-1])

  def validate(self, encoding: base.Encoding) -> base.Encoding:
    enc = np.asarray(encoding)
    if enc.ndim != 1 or enc.shape[0] != self.num_positions:
      raise errors.WrongLengthError(
          f"{self.name}: expected {self.num_positions} positions (4 links, 4 ops), "
          f"got shape {tuple(enc.shape)}")
    if not np.issubdtype(enc.dtype, np.integer):
      raise errors.InvalidArchitectureError(
          f"{self.name}: encoding must hold integers, got dtype {enc.dtype}")
    vals = enc.tolist()  # Python ints: per-row checks are ~5x faster than numpy scalars
    for i, v in enumerate(vals[:NUM_OPS]):
      if not 0 <= v <= i:
        raise errors.InvalidArchitectureError(
            f"{self.name}: link {i} is {v}, expected 0..{i} (0 = input, k = output of op k-1)")
    for i, v in enumerate(vals[NUM_OPS:]):
      if not 0 <= v < len(self.ops):
        raise errors.UnknownOpError(
            f"{self.name}: op index {v} at op position {i}, expected 0..{len(self.ops) - 1} "
            f"({list(self.ops)})")
    if all(v == self.skip_index for v in vals[NUM_OPS:]):
      raise errors.OutOfDomainError(
          f"{self.name}: an all-skip cell is not an architecture of NAS-Bench-Graph "
          "(the benchmark excludes it)")
    return enc.astype(np.int32)

  # ----------------------------------------------------------- identity
  def canonical_id(self, encoding: base.Encoding) -> str:
    """The wheel key (``Arch.valid_hash()``) as a string."""
    return str(self.to_wheel_key(encoding))

  def canonical_ids(self, encodings: base.Encodings) -> list[str]:
    enc = np.asarray(encodings).reshape(-1, self.num_positions)
    keys = self.wheel_keys(enc)
    if np.any(keys < 0):
      self.validate(enc[int(np.nonzero(keys < 0)[0][0])])  # raises the precise error
    return [str(k) for k in keys.tolist()]

  def canonicalize(self, encodings: base.Encodings) -> base.Encodings:
    """The wheel's canonical encoding ``[N, D]`` of each valid row ``[N, D]``."""
    enc = np.asarray(encodings).reshape(-1, self.num_positions)
    keys = self.wheel_keys(enc)
    if np.any(keys < 0):
      self.validate(enc[int(np.nonzero(keys < 0)[0][0])])
    return self._decode(keys)

  # ----------------------------------------------------------- size / enumeration
  @property
  def num_architectures(self) -> int:
    """Distinct (non-isomorphic) architectures: 26,206 (2,021 for proteins)."""
    return int(self._distinct[0].size)

  def enumerate(self) -> base.Encodings:
    """Every distinct architecture once ``[M, D]``, canonical, by wheel key.

    Unlike the base class this does not list all valid combinations: ~6 of them
    encode each architecture, and ranking the space should rank each once.
    ``decode_index`` / ``iterate_chunks`` still walk every combination.
    """
    return self._distinct[1].copy()

  def sample(self, key: jax.Array, n: int, *, unique: bool = False) -> base.Encodings:
    """Uniform samples ``[n, D]`` of architectures (canonical encodings).

    Uniform over isomorphism classes, not over encodings: drawing encodings
    would favour architectures with many encodings up to 24 times. ``unique``
    draws without replacement (``n`` different architectures).
    """
    keys, enc = self._distinct
    if unique:
      if n > keys.size:
        raise errors.ConfigError(
            f"{self.name}: cannot draw {n} distinct architectures from {keys.size}")
      return enc[np.asarray(jax.random.permutation(key, keys.size))[:n]]
    rows = np.asarray(jax.random.randint(key, (n,), 0, keys.size))
    return enc[rows]

  def mutate(self, key: jax.Array, encodings: base.Encodings) -> base.Encodings:
    """One random one-edit neighbour per row that is a *different* architecture.

    The distribution is the base class's (a uniform position with more than
    one choice, then a uniform different value, redrawn until acceptable),
    with edits that give an isomorphic cell also rejected: an edit of a link
    between interchangeable ops, or of ops that ``skip`` makes irrelevant.
    Rejection sampling equals drawing from the proposal renormalised over the
    acceptable edits, so all 38 edits of a row are scored at once and one is
    drawn by Gumbel-max: a single fixed-shape random draw, no retry loop.
    """
    enc = np.asarray(encodings, np.int32).reshape(-1, self.num_positions)
    n = enc.shape[0]
    if n == 0:
      return enc.copy()
    pos, shift, logp = self._edits
    cand = np.repeat(enc[:, None], pos.size, axis=1)  # [N, E, D]
    cand[:, np.arange(pos.size), pos] = (enc[:, pos] + shift) % self.cardinalities[pos]
    keys = self.wheel_keys(cand.reshape(-1, self.num_positions)).reshape(n, pos.size)
    ok = (keys >= 0) & (keys != self.wheel_keys(enc)[:, None])
    if not ok.any(axis=1).all():
      raise errors.ConfigError(f"{self.name}: some rows have no non-isomorphic mutant")
    gumbel = np.asarray(jax.random.gumbel(key, (n, pos.size)))
    pick = np.argmax(np.where(ok, logp + gumbel, -np.inf), axis=1)
    return cand[np.arange(n), pick]

  @functools.cached_property
  def _edits(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All one-position edits: ``(position [E], shift [E], log proposal [E])``."""
    mutable = np.nonzero(self.cardinalities > 1)[0]
    pos = np.concatenate([np.full(self.cardinalities[p] - 1, p) for p in mutable])
    shift = np.concatenate([np.arange(1, self.cardinalities[p]) for p in mutable])
    logp = -np.log(mutable.size) - np.log(self.cardinalities[pos] - 1.0)
    return pos, shift, logp

  def neighbours(self, encoding: base.Encoding) -> base.Encodings:
    """Valid one-edit neighbours ``[M, D]``, one per distinct architecture."""
    enc = self.validate(encoding)
    cand = super().neighbours(enc)
    keys = self.wheel_keys(cand)
    _, first = np.unique(keys, return_index=True)
    first = np.sort(first)
    first = first[keys[first] != self.wheel_keys(enc[None])[0]]
    return cand[first]

  # ----------------------------------------------------------- graphs
  def to_graphs(self, encodings: base.Encodings) -> base.DenseGraphs:
    """Dense DAGs: input (node 0), ops 0..3 (nodes 1..4), output (node 5).

    Edge ``link[i] -> i + 1`` feeds op ``i``; every leaf op feeds the output.
    ``skip`` stays a node (a GNN can learn it is an identity).
    """
    enc = np.asarray(encodings, np.int32).reshape(-1, self.num_positions)
    b = enc.shape[0]
    v = self.max_nodes
    out = v - 1
    node_ops = np.empty((b, v), np.int32)
    node_ops[:, 0] = 0
    node_ops[:, 1:out] = enc[:, NUM_OPS:] + 2
    node_ops[:, out] = 1
    adj = np.zeros((b, v, v), bool)
    rows = np.arange(b)
    for i in range(NUM_OPS):
      # Link value k is node k: 0 = input, k = op k-1 = node k.
      adj[rows, enc[:, i], i + 1] = True
    leaf = ~adj[:, 1:out, 1:out].any(axis=2)  # [B, 4]: op feeds no other op
    adj[:, 1:out, out] = leaf
    return base.DenseGraphs(node_ops=node_ops, node_mask=np.ones((b, v), bool), adjacency=adj)
