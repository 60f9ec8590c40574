"""Builds a space from a short spec string (see :mod:`jaxnas.spaces`)."""

from __future__ import annotations

import functools

from jaxnas import errors
from jaxnas.spaces import base
from jaxnas.spaces import cell
from jaxnas.spaces import chain
from jaxnas.spaces import nb201

__all__ = ["get_space"]


def _int(text: str, what: str, spec: str) -> int:
  try:
    return int(text)
  except ValueError:
    raise errors.ConfigError(f"space spec {spec!r}: {what} must be an integer, got {text!r}") from None


# Declarative per-position attributes of a chain: "@key=v1,v2,..." after the choices.
_CHAIN_OPTIONS = {"strides": "strides", "widths": "base_widths", "channels": "in_channels",
                  "resolution": "resolution"}


def _chain_options(options: list[str], spec: str) -> dict:
  """``["strides=1,2", "widths=32,-"]`` -> ChainSpace keyword arguments."""
  kwargs = {}
  for opt in options:
    key, sep, values = opt.partition("=")
    if not sep or key not in _CHAIN_OPTIONS or key in kwargs:
      raise errors.ConfigError(
          f"space spec {spec!r}: option {opt!r} is not one of "
          f"{', '.join(k + '=...' for k in _CHAIN_OPTIONS)} (each at most once)")
    parsed = [None if key == "widths" and v.strip() == "-" else _int(v, key, spec)
              for v in values.split(",")]
    if key in ("channels", "resolution"):
      if len(parsed) != 1:
        raise errors.ConfigError(f"space spec {spec!r}: {key} takes one integer, got {values!r}")
      parsed = parsed[0]
    kwargs[key] = parsed
  return {_CHAIN_OPTIONS[k]: v for k, v in kwargs.items()}


def get_space(spec: str) -> base.Space:
  """Returns the space named by ``spec`` (cached: the same object per spec).

  Raises:
    ConfigError: ``spec`` is not a string or names no space.
  """
  # Checked before the cache, which would raise TypeError for unhashable specs.
  if not isinstance(spec, str) or not spec.strip():
    raise errors.ConfigError(f"space spec must be a non-empty string, got {spec!r}")
  return _get_space(spec.strip())


@functools.lru_cache(maxsize=64)
def _get_space(spec: str) -> base.Space:
  space = _build_space(spec)
  space.spec = spec
  return space


def _build_space(spec: str) -> base.Space:
  kind, _, rest = spec.partition(":")
  if kind == "nb201" and not rest:
    return nb201.NB201Space()
  if kind == "nb101" and not rest:
    from jaxnas.spaces import nb101  # pylint: disable=import-outside-toplevel
    return nb101.NB101Space()
  if kind in ("nasbench_graph", "nasbench_graph_proteins") and not rest:
    from jaxnas.spaces import nasbench_graph  # pylint: disable=import-outside-toplevel
    return nasbench_graph.NasBenchGraphSpace(proteins=kind.endswith("proteins"))
  if kind == "complete_dag":
    return cell.CompleteDAGSpace(_int(rest, "N", spec))
  if kind == "cell":
    n, _, ops = rest.partition(":")
    if not ops:
      raise errors.ConfigError(f"space spec {spec!r}: expected cell:N:op1,op2,...")
    return cell.CellSpace(_int(n, "N", spec), ops.split(","), name=spec)
  if kind == "chain":
    rest, *options = rest.split("@")
    kwargs = _chain_options(options, spec)
    head, sep, ops = rest.partition(":")
    if sep:  # chain:L:c1,c2,... (an empty choice list is refused by ChainSpace)
      return chain.ChainSpace.repeated(_int(head, "L", spec), ops.split(","), name=spec,
                                       **kwargs)
    if rest:
      return chain.ChainSpace([p.split(",") for p in rest.split("/")], name=spec, **kwargs)
  raise errors.ConfigError(
      f"unknown space spec {spec!r}; expected nb201, nb101, nasbench_graph, "
      "complete_dag:N, cell:N:ops or chain:L:choices[@strides=...][@widths=...]")
