"""XLA:CPU compile options for the small convolutions of random-weight networks.

XLA:CPU (jaxlib 0.10) hands convolutions to YNNPACK by default. For the
convolutions of narrow cell networks (8-32 channels, 8x8 to 32x32 maps, a few
hundred images per call) its Eigen path is faster on the 2-core development
CPU: a 3x3 32->32 convolution over ``[256, 8, 8, 32]`` takes 0.86 ms with
Eigen and 1.29 ms with YNNPACK, and the random-weight probe's jitted step runs
8-12% faster with convolutions left to Eigen (README, "Throughput
benchmark"). YNNPACK's dot and reduce fusions stay on: with them off as well
the step was 25% slower (BN's moments are reductions).

The options are passed per jitted function (``jax.jit(...,
compiler_options=...)``), so they touch nothing else in the user's process.
"""

from __future__ import annotations

import functools

from absl import logging
import jax
import jax.numpy as jnp

__all__ = ["EIGEN_CONV_OPTIONS", "eigen_conv_options"]

# The YNNPACK fusions XLA:CPU's default compile of the step uses (dots and
# reductions), without convolutions.
EIGEN_CONV_OPTIONS = {
    "xla_cpu_experimental_ynn_fusion_type":
        "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE",
}


@functools.cache
def eigen_conv_options() -> dict[str, str] | None:
  """``compiler_options`` that keep convolutions on XLA:CPU's Eigen path.

  Returns:
    The options on a CPU backend whose XLA accepts them; ``None`` on GPU/TPU
    (nothing to change) or when this jaxlib does not know the option (its
    defaults are kept; logged once).
  """
  if jax.default_backend() != "cpu":
    return None
  try:
    jax.jit(lambda x: x + 1, compiler_options=EIGEN_CONV_OPTIONS).lower(
        jnp.zeros((1,), jnp.float32)).compile()
  except (jax.errors.JaxRuntimeError, ValueError, TypeError) as e:
    logging.info("XLA:CPU does not take %s (%s); keeping its default convolution library",
                 EIGEN_CONV_OPTIONS, e)
    return None
  return dict(EIGEN_CONV_OPTIONS)
