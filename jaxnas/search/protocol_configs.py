"""The configs of the search protocols, importable without JAX.

An entry point's flag defaults come from these dataclasses, so its ``--help``
loads no JAX; the protocols themselves live in :mod:`jaxnas.search.comparison`
(:class:`CompareConfig`), :mod:`jaxnas.search.table_free`
(:class:`TableFreeConfig`) and :mod:`jaxnas.search.multi_objective`
(:class:`NSGAConfig`), which re-export them.
"""

from __future__ import annotations

import dataclasses
import json

from jaxnas import config_checks
from jaxnas import errors
from jaxnas.evaluate import rwe_config
from jaxnas.evaluate import training_config
from jaxnas.evaluate import weak_label_signals

__all__ = ["COMPARE_EVALUATORS", "CompareConfig", "NSGAConfig", "NSGA_EVALUATORS",
           "TABLE_FREE_DEFAULT_STRATEGIES", "TABLE_FREE_STRATEGIES", "TableFreeConfig"]

# Evaluators of the single-objective comparison (benchmark lookups or the probe).
COMPARE_EVALUATORS = ("benchmark", "rwe")
# Strategies of the table-free search (trained candidates).
TABLE_FREE_STRATEGIES = ("acenas", "renas", "rea", "random", "halving", "acenas_halving")
# The default comparison (``halving`` and ``acenas_halving`` are multi-fidelity: run them
# beside it on request).
TABLE_FREE_DEFAULT_STRATEGIES = ("acenas", "renas", "rea", "random")
# Quality objectives of the multi-objective search.
NSGA_EVALUATORS = ("rwe", "train")


@dataclasses.dataclass(frozen=True)
class CompareConfig:
  """What :func:`compare` runs.

  Attributes:
    benchmark: a benchmark name or CSV path, or ``"none"`` (no ground truth;
      needs ``space`` and ``evaluator="rwe"``).
    target: benchmark column to maximise (None: the benchmark's default).
    space: space spec (a CSV benchmark's arch column, or the space searched
      with ``benchmark="none"``).
    evaluator: ``"benchmark"`` (lookups, counted queries) or ``"rwe"`` (the
      random-weight probe of ``rwe``).
    strategies: strategy names, run in this order.
    budget: distinct evaluations per search.
    seeds: seeds ``first_seed .. first_seed + seeds - 1`` for every strategy.
    first_seed: the first seed.
    stop_at_optimum: stop a seed once it holds the global optimum.
    round_size: queries per round of the ranker (and XGBoost) strategies.
    ensemble_size: ranker ensemble members (0: the strategy's default).
    num_steps: ranker training steps per round (0: the strategy's default).
    pool_size: candidate pool of ranker strategies on large spaces.
    data_dir: benchmark data folder (None: the default).
    images_dir: CIFAR-10 folder of the probe and weak labels (None: the default).
    rwe: the probe's settings (``evaluator="rwe"``).
  """

  benchmark: str = "nb201"
  target: str | None = None
  space: str | None = None
  evaluator: str = "benchmark"
  strategies: tuple[str, ...] = ("renas", "rea", "random")
  budget: int = 100
  seeds: int = 10
  first_seed: int = 0
  stop_at_optimum: bool = True
  round_size: int = 10
  ensemble_size: int = 0
  num_steps: int = 0
  pool_size: int = 20000
  data_dir: str | None = None
  images_dir: str | None = None
  rwe: rwe_config.RWEConfig = rwe_config.PRESETS["search"]

  def __post_init__(self):
    config_checks.check_field_types(self)
    for key in ("budget", "seeds", "round_size", "pool_size"):
      config_checks.check_int(f"--{key}", getattr(self, key))
    for key in ("ensemble_size", "num_steps"):  # 0: the strategy's default
      config_checks.check_int(f"--{key}", getattr(self, key), low=0)
    config_checks.check_seed("--first_seed", self.first_seed)
    config_checks.check_seed("--first_seed + --seeds", self.first_seed + self.seeds - 1)
    if self.evaluator not in COMPARE_EVALUATORS:
      raise errors.ConfigError(f"--evaluator={self.evaluator!r}; expected one of "
                               f"{list(COMPARE_EVALUATORS)}")
    if not self.strategies:
      raise errors.ConfigError("--strategy names no strategy")
    if self.benchmark == "none":
      if not self.space:
        raise errors.ConfigError("--benchmark=none needs --space (e.g. complete_dag:5)")
      if self.evaluator == "benchmark":
        raise errors.ConfigError("--evaluator=benchmark needs a --benchmark")
      if self.target is not None:
        raise errors.ConfigError("--target names a benchmark column; --benchmark=none has none")

  def to_json(self) -> dict:
    d = dataclasses.asdict(self)
    d["strategies"] = list(self.strategies)
    d["rwe"] = self.rwe.to_json()
    return d


