"""Result files and workdirs: atomic writes (a kill mid-write never leaves half a
file), the one content fingerprint, and the exclusive per-workdir lock."""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence

import numpy as np

from jaxnas import errors

__all__ = [
    "append_jsonl", "atomic_write_bytes", "atomic_write_csv", "atomic_write_json",
    "atomic_write_text", "claim_config_json", "claim_workdir", "fingerprint",
    "fingerprint_files", "read_jsonl",
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


def fingerprint(obj) -> str:
  """16 hex digits of SHA-256 over ``obj``: JSON-able values, numpy arrays by content.

  The one hash behind every "same settings / same data?" check (run configs,
  weak-label tables, supernet checkpoints, search and streaming state). Plain
  JSON values hash as ``json.dumps(obj, sort_keys=True)``, so fingerprints
  recorded before arrays were supported stay valid; an array is replaced by
  its dtype, shape and a hash of its bytes, so two tables that differ in one
  label differ here although their paths are the same.
  """
  def encode(x):
    if isinstance(x, np.ndarray):
      a = np.ascontiguousarray(x)
      return {"ndarray": [str(a.dtype), list(a.shape), hashlib.sha256(a.tobytes()).hexdigest()]}
    return _json_default(x)

  text = json.dumps(obj, sort_keys=True, default=encode)
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint_files(folder: str | os.PathLike) -> str:
  """:func:`fingerprint` of the bytes of every file under ``folder`` (by relative path)."""
  folder = os.fspath(folder)
  digests = {}
  for root, dirs, files in os.walk(folder):
    dirs.sort()
    for name in sorted(files):
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        digests[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
  return fingerprint(digests)


LOCK_NAME = ".lock"


@contextlib.contextmanager
def claim_workdir(workdir: str | os.PathLike):
  """Creates ``workdir`` and holds an exclusive lock on it for the ``with`` block.

  The lock is ``fcntl.flock`` on ``workdir/.lock`` (which records the holder's
  pid): released by the kernel when the process ends, however it ends, so a
  killed run never leaves a stale lock. A second run on the same workdir is
  refused at once instead of interleaving its checkpoints and metric lines.

  Raises:
    ConfigError: ``workdir`` exists and is not a folder, cannot be created,
      or another process holds its lock.
  """
  path = os.fspath(workdir)
  if os.path.exists(path) and not os.path.isdir(path):
    raise errors.ConfigError(f"workdir {path!r} exists and is not a folder")
  try:
    os.makedirs(path, exist_ok=True)
    fd = os.open(os.path.join(path, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
  except OSError as e:
    raise errors.ConfigError(f"cannot create workdir {path!r}: {e.strerror or e}") from None
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
      raise errors.ConfigError(
          f"workdir {path!r} is in use by another run (pid {holder}); wait for it to finish "
          "or use another --workdir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    yield path
  finally:
    os.close(fd)  # closing the descriptor releases the lock


def claim_config_json(workdir: str, fingerprint: str, record: dict, *,
                      run_files: Sequence[str] = ("checkpoints", "results.json"),
                      kind: str = "run") -> None:
  """Writes ``workdir/config.json`` unless the workdir holds a run with another fingerprint.

  Call it (under :func:`claim_workdir`) before writing anything else: a
  refused rerun then leaves the earlier run's files, ``config.json``
  included, exactly as they were.

  Args:
    workdir: the run's folder.
    fingerprint: the run's :func:`fingerprint` (settings and data content).
    record: what ``config.json`` holds besides ``"fingerprint"``.
    run_files: names that mark a workdir as holding a run's outputs.
    kind: what a run is called in the refusal ("scoring run": "holds another
      scoring run with other settings ...").

  Raises:
    CheckpointError: the workdir holds another run, or a run's files without
      a readable ``config.json``.
  """
  path = os.path.join(workdir, "config.json")
  if os.path.exists(path):
    try:
      with open(path, encoding="utf-8") as f:
        old = json.load(f).get("fingerprint")
    except (OSError, ValueError, AttributeError) as e:
      raise errors.CheckpointError(f"{path} cannot be read ({e}); use a fresh workdir") from None
    if old != fingerprint:
      raise errors.CheckpointError(
          f"{workdir} holds another {kind} with other settings or data (fingerprint {old} != "
          f"{fingerprint}); nothing there was changed: use a fresh workdir")
  elif any(os.path.exists(os.path.join(workdir, n)) for n in run_files):
    raise errors.CheckpointError(
        f"{workdir} holds run files but no config.json; use a fresh workdir")
  atomic_write_json(path, {**record, "fingerprint": fingerprint})
