"""Where benchmark data and image sets are found.

Order: an explicit argument, then ``$JAXNAS_DATA_DIR``, then ``../shared/data``
beside the working directory or beside the installed package (the layout of the
development machines). Data files are never copied into the repository.
"""

from __future__ import annotations

import os
import pathlib

from jaxnas import errors

__all__ = ["ENV_VAR", "IMAGES_ENV_VAR", "data_dir", "data_file", "images_dir"]

ENV_VAR = "JAXNAS_DATA_DIR"
IMAGES_ENV_VAR = "JAXNAS_IMAGES_DIR"
_REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def _candidates(sub: str) -> list[pathlib.Path]:
  return [pathlib.Path.cwd().parent / "shared" / sub, _REPO_ROOT.parent / "shared" / sub]


def data_dir(explicit: str | os.PathLike | None = None, *, required: bool = True) -> pathlib.Path | None:
  """The benchmark data folder (holding ``nb201/``, ``nb101/`` ...).

  Args:
    explicit: a path given by the user (flag or argument); wins when set.
    required: raise when no folder is found (else return None).
  """
  for p in [explicit, os.environ.get(ENV_VAR)]:
    if p:
      path = pathlib.Path(p).expanduser()
      if not path.is_dir():
        raise errors.ConfigError(f"data directory {str(path)!r} does not exist")
      return path
  for path in _candidates("data"):
    if path.is_dir():
      return path
  if required:
    raise errors.ConfigError(
        f"no benchmark data directory: pass --data_dir or set {ENV_VAR} "
        "(the folder holding nb201/nb201.csv, nb101/nb101_subset.jsonl)")
  return None


def images_dir(explicit: str | os.PathLike | None = None, *, required: bool = True) -> pathlib.Path | None:
  """The image-set folder (holding ``cifar10/train.npz``)."""
  for p in [explicit, os.environ.get(IMAGES_ENV_VAR)]:
    if p:
      path = pathlib.Path(p).expanduser()
      if not path.is_dir():
        raise errors.ConfigError(f"images directory {str(path)!r} does not exist")
      return path
  for path in _candidates("images"):
    if path.is_dir():
      return path
  if required:
    raise errors.ConfigError(f"no image directory: pass --images_dir or set {IMAGES_ENV_VAR}")
  return None


def data_file(relative: str, explicit_dir: str | os.PathLike | None = None, *,
              source: str = "") -> pathlib.Path:
  """A file inside the data folder, with a clear error when it is absent.

  Args:
    relative: path inside the data folder, e.g. ``nb201/nb201.csv``.
    explicit_dir: the data folder given by the user (default: :func:`data_dir`).
    source: where such a file comes from, appended to both errors (no folder,
      no file) so that a new user learns how to get the data.
  """
  hint = f"; {source}" if source else ""
  try:
    path = data_dir(explicit_dir) / relative
  except errors.ConfigError as e:
    raise errors.ConfigError(f"{e}{hint}") from None
  if not path.is_file():
    raise errors.ConfigError(f"benchmark file {str(path)!r} not found{hint}")
  return path
