"""Atomic writes of result files: a kill mid-write never leaves half a file."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "append_jsonl", "atomic_write_bytes", "atomic_write_csv", "atomic_write_json",
    "atomic_write_text", "read_jsonl",
]


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
      # mkstemp makes the file owner-only (0600); give the result the mode a
      # plain open() would (or keep the mode of the file it replaces).
      os.fchmod(f.fileno(), _target_mode(path))
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def _target_mode(path: str) -> int:
  """Permission bits for ``path``: its current ones, else 0666 minus the umask."""
  try:
    return os.stat(path).st_mode & 0o7777
  except OSError:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


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
  """Appends one JSON line (a torn last line is skipped by :func:`read_jsonl`).

  If the file ends in a torn line (a kill mid-append), the record starts on a
  new line, so it is not glued to the torn one and lost with it.
  """
  line = json.dumps(record, sort_keys=True, default=_json_default) + "\n"
  with open(path, "a+b") as f:
    if f.tell() > 0:
      f.seek(-1, os.SEEK_END)
      if f.read(1) != b"\n":
        line = "\n" + line
    f.write(line.encode("utf-8"))
    f.flush()


def read_jsonl(path: str | os.PathLike) -> list[dict]:
  """Reads JSON lines, skipping torn lines left by kills (lines that are not JSON)."""
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
