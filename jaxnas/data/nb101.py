"""NAS-Bench-101 tables: ``$JAXNAS_DATA_DIR/nb101/nb101_subset.jsonl``.

The file holds one JSON object per line::

    {"matrix": [[0, 1, ...], ...], "ops": ["input", ..., "output"],
     "val_accuracy": 92.58, "flops": 624.6, "params": 4.1, "snip": 112.1, ...}

``matrix`` (``[V, V]``, upper-triangular) and ``ops`` (names) form a possibly
*unpruned* spec; every other key is a metric column (``val_accuracy`` is the
label and must be finite). Specs are pruned with nasbench's rules (see
:mod:`jaxnas.spaces.nb101`) before they are compared, so two rows whose specs
prune to isomorphic cells are the same architecture. In the shared 500-row
subset (sampled by NASLib) that happens often: 208 rows repeat one of 292
distinct cells, mostly with differing ``val_accuracy`` (NB101 trained every
cell three times; the repeats look like different runs of one cell). Their
``params`` / ``flops`` can differ slightly too, for isomorphic specs given in
another vertex order: nasbench's network builder hands the remainder channels
to the first vertices. Read with the standard library (no pickle).
"""

from __future__ import annotations

import json
import os

from jaxnas import errors
from jaxnas.data import benchmark
from jaxnas.data import paths
from jaxnas.data import table_checks
from jaxnas.spaces import nb101 as nb101_space

__all__ = ["LABEL_COLUMN", "RELATIVE_PATH", "load_nb101", "read_jsonl_specs"]

RELATIVE_PATH = os.path.join("nb101", "nb101_subset.jsonl")
LABEL_COLUMN = "val_accuracy"
_SPEC_KEYS = ("matrix", "ops")
_DUPLICATE_KINDS = ("duplicate", "isomorphic_duplicate")


def read_jsonl_specs(path: str | os.PathLike) -> tuple[list[tuple], dict[str, list]]:
  """Reads an NB101 JSON-lines file.

  Blank lines are skipped; row numbers in later messages count records from 1
  (they are line numbers when the file has no blank lines).

  Returns:
    ``(specs [N] of (matrix, ops), columns {name: [N] raw values})``; a metric
    missing from a record is None.

  Raises:
    BenchmarkDataError: unreadable file, a line that is not a JSON object, or
      a record without ``matrix`` / ``ops`` (naming the file and line).
  """
  path = os.fspath(path)
  specs: list[tuple] = []
  records: list[dict] = []
  columns: dict[str, None] = {}  # ordered set: metric names in order of first appearance
  try:
    with open(path, encoding="utf-8") as f:
      for line_no, line in enumerate(f, start=1):
        if not line.strip():
          continue
        try:
          record = json.loads(line)
        except (ValueError, RecursionError) as e:
          raise errors.BenchmarkDataError(f"{path}, line {line_no}: not valid JSON ({e})") from None
        if not isinstance(record, dict):
          raise errors.BenchmarkDataError(
              f"{path}, line {line_no}: expected a JSON object, got {type(record).__name__}")
        missing = [k for k in _SPEC_KEYS if k not in record]
        if missing:
          raise errors.BenchmarkDataError(
              f"{path}, line {line_no}: missing key(s) {missing}; the record has {sorted(record)}")
        specs.append((record["matrix"], record["ops"]))
        records.append(record)
        for k in record:
          if k not in _SPEC_KEYS:
            columns.setdefault(k)
  except OSError as e:
    raise errors.BenchmarkDataError(f"cannot read {path}: {e.strerror or e}") from None
  except UnicodeDecodeError as e:
    raise errors.BenchmarkDataError(f"{path}: not a UTF-8 text file ({e})") from None
  return specs, {c: [r.get(c) for r in records] for c in columns}


def load_nb101(data_dir: str | os.PathLike | None = None, *, path: str | os.PathLike | None = None,
               on_invalid: str = "raise", duplicates: str = "drop") -> benchmark.Benchmark:
  """Loads an NB101 JSON-lines table (default: the shared 500-row subset).

  Rows are checked by :func:`jaxnas.data.table_checks.check_table`: specs that
  are invalid after pruning count as ``invalid_arch``, non-numeric metrics as
  ``non_numeric``, a missing/NaN ``val_accuracy`` as ``non_finite_label``, and
  rows that prune to the same cell as an earlier row (identical or isomorphic)
  as ``duplicate`` / ``isomorphic_duplicate``.

  Duplicates are *dropped by default* (the first row of each cell is kept and
  :func:`~jaxnas.data.table_checks.check_table` logs a warning with the
  counts): the shared subset repeats cells in 208 of its 500 rows, so a strict
  default would make ``load_benchmark("nb101")`` unusable. Malformed rows
  still raise by default.

  Args:
    data_dir: data folder (default: see :func:`jaxnas.data.paths.data_dir`).
    path: explicit ``.jsonl`` path (overrides ``data_dir``).
    on_invalid: ``"raise"`` (default) or ``"drop"`` for rows with an invalid
      spec or bad metric values. ``"drop"`` also drops duplicates.
    duplicates: ``"drop"`` (default) or ``"raise"`` for rows repeating a cell;
      ignored when ``on_invalid="drop"``.

  Returns:
    A :class:`~jaxnas.data.benchmark.Benchmark` named ``"nb101"`` whose
    ``index`` holds each kept row's 0-based record number in the file.
  """
  for arg, value in (("on_invalid", on_invalid), ("duplicates", duplicates)):
    if value not in ("raise", "drop"):
      raise errors.ConfigError(f"{arg} must be 'raise' or 'drop', got {value!r}")
  path = path or paths.data_file(RELATIVE_PATH, data_dir)
  specs, columns = read_jsonl_specs(path)
  if not specs:
    raise errors.BenchmarkDataError(f"{os.fspath(path)}: no records")
  space = nb101_space.NB101Space()
  # Dropping duplicates while raising for bad rows needs check_table's "drop"
  # mode plus a look at what was dropped.
  strict = on_invalid == "raise" and duplicates == "raise"
  enc, metrics, report = table_checks.check_table(
      space, specs, columns, source=os.fspath(path), label_columns=(LABEL_COLUMN,),
      on_invalid="raise" if strict else "drop", row_offset=1,
      parse=lambda spec: space.from_spec(*spec))
  if on_invalid == "raise":
    broken = {k: v for k, v in report.problems.items() if v and k not in _DUPLICATE_KINDS}
    if broken:
      only_broken = table_checks.TableReport(report.source, report.num_rows, report.kept_rows,
                                             broken)
      raise errors.BenchmarkDataError(
          only_broken.summary() + ". Fix the table, or pass on_invalid='drop' "
          "(--on_invalid=drop) to drop these rows and report them.")
  return benchmark.Benchmark("nb101", space, enc, metrics, index=report.kept_rows,
                             source=os.fspath(path))
