"""Plain-Python references for NB201 cells, shared by the test files."""

from __future__ import annotations

# NB201's op order (its ``Structure`` strings and every table use these indices).
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def nb201_unique_str(enc) -> str:
  """NB201's own ``Structure.to_unique_str(consider_zero=True)``.

  Functional equivalence of cells: ``skip_connect`` is the identity and
  ``none`` a zero (``#``); the terms of a node's sum are sorted.

  Args:
    enc: the 6 op indices of a cell (edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2).

  Returns:
    The output node's expression; equal strings mean NB201 counts the cells as one.
  """
  nodes = {0: "0"}
  k = 0
  for j in range(1, 4):
    terms = []
    for i in range(j):
      op = OPS[enc[k]]
      k += 1
      if op == "none" or nodes[i] == "#":
        terms.append("#")
      elif op == "skip_connect":
        terms.append(nodes[i])
      else:
        terms.append(f"({nodes[i]})@{op}")
    nodes[j] = "+".join(sorted(terms))
  return nodes[3]
