"""What a chain choice name means as a layer: kind, kernel, expansion, width.

The grammar is a shared contract (the chain encoding reads numeric node
features from it, the evaluators build networks from it). Case-insensitive:

* ``identity``, ``skip``, ``skip_connect``, ``id`` -> ``identity``: a kept graph
  node at its position; a compute no-op in a network only where shapes allow;
* ``mb{e}_k{k}`` (``mb6_k5``) -> ``mbconv``: MobileNetV2 inverted bottleneck with
  expansion ``e`` and depthwise kernel ``k``;
* ``conv{k}x{k}``, ``conv_k{k}``, ``conv{k}`` -> ``conv``: ReLU-conv-BN ``k x k``;
* an integer (``64``) -> ``width``: a 3x3 conv with that many output channels;
* anything else -> ``other``: categorical only, no numbers.
"""

from __future__ import annotations

import dataclasses
import re

from jaxnas import errors

__all__ = ["IDENTITY_NAMES", "KINDS", "LayerSpec", "WIDTH_KERNEL", "parse_choice"]

IDENTITY_NAMES = ("identity", "skip", "skip_connect", "id")
KINDS = ("identity", "mbconv", "conv", "width", "other")

_MBCONV = re.compile(r"mb(\d+)_k(\d+)")
_CONV = re.compile(r"conv(?:_k(\d+)|(\d+)x(\d+)|(\d+))")
_WIDTH = re.compile(r"\d+")
# Kernel of the 3x3 conv a bare width choice stands for.
WIDTH_KERNEL = 3


@dataclasses.dataclass(frozen=True)
class LayerSpec:
  """The layer a choice name stands for.

  Attributes:
    kind: one of :data:`KINDS`.
    kernel: conv kernel size ``k``, or None.
    expansion: inverted-bottleneck expansion ratio ``e``, or None.
    width: output channels fixed by the choice (``"64"``), else None.
  """

  kind: str
  kernel: int | None = None
  expansion: int | None = None
  width: int | None = None


def _positive(value: str, what: str, name: str) -> int:
  number = int(value)
  if number < 1:
    raise errors.ConfigError(f"choice {name!r}: {what} must be >= 1, got {number}")
  return number


def parse_choice(name: str) -> LayerSpec:
  """The :class:`LayerSpec` of one choice name (see the module docstring).

  Raises:
    ConfigError: a recognised pattern carries a zero kernel, expansion or width
      (``mb0_k3``, ``conv0``, ``0``), which no layer has.
  """
  text = str(name).strip().lower()
  if text in IDENTITY_NAMES:
    return LayerSpec("identity")
  m = _MBCONV.fullmatch(text)
  if m:
    return LayerSpec("mbconv", kernel=_positive(m.group(2), "kernel", name),
                     expansion=_positive(m.group(1), "expansion", name))
  m = _CONV.fullmatch(text)
  if m:
    k_underscore, k_rows, k_cols, k_plain = m.groups()
    if k_rows is not None and k_rows != k_cols:
      return LayerSpec("other")  # conv3x5: not a square kernel, no single k
    return LayerSpec("conv", kernel=_positive(k_underscore or k_rows or k_plain, "kernel", name))
  if _WIDTH.fullmatch(text):
    return LayerSpec("width", kernel=WIDTH_KERNEL, width=_positive(text, "width", name))
  return LayerSpec("other")
