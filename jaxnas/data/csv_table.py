"""Generic CSV benchmark tables: an ``arch`` column plus numeric metric columns.

This is how users bring their own table: any space's string form in the
``arch`` column (``--space`` says which), one column per metric. Read with the
standard library (no pandas, no pickle).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

import numpy as np

from jaxnas import errors
from jaxnas.data import benchmark
from jaxnas.data import table_checks
from jaxnas.spaces import base

__all__ = ["load_csv", "read_csv_columns", "read_csv_table", "write_csv"]


def read_csv_columns(path: str | os.PathLike, *, required: Sequence[str] = ()) -> dict[str, list[str]]:
  """Reads a CSV with a header into ``{column: [values]}``.

  Raises:
    BenchmarkDataError: unreadable file, no header, ragged rows or missing
      required columns (the message names the file, line and column).
  """
  return read_csv_table(path, required=required)[0]


def read_csv_table(path: str | os.PathLike, *,
                   required: Sequence[str] = ()) -> tuple[dict[str, list[str]], list[int]]:
  """Like :func:`read_csv_columns`, also returning the file line of each row.

  Blank lines are skipped, so data rows need not be consecutive lines; the
  line numbers keep messages about later rows pointing at the right line. A
  UTF-8 byte-order mark (as Excel writes) is ignored.

  Returns:
    ``({column: [values]}, line_numbers)``.
  """
  path = os.fspath(path)
  lines: list[int] = []
  reader = None
  try:
    with open(path, newline="", encoding="utf-8-sig") as f:
      reader = csv.reader(f)
      try:
        header = next(reader)
      except StopIteration:
        raise errors.BenchmarkDataError(f"{path}: the file is empty (no header row)") from None
      header = [h.strip() for h in header]
      if len(set(header)) != len(header):
        raise errors.BenchmarkDataError(f"{path}: duplicate column names in header {header}")
      missing = [c for c in required if c not in header]
      if missing:
        raise errors.BenchmarkDataError(
            f"{path}: missing column(s) {missing}; the header has {header}")
      cols: dict[str, list[str]] = {h: [] for h in header}
      for row in reader:
        line = reader.line_num  # the last line of the row (a quoted field can span lines)
        if not row:
          continue
        if len(row) != len(header):
          raise errors.BenchmarkDataError(
              f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        lines.append(line)
        for h, v in zip(header, row):
          cols[h].append(v)
  except OSError as e:
    raise errors.BenchmarkDataError(f"cannot read {path}: {e.strerror or e}") from None
  except UnicodeDecodeError as e:
    raise errors.BenchmarkDataError(
        f"{path}, line {_first_undecodable_line(path)}: not a UTF-8 CSV file ({e.reason})") from None
  except csv.Error as e:
    line = reader.line_num if reader is not None else 1
    raise errors.BenchmarkDataError(f"{path}, line {line}: malformed CSV ({e})") from None
  return cols, lines


def _first_undecodable_line(path: str) -> int | str:
  """1-based number of the first line of ``path`` that is not UTF-8 ("?" if none)."""
  with open(path, "rb") as f:
    for number, raw in enumerate(f, start=1):
      try:
        raw.decode("utf-8")
      except UnicodeDecodeError:
        return number
  return "?"


def load_csv(path: str | os.PathLike, space: base.Space, *, name: str | None = None,
             arch_column: str = "arch", index_column: str | None = "index",
             label_columns: Sequence[str] = (), on_invalid: str = "raise") -> benchmark.Benchmark:
  """Loads a generic CSV table into a :class:`Benchmark`.

  Args:
    path: the CSV file.
    space: the space whose string form the ``arch_column`` holds.
    name: benchmark name (default: the file name).
    arch_column: column holding architecture strings.
    index_column: optional column of official ids (used when present).
    label_columns: columns that must be finite in every row (targets).
    on_invalid: ``"raise"`` or ``"drop"``, see :func:`table_checks.check_table`.
  """
  cols, lines = read_csv_table(path, required=[arch_column, *label_columns])
  if not lines:
    raise errors.BenchmarkDataError(f"{path}: the table has a header but no data rows")
  archs = cols.pop(arch_column)
  index = cols.pop(index_column, None) if index_column else None
  if index is not None:
    index_vals = np.zeros(len(index), np.int64)
    for i, v in enumerate(index):
      try:
        index_vals[i] = int(v)
      except (ValueError, OverflowError):
        raise errors.BenchmarkDataError(
            f"{path}, line {lines[i]}: column {index_column!r} must hold integers, "
            f"got {table_checks.shown(v)}") from None
    first: dict[int, int] = {}
    for i, v in enumerate(index_vals.tolist()):
      if v in first:  # ids name rows: two rows with one id would be confused
        raise errors.BenchmarkDataError(
            f"{path}, line {lines[i]}: {index_column} {v} repeats line {lines[first[v]]}")
      first[v] = i
  enc, metrics, report = table_checks.check_table(
      space, archs, cols, source=os.fspath(path), label_columns=label_columns,
      on_invalid=on_invalid, line_numbers=lines)
  if not report.kept_rows.size:
    raise errors.BenchmarkDataError(
        f"{report.summary()}. No rows are left after dropping the invalid ones.")
  bench = benchmark.Benchmark(name or os.path.basename(os.fspath(path)), space, enc, metrics,
                              index=None if index is None else index_vals[report.kept_rows],
                              source=os.fspath(path))
  bench.report = report
  return bench


def write_csv(path: str | os.PathLike, columns: dict[str, Sequence]) -> None:
  """Writes ``{column: [values]}`` as a CSV (atomically: temp file + rename)."""
  from jaxnas import io_utils  # pylint: disable=import-outside-toplevel
  names = list(columns)
  n = len(next(iter(columns.values()))) if columns else 0
  rows = [names] + [[columns[c][i] for c in names] for i in range(n)]
  io_utils.atomic_write_csv(path, rows)
