"""Shared fixtures: the real benchmark data folder and the NB201 table.

The data is read from ``jaxnas.data.paths.data_dir`` (``$JAXNAS_DATA_DIR`` or
``../shared/data``) and never copied into the repository; tests that need it
skip with a clear reason on machines without it.
"""

from __future__ import annotations

import os

from hypothesis import settings
import pytest

from jaxnas import errors
from jaxnas.data import nb201 as nb201_data
from jaxnas.data import paths

# Property tests draw fresh random examples on every developer run (that is how
# they keep finding bugs) but a fixed sequence under `.ci/run`
# (HYPOTHESIS_PROFILE=ci), so a CI verdict is reproducible from the commit alone.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

NO_DATA_REASON = "shared benchmark data not found: set JAXNAS_DATA_DIR"


def find_data_dir():
  """The data folder, or None (a JAXNAS_DATA_DIR naming no folder counts as absent)."""
  try:
    return paths.data_dir(required=False)
  except errors.ConfigError:
    return None


@pytest.fixture(scope="session")
def data_dir():
  """``pathlib.Path`` of the shared data folder; skips the test when absent."""
  path = find_data_dir()
  if path is None:
    pytest.skip(NO_DATA_REASON)
  return path


@pytest.fixture(scope="session")
def nb201(data_dir):
  """The real NB201 benchmark (all 15,625 cells), loaded once per session.

  Shared by many tests: never mutate it (use ``subset`` for variants).
  """
  if not (data_dir / nb201_data.RELATIVE_PATH).is_file():
    pytest.skip(f"{NO_DATA_REASON} (no {nb201_data.RELATIVE_PATH} under {data_dir})")
  return nb201_data.load_nb201(data_dir)
