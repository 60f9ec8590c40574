"""Property-based fuzzing of user-supplied tables and configuration values.

The contract (README, "Reliability"): bad input ends in a ``JaxnasError``
(a ``ValueError`` subclass) whose message names what was wrong and where it
came from; no ``IndexError``/``KeyError``/``TypeError``/``AssertionError``
escapes. Parsers of architecture strings are fuzzed in ``test_spaces.py`` and
``test_nb101.py``; this file covers whole files (CSV rows, NB101 JSON lines)
and the configuration dataclasses every entry point builds from flags.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile

import numpy as np
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from jaxnas import errors
from jaxnas import models
from jaxnas import pretrain
from jaxnas import spaces
from jaxnas import train
from jaxnas.data import csv_table
from jaxnas.data import nb101 as nb101_data
from jaxnas.evaluate import weight_sharing_supernet as supernet
from jaxnas.evaluate import zero_cost
from jaxnas.search import surrogate
from jaxnas.spaces import nb101 as nb101_space

NB201 = spaces.NB201Space()
GOOD = "|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"
OTHER = "|nor_conv_1x1~0|+|none~0|none~1|+|nor_conv_1x1~0|skip_connect~1|none~2|"

# Cells that look almost right: real archs, numbers, near-miss numbers, junk.
_CELL = st.one_of(
    st.sampled_from([GOOD, OTHER, GOOD[:-1], GOOD.replace("none", "nonee", 1), "", "nan", "inf",
                     "-inf", "1e309", "91.5", "0", "-3", "1,5", '"', '","', "\x00", "é"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**20, 10**20).map(str),
    st.text(max_size=12),
)
_HEADER = st.lists(st.sampled_from(["index", "arch", "acc", "loss", "", "arch ", "acc"]),
                   min_size=0, max_size=4)


def _tmp_file(text: str | bytes, suffix: str) -> str:
  fd, path = tempfile.mkstemp(suffix=suffix)
  with os.fdopen(fd, "wb") as f:
    f.write(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
  return path


def _assert_named(err: Exception, path: str) -> None:
  assert isinstance(err, ValueError)
  assert path in str(err), f"message does not name the file: {err}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=_HEADER, rows=st.lists(st.lists(_CELL, min_size=0, max_size=5), max_size=6),
       labels=st.sampled_from([(), ("acc",)]), on_invalid=st.sampled_from(["raise", "drop"]),
       raw_tail=st.sampled_from(["", "\n", "\r\n", "\n\n", "x"]))
def test_csv_rows_fail_only_with_named_data_errors(header, rows, labels, on_invalid, raw_tail):
  text = ",".join(header) + "\n" + "\n".join(",".join(r) for r in rows) + raw_tail
  path = _tmp_file(text, ".csv")
  try:
    bench = csv_table.load_csv(path, NB201, label_columns=labels, on_invalid=on_invalid)
  except errors.BenchmarkDataError as e:
    _assert_named(e, path)
    return
  finally:
    os.unlink(path)
  # Whatever loaded is a consistent table: valid archs, finite labels.
  assert len(bench.archs) == len(bench.encodings) == len(bench.index)
  assert NB201.is_valid(bench.encodings)[0].all() if len(bench) else True
  for c in labels:
    assert np.isfinite(bench.metric(c)).all()


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=64))
def test_csv_binary_garbage(data):
  path = _tmp_file(data, ".csv")
  try:
    csv_table.load_csv(path, NB201)
  except errors.BenchmarkDataError as e:
    _assert_named(e, path)
  finally:
    os.unlink(path)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=7) | st.dictionaries(
        st.sampled_from(["matrix", "ops", "test_accuracy", "x"]), children, max_size=4),
    max_leaves=50)
_GOOD_RECORD = {"matrix": [[0, 1, 1], [0, 0, 1], [0, 0, 0]],
                "ops": ["input", "conv3x3-bn-relu", "output"], "test_accuracy": 0.9}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.one_of(_JSON.map(json.dumps), st.text(max_size=20),
                                st.just(json.dumps(_GOOD_RECORD))), min_size=1, max_size=5),
       on_invalid=st.sampled_from(["raise", "drop"]))
def test_nb101_jsonl_fails_only_with_named_data_errors(lines, on_invalid):
  path = _tmp_file("\n".join(lines) + "\n", ".jsonl")
  try:
    bench = nb101_data.load_nb101(path=path, on_invalid=on_invalid)
  except errors.BenchmarkDataError as e:
    _assert_named(e, path)
    return
  finally:
    os.unlink(path)
  assert nb101_space.NB101Space().is_valid(bench.encodings)[0].all() if len(bench) else True


# ------------------------------------------------------------------ config values
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.sampled_from(["gin", "gcn", "lambdarank", "pairwise_logistic",
                                          "zero_cost", "pretrain", "1e-3", "-1"]),
    st.lists(st.integers(0, 3), max_size=3).map(tuple))

_CONFIGS = [models.ModelConfig, train.TrainConfig, pretrain.PretrainConfig,
            supernet.SupernetTrainConfig, zero_cost.ZeroCostConfig, surrogate.SurrogateConfig]


@settings(max_examples=300, deadline=None)
@given(cls=st.sampled_from(_CONFIGS), data=st.data())
def test_config_values_fail_only_with_config_errors(cls, data):
  fields = [f for f in dataclasses.fields(cls) if f.init]
  field = data.draw(st.sampled_from(fields))
  value = data.draw(_VALUES)
  try:
    cfg = cls(**{field.name: value})
  except errors.JaxnasError as e:
    assert field.name in str(e) or repr(value) in str(e) or str(value) in str(e), (
        f"{cls.__name__}.{field.name}={value!r}: message does not name it: {e}")
    return
  # Accepted: the value must be a sensible one of the field's kind.
  got = getattr(cfg, field.name)
  if isinstance(got, float):
    assert math.isfinite(got), f"{cls.__name__}.{field.name} accepted {value!r}"