@dataclasses.dataclass(frozen=True)
class TableFreeConfig:
  """A table-free search comparison and the retraining of its winners.

  Attributes:
    space: a cell-space spec (``complete_dag:5``, ``nb201``).
    strategies: strategies compared (from :data:`TABLE_FREE_STRATEGIES`);
      ``halving`` is successive halving over random candidates on the search
      budget's epochs, with as many candidate-epochs as ``budget`` candidates
      trained in full; ``acenas_halving`` the same rungs over candidates an
      AceNAS ranker picks in rounds, learning from both fidelities
      (:mod:`jaxnas.search.multi_fidelity`).
    budget: trained candidates per search (the same for every strategy).
    seeds: search seeds ``first_seed .. first_seed + seeds - 1``.
    first_seed: first search seed.
    round_size: queries per round of the ranker strategies (and per batch of
      random search); candidates of a batch train as one group.
    pool_size: candidate pool of the ranker strategies (weak-labelled once).
    ensemble_size: ranker ensemble members (0: the strategy's default).
    num_steps: ranker training steps per round (0: the strategy's default).
    weak_signals: weak-label signal groups (:data:`jaxnas.evaluate.weak_label_signals.GROUP_COLUMNS`).
    search_training: the search's per-candidate budget (its ``seed`` is the
      weight seed; ``eval_images`` is ignored: ``val_images`` are used).
    val_images: training images held out to score search candidates.
    final_training: the retraining budget (its ``seed`` is replaced by each
      final seed).
    final_top_k: architectures retrained per (strategy, search seed).
    final_seeds: retraining seeds ``0 .. final_seeds - 1``.
    images: a user ``.npz`` (``x`` uint8 NHWC, ``y`` int); "" = CIFAR-10.
    images_dir: folder of ``cifar10/{train,test}.npz`` ("" = the default).
    test_fraction: share of a user ``.npz`` held out as the final test set.
  """

  space: str = "complete_dag:5"
  strategies: tuple[str, ...] = TABLE_FREE_DEFAULT_STRATEGIES
  budget: int = 48
  seeds: int = 3
  first_seed: int = 0
  round_size: int = 8
  pool_size: int = 2000
  ensemble_size: int = 0
  num_steps: int = 0
  weak_signals: tuple[str, ...] = weak_label_signals.ZERO_COST_SIGNALS
  search_training: training_config.TrainingConfig = training_config.TrainingConfig(epochs=1, channels=8, image_size=16,
                                                         train_fraction=0.5, group_size=8)
  val_images: int = 1000
  final_training: training_config.TrainingConfig = training_config.TrainingConfig(epochs=5, channels=16, image_size=32,
                                                        group_size=8)
  final_top_k: int = 3
  final_seeds: int = 2
  images: str = ""
  images_dir: str = ""
  test_fraction: float = 0.2

  def __post_init__(self):
    for name in ("budget", "seeds", "round_size", "pool_size", "val_images", "final_top_k",
                 "final_seeds"):
      v = getattr(self, name)
      if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise errors.ConfigError(f"--{name} must be an int >= 1, got {v!r}")
    for name in ("first_seed", "ensemble_size", "num_steps"):
      v = getattr(self, name)
      if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise errors.ConfigError(f"--{name} must be an int >= 0, got {v!r}")
    if not self.strategies or len(set(self.strategies)) != len(self.strategies):
      raise errors.ConfigError(f"--strategy needs distinct names, got {list(self.strategies)}")
    unknown = [s for s in self.strategies if s not in TABLE_FREE_STRATEGIES]
    if unknown:
      raise errors.ConfigError(f"--evaluator=train runs the strategies {list(TABLE_FREE_STRATEGIES)}; "
                               f"got {unknown}")
    if not 0 < self.test_fraction < 1:
      raise errors.ConfigError(f"--test_fraction must be in (0, 1), got {self.test_fraction!r}")
    weak_label_signals.check_signals(self.weak_signals)

  @property
  def seed_list(self) -> list[int]:
    return list(range(self.first_seed, self.first_seed + self.seeds))

  def to_json(self) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(self)))


