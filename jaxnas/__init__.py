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
* :mod:`jaxnas.search` — search strategies (ask/tell).
"""

from jaxnas import errors
from jaxnas import evaluate
from jaxnas import graphs
from jaxnas import losses
from jaxnas import metrics
from jaxnas import models
from jaxnas import search
from jaxnas import spaces
from jaxnas.data.benchmark import Benchmark
from jaxnas.data.benchmark import QueryOracle
from jaxnas.data.registry import load_benchmark
from jaxnas.errors import InvalidArchitectureError
from jaxnas.errors import JaxnasError
from jaxnas.models import ModelConfig
from jaxnas.naslib_adapter import JaxnasPredictor
from jaxnas.protocol import RunConfig
from jaxnas.protocol import sweep
from jaxnas.protocol import train_and_evaluate
from jaxnas.pretrain import PretrainConfig
from jaxnas.spaces import Space
from jaxnas.spaces import get_space
from jaxnas.streaming import stream_top_k
from jaxnas.train import RankerTrainer
from jaxnas.train import TrainConfig

__version__ = "0.1.0"

__all__ = [
    "Benchmark", "InvalidArchitectureError", "JaxnasError", "JaxnasPredictor", "ModelConfig",
    "PretrainConfig", "QueryOracle", "RankerTrainer", "RunConfig", "Space", "TrainConfig",
    "errors", "evaluate", "get_space", "graphs", "load_benchmark", "losses", "metrics", "models",
    "search", "spaces", "stream_top_k", "sweep", "train_and_evaluate",
]
