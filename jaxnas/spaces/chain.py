"""Chain spaces: L positions in a row, each with its own list of choices.

Examples: NAS-Bench-Macro (8 layers x {identity, mb3_k3, mb6_k5}), per-layer
channel widths (``[16, 32, 64]`` at every layer), kernel sizes, expansion ratios.

String form: the chosen names joined by ``|``, one per position::

    mb3_k3|identity|mb6_k5|mb6_k5|identity|mb3_k3|mb3_k3|identity

Graphs are chains ``input -> p0 -> p1 -> ... -> output`` with **every**
position kept as a node, identities included: ``a|identity|b|c`` and
``a|b|identity|c`` put their layers at different depths, strides and widths, so
they must not share an encoding. Each node carries the categorical id of its
choice and numeric features (:data:`NODE_FEATURE_NAMES`): its position and what
:mod:`jaxnas.spaces.layer_spec` reads from the choice name (width, kernel,
expansion) together with the declared per-position strides and base widths,
the channels and resolution that flow into and out of the layer, and the
layer's parameter and FLOP counts.

Cost model (used for node features and, when every choice has a known layer
kind, for the space's ``params`` / ``flops``). A layer at position ``p`` reads
``c_in`` channels at resolution ``r``, has stride ``s`` and writes ``c_out``
channels at ``r' = ceil(r / s)``; ``c_out`` is the choice's width (``64``), else
the declared base width of ``p``, else ``c_in``. With BN's 2 parameters per
channel:

* ``conv`` (and a bare width, a 3x3 conv): ``k*k*c_in*c_out + 2*c_out`` params,
  ``k*k*c_in*c_out*r'^2`` multiply-adds;
* ``mbconv`` (expansion ``e``, hidden ``h = e*c_in``): a 1x1 expansion (absent
  when ``e == 1``; ``c_in*h + 2h`` params, ``c_in*h*r^2`` FLOPs), a ``k x k``
  depthwise conv (``k*k*h + 2h``, ``k*k*h*r'^2``) and a 1x1 projection
  (``h*c_out + 2*c_out``, ``h*c_out*r'^2``);
* ``identity``: free when shapes allow (``s == 1`` and ``c_in == c_out``), else
  a 1x1 projection (``c_in*c_out + 2*c_out``, ``c_in*c_out*r'^2``);
* ``other``: unknown; a space with such a choice has no ``params``/``flops``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jaxnas import errors
from jaxnas.spaces import base
from jaxnas.spaces import layer_spec as layer_spec_lib

__all__ = ["ChainSpace", "DEFAULT_IN_CHANNELS", "DEFAULT_RESOLUTION", "DEFAULT_STRIDE",
           "NODE_FEATURE_NAMES"]

# Defaults of the declarative chain attributes (see the README's space table).
DEFAULT_STRIDE = 1
DEFAULT_IN_CHANNELS = 16
DEFAULT_RESOLUTION = 32

# Numeric node features after a one-hot of (position, choice): input, output,
# then choice k of position p for every p, k (so a sum over the nodes holds the
# architecture's whole one-hot encoding, an additive model's input). Standardised per space (see ChainSpace._feature_stats).
NODE_FEATURE_NAMES = (
    "depth", "is_identity", "log2_in_channels", "log2_out_channels", "log2_out_resolution",
    "log2_stride", "kernel", "expansion", "log_params", "log_flops")


class ChainSpace(base.Space):
  """A chain of positions with per-position choices.

  Args:
    choices: one list of choice names per position (names may repeat across
      positions; ``"32"`` style widths are fine).
    name: the space's name.
    max_positions: refuse larger chains than this.
    strides: per-position strides (length L; default all 1).
    base_widths: per-position output channels when the choice does not fix
      them (length L; None: same as the input).
    in_channels: channels entering position 0.
    resolution: spatial size entering position 0.

  Attributes:
    layer_specs: ``layer_specs[p][k]`` is the :class:`LayerSpec` of choice
      ``k`` at position ``p``.
    num_node_features: width ``F`` of the numeric node features.
    cost_known: whether every choice has a known cost (``params``/``flops``).
  """

  def __init__(self, choices: Sequence[Sequence[str]], *, name: str = "chain",
               max_positions: int = 256, strides: Sequence[int] | None = None,
               base_widths: Sequence[int | None] | None = None,
               in_channels: int = DEFAULT_IN_CHANNELS, resolution: int = DEFAULT_RESOLUTION):
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
        if not c or "|" in c or "@" in c or c != c.strip():
          raise errors.ConfigError(
              f"{name}: choice {c!r} at position {p} may not be empty, contain '|' or '@' "
              "or start or end with whitespace")
    self.name = name
    length = len(self.choices)
    super().__init__([len(cs) for cs in self.choices])
    self.strides = _per_position(strides, DEFAULT_STRIDE, length, "strides", name)
    self.base_widths = _per_position(base_widths, None, length, "base_widths", name)
    for what, values in (("strides", self.strides), ("base_widths", self.base_widths)):
      if any(v is not None and (not isinstance(v, (int, np.integer)) or v < 1) for v in values):
        raise errors.ConfigError(f"{name}: {what} must be positive integers, got {values!r}")
    for what, v in (("in_channels", in_channels), ("resolution", resolution)):
      if not isinstance(v, (int, np.integer)) or v < 1:
        raise errors.ConfigError(f"{name}: {what} must be a positive integer, got {v!r}")
    self.in_channels = int(in_channels)
    self.resolution = int(resolution)
    try:
      self.layer_specs = tuple(tuple(layer_spec_lib.parse_choice(c) for c in cs)
                               for cs in self.choices)
    except errors.ConfigError as e:
      raise errors.ConfigError(f"{name}: {e}") from None
    self.cost_known = all(s.kind != "other" for ss in self.layer_specs for s in ss)
    vocab = sorted({c for cs in self.choices for c in cs})
    self.node_vocab = ("input", "output") + tuple(vocab)
    self.max_nodes = length + 2
    # The chain itself: slot i feeds slot i + 1 (no pruning, so no other edges).
    self.edge_template = np.eye(length + 2, k=1, dtype=bool)
    num_onehot = 2 + int(self.cardinalities.sum())
    self.node_feature_names = (f"position_choice_onehot[{num_onehot}]",) + NODE_FEATURE_NAMES
    self.num_node_features = num_onehot + len(NODE_FEATURE_NAMES)
    # Column of (position p, choice k) in that one-hot: 2 + offset of p + k.
    self._onehot_offset = 2 + np.concatenate([[0], np.cumsum(self.cardinalities)[:-1]])
    vocab_index = {c: i + 2 for i, c in enumerate(vocab)}
    width = int(self.cardinalities.max())
    # [L, max_choices] tables indexed by (position, choice); 0 where none exists.
    self._node_id = np.zeros((length, width), np.int32)
    self._kind = np.full((length, width), layer_spec_lib.KINDS.index("other"), np.int32)
    self._kernel = np.zeros((length, width), np.float64)
    self._expansion = np.zeros((length, width), np.float64)
    self._width = np.zeros((length, width), np.float64)  # 0: not fixed by the choice
    for p, cs in enumerate(self.choices):
      for k, c in enumerate(cs):
        spec = self.layer_specs[p][k]
        self._node_id[p, k] = vocab_index[c]
        self._kind[p, k] = layer_spec_lib.KINDS.index(spec.kind)
        self._kernel[p, k] = spec.kernel or 0
        self._expansion[p, k] = spec.expansion or 0
        self._width[p, k] = spec.width or 0
    self._stats = None

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

  # ----------------------------------------------------------- layers and costs
  def layer_costs(self, encodings: base.Encodings) -> dict[str, np.ndarray]:
    """Per-layer shapes and costs of ``[B, L]`` encodings (module docstring's model).

    Returns:
      float64 ``[B, L]`` arrays ``in_channels``, ``out_channels``,
      ``out_resolution``, ``params``, ``flops`` (cost 0 for ``other`` layers).
    """
    enc = np.asarray(encodings, np.int64).reshape(-1, self.num_positions)
    b, length = enc.shape
    kinds = layer_spec_lib.KINDS
    out = {k: np.zeros((b, length)) for k in
           ("in_channels", "out_channels", "out_resolution", "params", "flops")}
    c_in = np.full(b, float(self.in_channels))
    r_in = float(self.resolution)
    for p in range(length):
      k = enc[:, p]
      kind = self._kind[p, k]
      s = self.strides[p]
      r_out = float(-(-int(r_in) // s))
      fixed = self._width[p, k]
      base_w = self.base_widths[p]
      c_out = np.where(fixed > 0, fixed, c_in if base_w is None else float(base_w))
      ker = self._kernel[p, k]
      hid = self._expansion[p, k] * c_in
      conv_p = ker * ker * c_in * c_out + 2 * c_out
      conv_f = ker * ker * c_in * c_out * r_out ** 2
      expand = self._expansion[p, k] > 1
      mb_p = (np.where(expand, c_in * hid + 2 * hid, 0.0) + ker * ker * hid + 2 * hid
              + hid * c_out + 2 * c_out)
      mb_f = (np.where(expand, c_in * hid * r_in ** 2, 0.0) + ker * ker * hid * r_out ** 2
              + hid * c_out * r_out ** 2)
      project = (s != 1) | (c_in != c_out)
      id_p = np.where(project, c_in * c_out + 2 * c_out, 0.0)
      id_f = np.where(project, c_in * c_out * r_out ** 2, 0.0)
      is_conv = (kind == kinds.index("conv")) | (kind == kinds.index("width"))
      is_mb = kind == kinds.index("mbconv")
      is_id = kind == kinds.index("identity")
      out["params"][:, p] = np.select([is_conv, is_mb, is_id], [conv_p, mb_p, id_p], 0.0)
      out["flops"][:, p] = np.select([is_conv, is_mb, is_id], [conv_f, mb_f, id_f], 0.0)
      out["in_channels"][:, p] = c_in
      out["out_channels"][:, p] = c_out
      out["out_resolution"][:, p] = r_out
      c_in, r_in = c_out, r_out
    return out

  def _require_cost(self) -> None:
    if not self.cost_known:
      unknown = sorted({c for cs, ss in zip(self.choices, self.layer_specs)
                        for c, s in zip(cs, ss) if s.kind == "other"})
      raise errors.ConfigError(
          f"{self.name}: no cost model for choices {unknown} (not identity, mb{{e}}_k{{k}}, "
          "conv{k} or a width)")

  def params(self, encodings: base.Encodings) -> np.ndarray:
    """Parameter counts ``[B]`` (module docstring's cost model)."""
    self._require_cost()
    return self.layer_costs(encodings)["params"].sum(axis=1)

  def flops(self, encodings: base.Encodings) -> np.ndarray:
    """Multiply-adds ``[B]`` (module docstring's cost model)."""
    self._require_cost()
    return self.layer_costs(encodings)["flops"].sum(axis=1)

  # ----------------------------------------------------------- graphs
  def _raw_numeric(self, enc: np.ndarray) -> np.ndarray:
    """Unstandardised numeric node features ``[B, L + 2, len(NODE_FEATURE_NAMES)]``."""
    b, length = enc.shape
    costs = self.layer_costs(enc)
    pos = np.arange(length)
    cols = np.zeros((b, length + 2, len(NODE_FEATURE_NAMES)))
    cols[:, :, 0] = np.arange(length + 2) / (length + 1)
    inner = cols[:, 1:-1]
    inner[..., 1] = self._kind[pos, enc] == layer_spec_lib.KINDS.index("identity")
    inner[..., 2] = np.log2(costs["in_channels"])
    inner[..., 3] = np.log2(costs["out_channels"])
    inner[..., 4] = np.log2(costs["out_resolution"])
    inner[..., 5] = np.log2(np.asarray(self.strides, np.float64))[None]
    inner[..., 6] = self._kernel[pos, enc]
    inner[..., 7] = self._expansion[pos, enc]
    inner[..., 8] = np.log1p(costs["params"])
    inner[..., 9] = np.log1p(costs["flops"])
    # The input node holds the stem's shape; the output node the last layer's.
    cols[:, 0, 2] = cols[:, 0, 3] = np.log2(self.in_channels)
    cols[:, 0, 4] = np.log2(self.resolution)
    cols[:, -1, 2] = inner[:, -1, 3]
    cols[:, -1, 3] = inner[:, -1, 3]
    cols[:, -1, 4] = inner[:, -1, 4]
    return cols

  def _feature_stats(self) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean/std of the numeric features over a fixed sample of the
    space, so features are O(1) whatever the units, and fixed per space (never
    dependent on the batch being encoded)."""
    if self._stats is None:
      rng = np.random.default_rng(0)
      sample = rng.integers(0, self.cardinalities, size=(512, self.num_positions))
      raw = self._raw_numeric(sample).reshape(-1, len(NODE_FEATURE_NAMES))
      sd = raw.std(axis=0)
      self._stats = (raw.mean(axis=0), np.where(sd > 1e-9, sd, 1.0))
    return self._stats

  def node_features(self, encodings: base.Encodings) -> np.ndarray:
    """float32 ``[B, L + 2, F]``: (position, choice) one-hot, then
    :data:`NODE_FEATURE_NAMES`."""
    enc = np.asarray(encodings, np.int64).reshape(-1, self.num_positions)
    b, length = enc.shape
    mu, sd = self._feature_stats()
    numeric = (self._raw_numeric(enc) - mu) / sd
    onehot = np.zeros((b, length + 2, 2 + int(self.cardinalities.sum())))
    onehot[:, 0, 0] = 1.0  # input
    onehot[:, -1, 1] = 1.0  # output
    rows = np.arange(b)[:, None]
    onehot[rows, np.arange(1, length + 1)[None], self._onehot_offset[None] + enc] = 1.0
    return np.concatenate([onehot, numeric], axis=2).astype(np.float32)

  def to_graphs(self, encodings: base.Encodings) -> base.DenseGraphs:
    enc = np.asarray(encodings, dtype=np.int32).reshape(-1, self.num_positions)
    b, length = enc.shape
    node_ops = np.zeros((b, length + 2), np.int32)
    node_ops[:, 1:-1] = self._node_id[np.arange(length), enc]
    node_ops[:, -1] = 1
    adj = np.broadcast_to(self.edge_template, (b, length + 2, length + 2)).copy()
    return base.DenseGraphs(node_ops=node_ops, node_mask=np.ones((b, length + 2), bool),
                            adjacency=adj, node_features=self.node_features(enc))

  def canonical_id(self, encoding: base.Encoding) -> str:
    enc = self.validate(encoding)
    return self.format(enc)


def _per_position(values, default, length: int, what: str, name: str) -> tuple:
  """``values`` as a length-L tuple: None -> all ``default``, one value -> repeated."""
  if values is None:
    return (default,) * length
  values = tuple(values)
  if len(values) == 1:
    return values * length
  if len(values) != length:
    raise errors.ConfigError(
        f"{name}: {what} has {len(values)} values, expected 1 or one per position ({length})")
  return values
