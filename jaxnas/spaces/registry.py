"""Builds a space from a short spec string (see :mod:`jaxnas.spaces`)."""

from __future__ import annotations

import functools

from jaxnas import errors
from jaxnas.spaces import base
from jaxnas.spaces import cell
from jaxnas.spaces import chain
from jaxnas.spaces import nb201


def _int(text: str, what: str, spec: str) -> int:
  try:
    return int(text)
  except ValueError:
    raise errors.ConfigError(f"space spec {spec!r}: {what} must be an integer, got {text!r}") from None


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
    head, sep, ops = rest.partition(":")
    if sep:  # chain:L:c1,c2,... (an empty choice list is refused by ChainSpace)
      return chain.ChainSpace.repeated(_int(head, "L", spec), ops.split(","), name=spec)
    if rest:
      return chain.ChainSpace([p.split(",") for p in rest.split("/")], name=spec)
  raise errors.ConfigError(
      f"unknown space spec {spec!r}; expected nb201, nb101, nasbench_graph, "
      "complete_dag:N, cell:N:ops or chain:L:choices")
