"""Image sets for random-weight evaluation: CIFAR-10 in three on-disk forms.

* :func:`load_cifar10_npz` — the project's shared subset
  (``<images_dir>/cifar10/{train,test}.npz``, keys ``x`` uint8 ``[N, 32, 32, 3]``
  and ``y`` int64 ``[N]``), found through :func:`jaxnas.data.paths.images_dir`
  (``--images_dir`` or ``$JAXNAS_IMAGES_DIR``). Read without pickle.
* :func:`load_cifar10_binary` — the standard *binary* distribution
  (``cifar-10-batches-bin/data_batch_{1..5}.bin``, ``test_batch.bin``): fixed
  3,073-byte records, one label byte then 3,072 channel-planar pixel bytes.
  Plain bytes, so no pickle is needed.
* :func:`load_cifar10_python` — the standard *python* distribution
  (``cifar-10-batches-py``). Its batches are Python pickles, and unpickling a
  file can execute arbitrary code, so this loader refuses unless the caller
  passes ``allow_pickle=True`` for a folder they trust.

:func:`normalize` applies the standard CIFAR-10 channel means/stds.
:func:`synthetic_images` makes small random arrays for tests when no image
folder exists; experiments never substitute it for real data silently.

CIFAR-10: Krizhevsky (2009), "Learning Multiple Layers of Features from Tiny
Images".
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import errors
from jaxnas.data import paths

__all__ = ["CIFAR10_CLASSES", "CIFAR10_MEAN", "CIFAR10_STD", "ImageSet", "downsample",
           "load_cifar10_binary", "load_cifar10_npz", "load_cifar10_python", "load_npz",
           "load_train_test", "normalize", "random_crop_flip", "split_holdout", "synthetic_images"]

# Standard CIFAR-10 training-set channel statistics (RGB, pixel values / 255).
CIFAR10_MEAN = np.asarray([0.4914, 0.4822, 0.4465], np.float32)
CIFAR10_STD = np.asarray([0.2470, 0.2435, 0.2616], np.float32)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")

_SPLITS = ("train", "test")
_RECORD_BYTES = 1 + 32 * 32 * 3
_BIN_FILES = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
_PY_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


@dataclasses.dataclass(frozen=True)
class ImageSet:
  """Images with integer labels.

  Attributes:
    x: uint8 ``[N, H, W, 3]`` (NHWC, RGB) or float32 once normalised.
    y: int32 ``[N]`` class ids.
    source: where the images came from (a path, or ``"synthetic"``).
  """

  x: np.ndarray
  y: np.ndarray
  source: str = ""

  def __len__(self) -> int:
    return int(self.y.shape[0])

  def take(self, n: int, offset: int = 0) -> "ImageSet":
    """The ``n`` images starting at ``offset`` (raises if there are fewer)."""
    if n < 1 or offset < 0 or offset + n > len(self):
      raise errors.ConfigError(
          f"asked for {n} images at offset {offset}, but {self.source or 'the set'} "
          f"holds {len(self)}")
    return ImageSet(self.x[offset:offset + n], self.y[offset:offset + n], self.source)

  def stratified(self, n: int, seed: int = 0) -> "ImageSet":
    """``n`` images, classes as balanced as possible, chosen by a seeded shuffle.

    Use this rather than :meth:`take` for probe sets: files may be sorted by
    class (the shared ``test.npz`` is), and a small probe set needs every class.
    """
    if n < 1 or n > len(self):
      raise errors.ConfigError(f"asked for {n} images, but {self.source or 'the set'} holds {len(self)}")
    order = self.stratified_rows(n, seed)
    return ImageSet(self.x[order], self.y[order], self.source)

  def stratified_rows(self, n: int, seed: int = 0) -> np.ndarray:
    """Sorted row indices ``[n]`` of :meth:`stratified`."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.nonzero(self.y == c)[0]) for c in np.unique(self.y)]
    # Round-robin over classes: the k-th image of every class before the (k+1)-th.
    rank = np.empty(len(self), np.int64)
    for idx in per_class:
      rank[idx] = np.arange(idx.size)
    tie = rng.permutation(len(self))
    return np.sort(np.lexsort((tie, rank))[:n])


