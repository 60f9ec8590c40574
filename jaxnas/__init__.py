"""jaxnas: a JAX engine that ranks neural architectures at high throughput.

Data flows one way: space -> encoding -> graphs -> model -> scores -> search.
The curated public API is re-exported here; submodules hold the details:

* :mod:`jaxnas.spaces` — search spaces behind one Space protocol;
* :mod:`jaxnas.data` — benchmark tables (NB201, NB101, NAS-Bench-Graph, CSV);
* :mod:`jaxnas.graphs` — architectures -> padded ``jraph.GraphsTuple``;
* :mod:`jaxnas.models` — Flax GNN encoders with score and tier heads;
* :mod:`jaxnas.losses`, :mod:`jaxnas.metrics` — ranking losses and metrics;
* :mod:`jaxnas.train` — vmapped multi-member training;
* :mod:`jaxnas.protocol` — the predictor-evaluation protocol;
* :mod:`jaxnas.evaluate` — random-weight and weight-sharing evaluators;
* :mod:`jaxnas.search` — search strategies (ask/tell);
* :mod:`jaxnas.types` — named types of the API.

Every name is imported on first use (PEP 562), so ``import jaxnas`` is cheap
and does not load orbax, the evaluators or the searchers until they are used;
``jaxnas.X`` and ``from jaxnas import X`` work as with eager imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jaxnas import lazy_exports

__version__ = "0.1.0"

# Public name -> (module, attribute); attribute None: the module itself.
_EXPORTS = {
    "Benchmark": ("jaxnas.data.benchmark", "Benchmark"),
    "InvalidArchitectureError": ("jaxnas.errors", "InvalidArchitectureError"),
    "JaxnasError": ("jaxnas.errors", "JaxnasError"),
    "JaxnasPredictor": ("jaxnas.naslib_adapter", "JaxnasPredictor"),
    "ModelConfig": ("jaxnas.models", "ModelConfig"),
    "PretrainConfig": ("jaxnas.pretrain", "PretrainConfig"),
    "QueryOracle": ("jaxnas.data.benchmark", "QueryOracle"),
    "RankerTrainer": ("jaxnas.train", "RankerTrainer"),
    "RunConfig": ("jaxnas.protocol", "RunConfig"),
    "Space": ("jaxnas.spaces", "Space"),
    "TrainConfig": ("jaxnas.train", "TrainConfig"),
    "errors": ("jaxnas.errors", None),
    "evaluate": ("jaxnas.evaluate", None),
    "get_space": ("jaxnas.spaces", "get_space"),
    "graphs": ("jaxnas.graphs", None),
    "load_benchmark": ("jaxnas.data.registry", "load_benchmark"),
    "losses": ("jaxnas.losses", None),
    "metrics": ("jaxnas.metrics", None),
    "models": ("jaxnas.models", None),
    "search": ("jaxnas.search", None),
    "spaces": ("jaxnas.spaces", None),
    "stream_top_k": ("jaxnas.streaming", "stream_top_k"),
    "sweep": ("jaxnas.protocol", "sweep"),
    "train_and_evaluate": ("jaxnas.protocol", "train_and_evaluate"),
    "types": ("jaxnas.types", None),
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports.attach(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # what static analysers and IDEs see: the same names, eagerly
  from jaxnas import errors
  from jaxnas import evaluate
  from jaxnas import graphs
  from jaxnas import losses
  from jaxnas import metrics
  from jaxnas import models
  from jaxnas import search
  from jaxnas import spaces
  from jaxnas import types
  from jaxnas.data.benchmark import Benchmark
  from jaxnas.data.benchmark import QueryOracle
  from jaxnas.data.registry import load_benchmark
  from jaxnas.errors import InvalidArchitectureError
  from jaxnas.errors import JaxnasError
  from jaxnas.models import ModelConfig
  from jaxnas.naslib_adapter import JaxnasPredictor
  from jaxnas.pretrain import PretrainConfig
  from jaxnas.protocol import RunConfig
  from jaxnas.protocol import sweep
  from jaxnas.protocol import train_and_evaluate
  from jaxnas.spaces import Space
  from jaxnas.spaces import get_space
  from jaxnas.streaming import stream_top_k
  from jaxnas.train import RankerTrainer
  from jaxnas.train import TrainConfig
