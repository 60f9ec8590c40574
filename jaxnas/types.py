"""Named types of the public API (like ``jraph``'s ``ArrayTree``), for annotations.

They are aliases, so any value of the underlying type is accepted; the names say
what an argument holds and its shape.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import jax
import numpy as np
from flax import nnx

from jaxnas.spaces.base import Encoding
from jaxnas.spaces.base import Encodings

__all__ = [
    "Array", "ArrayLike", "Encoding", "Encodings", "Labels", "Mask", "PRNGKey", "Params",
    "RankerGraphDef", "RankerParams", "Scores",
]

Array: TypeAlias = jax.Array
ArrayLike: TypeAlias = jax.typing.ArrayLike
PRNGKey: TypeAlias = jax.Array  # a typed key from jax.random.key
Scores: TypeAlias = jax.Array | np.ndarray  # float [..., n], higher = predicted better
Labels: TypeAlias = jax.Array | np.ndarray  # float [..., n], true quality (higher = better)
Mask: TypeAlias = jax.Array | np.ndarray  # bool [..., n], True where an entry counts
# The parameters of M ranker members, every leaf stacked on axis 0 (``nnx.State``
# from ``jaxnas.models.init_params``; M = 1 for a single ranker).
RankerParams: TypeAlias = nnx.State
RankerGraphDef: TypeAlias = nnx.GraphDef  # the static half of a ranker (``nnx.split``)
# Any other parameter pytree (nested dicts of float32 arrays), e.g. a supernet's.
Params: TypeAlias = dict[str, Any]