def _check_split(split: str) -> None:
  if split not in _SPLITS:
    raise errors.ConfigError(f"unknown split {split!r}; expected one of {list(_SPLITS)}")


def _read_xy_npz(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
  """Arrays ``x`` and ``y`` of an ``.npz`` (no pickle); any unreadable file is one data error."""
  try:
    with np.load(path, allow_pickle=False) as f:
      if not hasattr(f, "files"):  # a bare .npy array, not an archive
        raise ValueError("not an .npz archive")
      missing = [k for k in ("x", "y") if k not in f]
      if missing:
        raise errors.BenchmarkDataError(f"{path}: missing arrays {missing}; has {list(f.keys())}")
      x, y = f["x"], f["y"]
  except errors.JaxnasError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    # Truncated or garbage files raise zipfile/numpy/OS errors of many kinds;
    # object arrays raise ValueError (pickles are refused).
    raise errors.BenchmarkDataError(
        f"{path}: not a readable .npz of arrays x and y ({type(e).__name__}: "
        f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
  if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):  # members not .npy
    raise errors.BenchmarkDataError(f"{path}: x and y must be .npy arrays inside the .npz")
  return x, y


def load_cifar10_npz(split: str = "train", images_dir: str | os.PathLike | None = None) -> ImageSet:
  """The shared CIFAR-10 subset ``<images_dir>/cifar10/<split>.npz``.

  Args:
    split: ``"train"`` (8,000 images) or ``"test"`` (2,000 images).
    images_dir: folder holding ``cifar10/``; default as in
      :func:`jaxnas.data.paths.images_dir`.

  Raises:
    ConfigError: no image folder or no such file.
    BenchmarkDataError: the file lacks ``x``/``y`` or has the wrong shapes.
  """
  _check_split(split)
  path = paths.images_dir(images_dir) / "cifar10" / f"{split}.npz"
  if not path.is_file():
    raise errors.ConfigError(f"CIFAR-10 file {str(path)!r} not found")
  x, y = _read_xy_npz(path)
  if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3 or y.shape != (x.shape[0],):
    raise errors.BenchmarkDataError(
        f"{path}: expected x uint8 [N, H, W, 3] and y [N], got x {x.dtype} {x.shape}, "
        f"y {y.shape}")
  if not np.issubdtype(y.dtype, np.integer) or (y.size and (y.min() < 0 or y.max() >= 10)):
    bad = y if not np.issubdtype(y.dtype, np.integer) else y[(y < 0) | (y >= 10)]
    raise errors.BenchmarkDataError(
        f"{path}: labels must be CIFAR-10 class ids 0..9, got {y.dtype} values such as "
        f"{bad.ravel()[:3].tolist()}")
  return ImageSet(x, y.astype(np.int32), str(path))


def load_npz(path: str | os.PathLike) -> ImageSet:
  """A user's own image set: an ``.npz`` with ``x`` uint8 ``[N, S, S, C]`` and ``y`` int ``[N]``.

  Any number of classes (labels ``0..K-1``, at least two present) and any
  square size. Read without pickle; every problem is one line naming the file.

  Raises:
    ConfigError: no such file.
    BenchmarkDataError: not an npz, missing ``x``/``y``, wrong dtype or shape,
      non-square images, negative labels or a single class.
  """
  path = pathlib.Path(path).expanduser()
  if not path.is_file():
    raise errors.ConfigError(f"image file {str(path)!r} not found")
  x, y = _read_xy_npz(path)
  if x.dtype != np.uint8 or x.ndim != 4:
    raise errors.BenchmarkDataError(
        f"{path}: x must be uint8 [N, H, W, C] (NHWC), got {x.dtype} {x.shape}")
  if x.shape[1] != x.shape[2]:
    raise errors.BenchmarkDataError(f"{path}: images must be square, got {x.shape[1]}x{x.shape[2]}")
  if y.ndim != 1 or y.shape[0] != x.shape[0] or not np.issubdtype(y.dtype, np.integer):
    raise errors.BenchmarkDataError(
        f"{path}: y must be integer [N] with N = {x.shape[0]} (one label per image), got "
        f"{y.dtype} {y.shape}")
  if y.size and y.min() < 0:
    raise errors.BenchmarkDataError(f"{path}: labels must be >= 0, found {int(y.min())}")
  if np.unique(y).size < 2:
    raise errors.BenchmarkDataError(f"{path}: needs at least two classes, found {np.unique(y).size}")
  return ImageSet(x, y.astype(np.int32), str(path))


def split_holdout(images: ImageSet, fraction: float, seed: int = 0) -> tuple[ImageSet, ImageSet]:
  """``(train, held_out)``: a class-balanced ``fraction`` of ``images`` held out by a seeded draw."""
  n = int(round(fraction * len(images)))
  if not 0 < n < len(images):
    raise errors.ConfigError(
        f"holding out {fraction} of {len(images)} images leaves an empty split")
  order = images.stratified_rows(n, seed)
  rest = np.setdiff1d(np.arange(len(images)), order)
  return (ImageSet(images.x[rest], images.y[rest], images.source),
          ImageSet(images.x[order], images.y[order], images.source))


def load_train_test(images: str = "", images_dir: str | os.PathLike | None = None, *,
                    holdout_fraction: float = 0.2, seed: int = 0
                    ) -> tuple[ImageSet, ImageSet, str]:
  """``(train, test, origin)``: a user ``.npz`` split by a seeded class-balanced draw,
  or CIFAR-10's ``train.npz`` / ``test.npz`` of ``images_dir``.

  Args:
    images: path of a user ``.npz`` (see :func:`load_npz`); "" = CIFAR-10.
    images_dir: folder of ``cifar10/{train,test}.npz`` (None: the default).
    holdout_fraction: share of a user ``.npz`` held out as ``test``.
    seed: the hold-out draw's seed.
  """
  if images:
    train, test = split_holdout(load_npz(images), holdout_fraction, seed)
    return train, test, (f"{images} ({1 - holdout_fraction:.0%} train / "
                         f"{holdout_fraction:.0%} held out, split seed {seed})")
  train, test = load_cifar10_npz("train", images_dir), load_cifar10_npz("test", images_dir)
  return train, test, f"CIFAR-10 train.npz / test.npz ({train.source})"


def _decode_binary(data: bytes, path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
  if len(data) % _RECORD_BYTES:
    raise errors.BenchmarkDataError(
        f"{path}: {len(data)} bytes is not a whole number of {_RECORD_BYTES}-byte "
        "CIFAR-10 records")
  rec = np.frombuffer(data, np.uint8).reshape(-1, _RECORD_BYTES)
  y = rec[:, 0].astype(np.int32)
  if np.any(y > 9):
    raise errors.BenchmarkDataError(f"{path}: label {int(y.max())} is not a CIFAR-10 class (0..9)")
  # Records store the R plane, then G, then B, each 32x32 row-major.
  x = rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  return np.ascontiguousarray(x), y


def load_cifar10_binary(folder: str | os.PathLike, split: str = "train") -> ImageSet:
  """The standard binary CIFAR-10 (``cifar-10-batches-bin``), without pickle.

  Args:
    folder: the ``cifar-10-batches-bin`` folder.
    split: ``"train"`` (``data_batch_1..5.bin``) or ``"test"`` (``test_batch.bin``).
      Missing train batches are skipped as long as one is present, so a partial
      copy (e.g. only ``data_batch_1.bin``) still loads.
  """
  _check_split(split)
  folder = pathlib.Path(folder).expanduser()
  files = [folder / f for f in _BIN_FILES[split] if (folder / f).is_file()]
  if not files:
    raise errors.ConfigError(
        f"no CIFAR-10 binary batches {_BIN_FILES[split]} in {str(folder)!r}")
  xs, ys = zip(*(_decode_binary(f.read_bytes(), f) for f in files))
  return ImageSet(np.concatenate(xs), np.concatenate(ys), str(folder))


def load_cifar10_python(folder: str | os.PathLike, split: str = "train", *,
                        allow_pickle: bool = False) -> ImageSet:
  """The standard python CIFAR-10 (``cifar-10-batches-py``).

  Its batches are pickles; unpickling runs whatever code the file names, so a
  tampered download could execute code. Prefer the npz subset or the binary
  distribution; pass ``allow_pickle=True`` only for a folder you trust.

  Args:
    folder: the ``cifar-10-batches-py`` folder.
    split: ``"train"`` or ``"test"``.
    allow_pickle: explicit opt-in to unpickling (required).
  """
  _check_split(split)
  folder = pathlib.Path(folder).expanduser()
  if not allow_pickle:
    raise errors.ConfigError(
        f"{str(folder)!r} is the pickled python CIFAR-10 distribution; unpickling can run "
        "arbitrary code, so pass allow_pickle=True for a trusted folder, or use the binary "
        "distribution (cifar-10-batches-bin) with load_cifar10_binary")
  import pickle  # pylint: disable=import-outside-toplevel  # Only behind the opt-in.
  files = [folder / f for f in _PY_FILES[split] if (folder / f).is_file()]
  if not files:
    raise errors.ConfigError(f"no CIFAR-10 python batches {_PY_FILES[split]} in {str(folder)!r}")
  xs, ys = [], []
  for f in files:
    with open(f, "rb") as fh:
      batch = pickle.load(fh, encoding="bytes")
    try:
      data = np.asarray(batch[b"data"], np.uint8)
      labels = np.asarray(batch[b"labels"], np.int32)
    except (KeyError, TypeError):
      raise errors.BenchmarkDataError(f"{f}: not a CIFAR-10 batch (no b'data'/b'labels')") from None
    xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    ys.append(labels)
  return ImageSet(np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys), str(folder))


def normalize(x: np.ndarray) -> np.ndarray:
  """uint8 ``[N, H, W, 3]`` -> float32 standardised with CIFAR-10 channel stats."""
  x = np.asarray(x)
  if x.shape[-1] != 3:
    raise errors.ConfigError(f"expected RGB images [..., 3], got shape {x.shape}")
  return ((x.astype(np.float32) / 255.0 - CIFAR10_MEAN) / CIFAR10_STD).astype(np.float32)


def downsample(images: ImageSet, size: int) -> ImageSet:
  """Average-pools square images to ``size x size`` (``size`` must divide H)."""
  n, h, w, c = images.x.shape
  if size < 1 or h % size or w % size:
    raise errors.ConfigError(f"image size {size} does not divide the {h}x{w} images")
  if size == h and size == w:
    return images
  x = images.x.astype(np.float32).reshape(n, size, h // size, size, w // size, c).mean(axis=(2, 4))
  return ImageSet(np.round(x).astype(np.uint8), images.y, images.source)


def random_crop_flip(key: jax.Array, x: jax.Array) -> jax.Array:
  """CIFAR augmentation in JAX: random horizontal flip, then a random crop after zero padding
  ``max(1, H // 8)`` (4 pixels at 32x32), per image of ``[N, H, W, C]``."""
  n, h, w, _ = x.shape
  pad = max(1, h // 8)
  k1, k2, k3 = jax.random.split(key, 3)
  flip = jax.random.bernoulli(k1, 0.5, (n,))
  x = jnp.where(flip[:, None, None, None], x[:, :, ::-1], x)
  xp = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  dy = jax.random.randint(k2, (n,), 0, 2 * pad + 1)
  dx = jax.random.randint(k3, (n,), 0, 2 * pad + 1)
  crop = lambda im, a, b: jax.lax.dynamic_slice(im, (a, b, 0), (h, w, im.shape[-1]))
  return jax.vmap(crop)(xp, dy, dx)


def synthetic_images(key: jax.Array, n: int, *, size: int = 32,
                     num_classes: int = 10) -> ImageSet:
  """Generated images for tests (NOT real data): class-dependent colour blobs.

  Each class has its own mean colour and a spatial frequency, plus noise, so
  that a linear probe on random features does better than chance, which is all
  the tests need.
  """
  k1, k2, k3 = jax.random.split(key, 3)
  y = np.asarray(jax.random.randint(k1, (n,), 0, num_classes), np.int32)
  colours = np.asarray(jax.random.uniform(k2, (num_classes, 3), minval=40, maxval=215))
  grid = np.arange(size, dtype=np.float32)
  freq = (1 + np.arange(num_classes)) * np.pi / size
  wave = np.sin(freq[y][:, None, None] * (grid[None, :, None] + grid[None, None, :]))
  noise = np.asarray(jax.random.normal(k3, (n, size, size, 3)))
  x = colours[y][:, None, None, :] + 30 * wave[..., None] + 25 * noise
  return ImageSet(np.clip(x, 0, 255).astype(np.uint8), y, "synthetic")
