"""Chain spaces: L positions in a row, each with its own list of choices.

Examples: NAS-Bench-Macro (8 layers x {identity, mb3_k3, mb6_k5}), per-layer
channel widths (``[16, 32, 64]`` at every layer), kernel sizes, expansion ratios.

String form: the chosen names joined by ``|``, one per position::

    mb3_k3|identity|mb6_k5|mb6_k5|identity|mb3_k3|mb3_k3|identity

Graphs are chains ``input -> p0 -> p1 -> ... -> output``. A choice named
``identity`` or ``skip`` is pruned from the graph (its neighbours are joined),
so architectures that differ only by where identities sit keep their order of
real layers. Node features are the choice names, shared across positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jaxnas import errors
from jaxnas.spaces import base

IDENTITY_NAMES = ("identity", "skip", "skip_connect", "id")


class ChainSpace(base.Space):
  """A chain of positions with per-position choices.

  Args:
    choices: one list of choice names per position (names may repeat across
      positions; ``"32"`` style widths are fine).
    name: the space's name.
    max_positions: refuse larger chains than this.
  """

  def __init__(self, choices: Sequence[Sequence[str]], *, name: str = "chain",
               max_positions: int = 256):
    if isinstance(choices, str) or not len(choices):
      raise errors.ConfigError(f"choices must be a non-empty list of lists, got {choices!r}")
    if len(choices) > max_positions:
      raise errors.TooManyEdgesError(
          f"{name}: {len(choices)} positions exceed the limit of {max_positions}")
    self.choices = tuple(tuple(str(c) for c in cs) for cs in choices)
    for p, cs in enumerate(self.choices):
      if not cs or len(set(cs)) != len(cs):
        raise errors.ConfigError(f"{name}: position {p} needs distinct choices, got {cs!r}")
      for c in cs:
        if not c or "|" in c or c != c.strip():
          raise errors.ConfigError(
              f"{name}: choice {c!r} at position {p} may not be empty, contain '|' or "
              "start or end with whitespace")
    self.name = name
    super().__init__([len(cs) for cs in self.choices])
    vocab = sorted({c for cs in self.choices for c in cs})
    self.node_vocab = ("input", "output") + tuple(vocab)
    self.max_nodes = len(self.choices) + 2
    vocab_index = {c: i + 2 for i, c in enumerate(vocab)}
    width = int(self.cardinalities.max())
    # [L, max_choices] choice -> node-vocab id (0 where the choice does not exist).
    self._node_id = np.zeros((len(self.choices), width), np.int32)
    self._is_identity = np.zeros((len(self.choices), width), bool)
    for p, cs in enumerate(self.choices):
      for k, c in enumerate(cs):
        self._node_id[p, k] = vocab_index[c]
        self._is_identity[p, k] = c.lower() in IDENTITY_NAMES

  @classmethod
  def repeated(cls, num_positions: int, choices: Sequence[str], **kwargs) -> "ChainSpace":
    """A chain with the same choices at every position."""
    return cls([list(choices)] * num_positions, **kwargs)

  def format(self, encoding: base.Encoding) -> str:
    enc = self.validate(encoding)
    return "|".join(self.choices[p][int(k)] for p, k in enumerate(enc))

  def parse(self, text: str) -> base.Encoding:
    if not isinstance(text, str):
      raise errors.InvalidArchitectureError(
          f"{self.name}: expected an architecture string, got {type(text).__name__} {text!r}")
    parts = text.strip().split("|")
    if len(parts) != self.num_positions:
      raise errors.WrongLengthError(
          f"{self.name}: {text!r} has {len(parts)} positions, expected {self.num_positions}")
    enc = np.zeros(self.num_positions, np.int32)
    for p, part in enumerate(parts):
      try:
        enc[p] = self.choices[p].index(part)
      except ValueError:
        raise errors.UnknownOpError(
            f"{self.name}: unknown choice {part!r} at position {p} of {text!r}; "
            f"expected one of {list(self.choices[p])}") from None
    return enc

  def to_graphs(self, encodings: base.Encodings) -> base.DenseGraphs:
    enc = np.asarray(encodings, dtype=np.int32).reshape(-1, self.num_positions)
    b, length = enc.shape
    pos = np.arange(length)
    ident = self._is_identity[pos, enc]  # [B, L]
    keep = np.ones((b, length + 2), bool)
    keep[:, 1:-1] = ~ident
    node_ops = np.zeros((b, length + 2), np.int32)
    node_ops[:, 1:-1] = self._node_id[pos, enc]
    node_ops[:, -1] = 1
    node_ops = np.where(keep, node_ops, 0)
    # Each kept node feeds the next kept node: find it with a reverse cummin.
    idx = np.where(keep, np.arange(length + 2)[None], length + 2)
    nxt = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
    following = np.concatenate([nxt[:, 1:], np.full((b, 1), length + 2)], axis=1)
    adj = np.zeros((b, length + 2, length + 2), bool)
    rows, cols = np.nonzero(keep & (following < length + 2))
    adj[rows, cols, following[rows, cols]] = True
    return base.DenseGraphs(node_ops=node_ops.astype(np.int32), node_mask=keep, adjacency=adj)

  def canonical_id(self, encoding: base.Encoding) -> str:
    enc = self.validate(encoding)
    return self.format(enc)
