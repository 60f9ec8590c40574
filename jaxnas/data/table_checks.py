"""Checks every benchmark table passes before it becomes a :class:`Benchmark`.

Problems are counted, never silently dropped: architectures outside the space,
non-numeric cells, NaN/inf labels, duplicate and isomorphic-duplicate
architectures. Strict by default (one :class:`~jaxnas.errors.BenchmarkDataError`
that lists the counts and the first offending rows); with ``on_invalid="drop"``
the bad rows are removed and reported in a :class:`TableReport`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np

from jaxnas import errors
from jaxnas.spaces import base

__all__ = ["TableReport", "check_table", "shown"]

_MAX_EXAMPLES = 5


@dataclasses.dataclass
class TableReport:
  """What the checks found in one table.

  Attributes:
    source: file (or description) the rows came from.
    num_rows: rows read.
    kept_rows: indices (0-based data rows) that passed.
    problems: kind -> list of ``(row, message)``; kinds are ``invalid_arch``,
      ``non_numeric``, ``non_finite_label``, ``duplicate``, ``isomorphic_duplicate``.
  """

  source: str
  num_rows: int
  kept_rows: np.ndarray
  problems: dict[str, list[tuple[int, str]]]

  @property
  def num_dropped(self) -> int:
    return self.num_rows - int(self.kept_rows.size)

  def counts(self) -> dict[str, int]:
    return {k: len(v) for k, v in self.problems.items() if v}

  def summary(self) -> str:
    counts = self.counts()
    if not counts:
      return f"{self.source}: {self.num_rows} rows, no problems"
    parts = [f"{self.source}: {self.num_rows} rows;"]
    for kind, n in counts.items():
      examples = "; ".join(f"row {r}: {m}" for r, m in self.problems[kind][:_MAX_EXAMPLES])
      parts.append(f"{n} {kind.replace('_', ' ')} ({examples})")
    return " ".join(parts)


_MAX_SHOWN = 80  # characters of a bad cell quoted in a message (a cell can be megabytes)


def shown(value) -> str:
  """``repr(value)``, cut to a readable length for messages."""
  text = repr(value) if not isinstance(value, int) or abs(value) < 10**60 else f"<{value.bit_length()}-bit integer>"
  return text if len(text) <= _MAX_SHOWN else f"{text[:_MAX_SHOWN]}... ({len(text)} chars)"


def _to_float(value) -> float | None:
  if value is None:
    return math.nan
  if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
    try:
      return float(value)
    except OverflowError:  # an int beyond float range (a JSON 10**400)
      return None
  text = str(value).strip()
  if text == "" or text.lower() in ("nan", "na", "none", "null"):
    return math.nan
  try:
    return float(text)
  except ValueError:
    return None


def check_table(space: base.Space, archs: Sequence, columns: Mapping[str, Sequence], *,
                source: str, label_columns: Sequence[str] = (),
                on_invalid: str = "raise", row_offset: int = 2,
                line_numbers: Sequence[int] | None = None,
                parse=None) -> tuple[np.ndarray, dict[str, np.ndarray], TableReport]:
  """Parses and checks a table.

  Args:
    space: the space the ``archs`` belong to.
    archs: ``[N]`` architecture descriptions (strings, or whatever ``parse`` takes).
    columns: name -> ``[N]`` raw values (strings or numbers).
    source: file name used in messages.
    label_columns: columns that must be finite in every kept row (the targets).
      Other columns may hold NaN (e.g. a proxy that failed on some cells).
    on_invalid: ``"raise"`` (default) or ``"drop"`` (drop the bad rows and
      report them).
    row_offset: number added to a 0-based data row in messages (2 for a CSV
      with a header: the first data row is line 2).
    line_numbers: ``[N]`` file line of each row, used in messages instead of
      ``row + row_offset`` (for files whose rows are not consecutive lines).
    parse: architecture parser (default ``space.parse``).

  Returns:
    ``(encodings [K, D], metrics {name: [K]}, report)`` for the K kept rows.
  """
  if on_invalid not in ("raise", "drop"):
    raise errors.ConfigError(f"on_invalid must be 'raise' or 'drop', got {on_invalid!r}")
  parse = parse or space.parse
  n = len(archs)
  missing = [c for c in label_columns if c not in columns]
  if missing:
    raise errors.BenchmarkDataError(
        f"{source}: missing label column(s) {missing}; the table has {sorted(columns)}")
  if line_numbers is not None:
    if len(line_numbers) != n:
      raise errors.BenchmarkDataError(
          f"{source}: {len(line_numbers)} line numbers for {n} rows")
    lines = [int(x) for x in line_numbers]
  else:
    lines = [i + row_offset for i in range(n)]
  problems: dict[str, list[tuple[int, str]]] = {
      "invalid_arch": [], "non_numeric": [], "non_finite_label": [],
      "duplicate": [], "isomorphic_duplicate": []}
  bad = np.zeros(n, bool)
  enc = np.zeros((n, space.num_positions), np.int32)
  for i, a in enumerate(archs):
    try:
      enc[i] = parse(a)
    except errors.InvalidArchitectureError as e:
      msg = str(e)
      problems["invalid_arch"].append(
          (lines[i], msg if len(msg) <= 300 else f"{msg[:300]}... ({len(msg)} chars)"))
      bad[i] = True
  metrics = {}
  for name, raw in columns.items():
    if len(raw) != n:
      raise errors.BenchmarkDataError(
          f"{source}: column {name!r} has {len(raw)} values for {n} rows")
    vals = np.empty(n, np.float64)
    for i, v in enumerate(raw):
      f = _to_float(v)
      if f is None:
        problems["non_numeric"].append((lines[i], f"column {name!r} holds {shown(v)}"))
        bad[i] = True
        f = math.nan
      vals[i] = f
    if name in label_columns:
      for i in np.nonzero(~np.isfinite(vals) & ~bad)[0]:
        problems["non_finite_label"].append(
            (lines[i], f"label {name!r} is {shown(raw[i])}"))
        bad[i] = True
    metrics[name] = vals
  # Duplicates among the parsable rows: first occurrence wins.
  seen: dict[str, int] = {}
  for i in np.nonzero(~bad)[0]:
    key = enc[i].tobytes()
    if key in seen:
      problems["duplicate"].append(
          (lines[i], f"same architecture as row {lines[seen[key]]}"))
      bad[i] = True
    else:
      seen[key] = int(i)
  if getattr(space, "tables_are_canonical", False):
    seen_iso: dict[str, int] = {}
    for i in np.nonzero(~bad)[0]:
      cid = space.canonical_id(enc[i])
      if cid in seen_iso:
        problems["isomorphic_duplicate"].append(
            (lines[i], f"isomorphic to row {lines[seen_iso[cid]]}"))
        bad[i] = True
      else:
        seen_iso[cid] = int(i)
  kept = np.nonzero(~bad)[0]
  report = TableReport(source, n, kept, problems)
  if bad.any():
    if on_invalid == "raise":
      raise errors.BenchmarkDataError(
          report.summary() + ". Fix the table, or pass on_invalid='drop' "
          "(--on_invalid=drop) to drop these rows and report them.")
    logging.warning("dropped %d rows: %s", report.num_dropped, report.summary())
  return enc[kept], {k: v[kept] for k, v in metrics.items()}, report
