"""Atomic writes of result files: a kill mid-write never leaves half a file."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence

import numpy as np


def _json_default(x):
  if isinstance(x, np.ndarray):
    return x.tolist()
  if isinstance(x, np.generic):
    return x.item()
  raise TypeError(f"cannot serialise {type(x).__name__} to JSON")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
  """Writes ``data`` to ``path`` via a temporary file in the same folder."""
  path = os.fspath(path)
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
  atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> None:
  atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default,
                                     allow_nan=True) + "\n")


def atomic_write_csv(path: str | os.PathLike, rows: Iterable[Sequence]) -> None:
  buf = io.StringIO()
  writer = csv.writer(buf, lineterminator="\n")
  for row in rows:
    writer.writerow(row)
  atomic_write_text(path, buf.getvalue())


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
  """Appends one JSON line (a torn last line is skipped by :func:`read_jsonl`)."""
  with open(path, "a", encoding="utf-8") as f:
    f.write(json.dumps(record, sort_keys=True, default=_json_default) + "\n")
    f.flush()


def read_jsonl(path: str | os.PathLike) -> list[dict]:
  """Reads JSON lines, skipping a torn final line left by a kill."""
  out = []
  if not os.path.exists(path):
    return out
  with open(path, encoding="utf-8") as f:
    for line in f:
      line = line.strip()
      if not line:
        continue
      try:
        out.append(json.loads(line))
      except json.JSONDecodeError:
        continue
  return out
