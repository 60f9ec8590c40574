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


def read_csv_columns(path: str | os.PathLike, *, required: Sequence[str] = ()) -> dict[str, list[str]]:
  """Reads a CSV with a header into ``{column: [values]}``.

  Raises:
    BenchmarkDataError: unreadable file, no header, ragged rows or missing
      required columns (the message names the file, line and column).
  """
  path = os.fspath(path)
  try:
    with open(path, newline="", encoding="utf-8") as f:
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
      for line, row in enumerate(reader, start=2):
        if not row:
          continue
        if len(row) != len(header):
          raise errors.BenchmarkDataError(
              f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        for h, v in zip(header, row):
          cols[h].append(v)
  except OSError as e:
    raise errors.BenchmarkDataError(f"cannot read {path}: {e.strerror or e}") from None
  except (UnicodeDecodeError, csv.Error) as e:
    raise errors.BenchmarkDataError(f"{path}: not a UTF-8 CSV file ({e})") from None
  return cols


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
  cols = read_csv_columns(path, required=[arch_column, *label_columns])
  archs = cols.pop(arch_column)
  index = cols.pop(index_column, None) if index_column else None
  if index is not None:
    try:
      index_vals = np.asarray([int(v) for v in index], np.int64)
    except ValueError:
      raise errors.BenchmarkDataError(f"{path}: column {index_column!r} must hold integers") from None
  enc, metrics, report = table_checks.check_table(
      space, archs, cols, source=os.fspath(path), label_columns=label_columns,
      on_invalid=on_invalid)
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
