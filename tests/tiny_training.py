"""The tiny training setting shared by the table-free search and NSGA-II tests.

One budget and one set of image shapes for both: their candidate groups then
compile to the same programs, which the session's compilation cache
(``conftest``) shares between the two test files instead of compiling twice.
"""

import jax

from jaxnas.data import images as images_lib
from jaxnas.evaluate import group_training as gt

TRAIN = gt.TrainingConfig(epochs=1, channels=4, image_size=8, num_stages=2, batch_size=16,
                          eval_batch=64, group_size=3, learning_rate=0.05)
VAL_IMAGES = 32


def images() -> tuple[images_lib.ImageSet, images_lib.ImageSet]:
  """``(train, test)``: 96 and 40 synthetic 8x8 images."""
  train = images_lib.synthetic_images(jax.random.key(0), 96, size=8)
  test = images_lib.synthetic_images(jax.random.key(1), 40, size=8)
  return train, test