@dataclasses.dataclass(frozen=True)
class NSGAConfig:
  """One multi-objective search.

  Attributes:
    space: a cell-space spec (``nb201``, ``complete_dag:5``).
    evaluator: the quality objective, ``rwe`` or ``train`` (:data:`NSGA_EVALUATORS`).
    cost: ``params``, ``flops`` or ``latency_<device>`` (a benchmark column).
    generations: generations (generation 0 is random).
    population: population size.
    max_evaluations: distinct architectures evaluated (probed or trained), at most.
    seed: the search's seed.
    target: benchmark column of true accuracy (NB201 comparison).
    probe: the random-weight probe (``evaluator="rwe"``).
    training: each candidate's training budget (``evaluator="train"``; its
      ``eval_images`` is ignored: ``val_images`` are used).
    val_images: training images held out to score trained candidates.
    final_training: the front's retraining budget (its ``seed`` replaced by
      each final seed).
    final_archs: front members retrained, spread evenly along the cost axis.
    final_seeds: retraining seeds ``0 .. final_seeds - 1``.
    images: a user ``.npz`` (``x`` uint8 NHWC, ``y`` int); "" = CIFAR-10.
    images_dir: folder of ``cifar10/{train,test}.npz`` ("" = the default).
    data_dir: benchmark data folder ("" = the default).
    test_fraction: share of a user ``.npz`` held out as the final test set.
  """

  space: str = "nb201"
  evaluator: str = "rwe"
  cost: str = "params"
  generations: int = 20
  population: int = 50
  max_evaluations: int = 1000
  seed: int = 0
  target: str = "cifar10_test"
  probe: rwe_config.RWEConfig = rwe_config.RWEConfig(naswot_images=0)  # NASWOT unused here
  training: training_config.TrainingConfig = TableFreeConfig().search_training
  val_images: int = 1000
  final_training: training_config.TrainingConfig = TableFreeConfig().final_training
  final_archs: int = 5
  final_seeds: int = TableFreeConfig().final_seeds
  images: str = ""
  images_dir: str = ""
  data_dir: str = ""
  test_fraction: float = 0.2

  def __post_init__(self):
    if self.evaluator not in NSGA_EVALUATORS:
      raise errors.ConfigError(f"--evaluator={self.evaluator!r}: expected one of {list(NSGA_EVALUATORS)}")
    for name in ("generations", "population", "max_evaluations", "val_images", "final_archs",
                 "final_seeds"):
      config_checks.check_int(f"--{name}", getattr(self, name))
    config_checks.check_seed("--seed", self.seed)
    if not 0 < self.test_fraction < 1:
      raise errors.ConfigError(f"--test_fraction must be in (0, 1), got {self.test_fraction!r}")

  def to_json(self) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(self)))

  def fingerprinted(self) -> dict:
    """The settings that decide the results (paths and the other evaluator's settings left out)."""
    d = {k: v for k, v in self.to_json().items()
         if k not in ("images", "images_dir", "data_dir")}
    unused = (("training", "val_images", "final_training", "final_archs", "final_seeds",
               "test_fraction") if self.evaluator == "rwe" else ("probe",))
    return {k: v for k, v in d.items() if k not in unused}
