"""Loaders fail with one named error on bad files (issue 19, case 9)."""

from __future__ import annotations

import io
import re
import json
import zipfile

import numpy as np
import pytest

from jaxnas import errors
from jaxnas import protocol
from jaxnas import spaces
from jaxnas.data import csv_table
from jaxnas.data import images
from jaxnas.data import nb101

NB201 = spaces.NB201Space()
ARCHS = NB201.format_many(NB201.enumerate()[::500])  # 32 cells


def _npz_bytes(**arrays) -> bytes:
  buf = io.BytesIO()
  np.savez(buf, **arrays)
  return buf.getvalue()


def _images_dir(tmp_path, data: bytes):
  (tmp_path / "cifar10").mkdir()
  (tmp_path / "cifar10" / "train.npz").write_bytes(data)
  return tmp_path


GOOD_X = np.zeros((4, 32, 32, 3), np.uint8)


@pytest.mark.parametrize("case", ["truncated", "garbage", "object_array", "npy", "bad_zip_member"])
def test_unreadable_image_files_are_named_data_errors(tmp_path, case):
  good = _npz_bytes(x=GOOD_X, y=np.arange(4))
  data = {
      "truncated": good[:len(good) // 2],
      "garbage": b"\x00garbage" * 100,
      "object_array": _npz_bytes(x=np.array([object()] * 4, dtype=object), y=np.arange(4)),
      "npy": (lambda b: (np.save(b, GOOD_X), b.getvalue())[1])(io.BytesIO()),
  }.get(case)
  if case == "bad_zip_member":
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
      z.writestr("x.npy", b"not an npy header")
      z.writestr("y.npy", b"nope")
    data = buf.getvalue()
  folder = _images_dir(tmp_path, data)
  with pytest.raises(errors.BenchmarkDataError, match="train.npz"):
    images.load_cifar10_npz("train", folder)


@pytest.mark.parametrize("labels", [np.array([0, 1, 10, 2]), np.array([0, -1, 2, 3]),
                                    np.array([0.0, 1.5, 2.0, 3.0])])
def test_image_labels_outside_the_classes_are_refused(tmp_path, labels):
  folder = _images_dir(tmp_path, _npz_bytes(x=GOOD_X, y=labels))
  with pytest.raises(errors.BenchmarkDataError, match="0..9"):
    images.load_cifar10_npz("train", folder)


def test_nb101_metric_beyond_float_range_is_a_named_error(tmp_path):
  matrix = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
  rows = [{"matrix": matrix, "ops": ["input", "conv3x3-bn-relu", "output"],
           "val_accuracy": 0.9, "params": 10**400}]
  path = tmp_path / "t.jsonl"
  path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
  with pytest.raises(errors.BenchmarkDataError, match=r"row 1: column 'params' holds <\d+-bit"):
    nb101.load_nb101(path=path)


def _csv(tmp_path, rows, header="index,arch,acc"):
  path = tmp_path / "t.csv"
  path.write_text(header + "\n" + "\n".join(rows) + "\n")
  return path


def test_duplicate_index_values_are_refused(tmp_path):
  path = _csv(tmp_path, [f"{i if i != 5 else 2},{a},{i}" for i, a in enumerate(ARCHS)])
  with pytest.raises(errors.BenchmarkDataError, match=r"line 7: index 2 repeats line 4"):
    csv_table.load_csv(path, NB201)


def test_nan_target_message_names_the_file_line(tmp_path):
  rows = [f"{i},{a},{'nan' if i == 3 else i}" for i, a in enumerate(ARCHS)]
  path = _csv(tmp_path, rows)
  config = protocol.RunConfig(benchmark=str(path), space="nb201", target="acc", train_size=5)
  with pytest.raises(errors.BenchmarkDataError, match=r"row 5: label 'acc' is 'nan'"):
    protocol.load_for_ranking(config)
  dropped = protocol.load_for_ranking(protocol.RunConfig(
      benchmark=str(path), space="nb201", target="acc", train_size=5, on_invalid="drop"))
  assert len(dropped.bench) == len(ARCHS) - 1


def test_a_huge_bad_value_is_quoted_once_and_short(tmp_path):
  huge = "x" * 100_000  # Python's csv module refuses fields over 128 KiB itself
  rows = [f"{i},{a},{huge if i == 2 else i}" for i, a in enumerate(ARCHS)]
  with pytest.raises(errors.BenchmarkDataError) as info:
    csv_table.load_csv(_csv(tmp_path, rows), NB201)
  assert len(str(info.value)) < 1000 and "100002 chars" in str(info.value)
  # The same in an NB101 JSON-lines table, where a value can be megabytes.
  matrix = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
  path = tmp_path / "t.jsonl"
  path.write_text(json.dumps({"matrix": matrix, "ops": ["input", "conv3x3-bn-relu", "output"],
                              "val_accuracy": 0.9, "params": "y" * 5_600_000}) + "\n")
  with pytest.raises(errors.BenchmarkDataError) as info:
    nb101.load_nb101(path=path)
  assert len(str(info.value)) < 1000 and len(re.findall("y{10,}", str(info.value))) == 1
  rows = [f"{i},{huge if i == 2 else a},{i}" for i, a in enumerate(ARCHS)]
  with pytest.raises(errors.BenchmarkDataError) as info:
    csv_table.load_csv(_csv(tmp_path, rows), NB201)
  assert len(str(info.value)) < 2000


def test_a_split_that_leaves_one_test_arch_is_refused(tmp_path):
  path = _csv(tmp_path, [f"{i},{a},{i}" for i, a in enumerate(ARCHS)])
  config = protocol.RunConfig(benchmark=str(path), space="nb201", target="acc",
                              train_size=len(ARCHS) - 1)
  with pytest.raises(errors.ConfigError, match=f"leaves 1 of {len(ARCHS)} archs to test"):
    protocol.train_and_evaluate(config, str(tmp_path / "w"))
  assert not (tmp_path / "w" / "config.json").exists()
