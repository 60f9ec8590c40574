"""The multi-fidelity AceNAS ranker's labels and rounds (no training: see test_table_free)."""

import jax
import numpy as np
import pytest

from jaxnas.evaluate import group_training as gt
from jaxnas.evaluate import successive_halving as sh
from jaxnas.search import multi_fidelity as mf
from jaxnas.search import surrogate as surrogate_lib
from jaxnas.spaces import registry


@pytest.fixture(scope="module")
def searcher_parts():
  space = registry.get_space("complete_dag:4")
  pool = surrogate_lib.pool_for(space, key=jax.random.key(0), max_size=60)
  sur = surrogate_lib.RankerSurrogate(space, pool, mf.MultiFidelityAceNAS.default_surrogate_config())
  return space, pool, sur


def test_low_fidelity_labels_are_mapped_onto_the_full_budget_scale(searcher_parts):
  space, pool, sur = searcher_parts
  s = mf.MultiFidelityAceNAS(space, seed=0, surrogate=sur, weak_labels=None)
  low = np.asarray([0.10, 0.30, 0.20, 0.25, 0.15])
  s.tell_low_fidelity(pool[:5], low)
  s.tell(pool[:2], 2 * low[:2] + 0.1)
  rows, labels = s.labelled()
  # Two continued candidates: too few for a line, every label is the 1-epoch accuracy.
  np.testing.assert_array_equal(rows, np.arange(5))
  np.testing.assert_allclose(labels, low)
  s.tell(pool[2:4], 2 * low[2:4] + 0.1)
  rows, labels = s.labelled()
  # Four pairs on the line full = 0.1 + 2 low: the stopped one is placed on it.
  np.testing.assert_allclose(labels, 2 * low + 0.1)
  # Only full-budget accuracies are search scores.
  assert s.num_told == 4 and s.best()[1] == pytest.approx(0.7)


def test_calibration_refuses_flat_or_inverted_lines():
  assert mf.calibration([0.1, 0.1, 0.1], [0.2, 0.3, 0.4]) is None
  assert mf.calibration([0.1, 0.2, 0.3], [0.4, 0.3, 0.2]) is None
  a, b = mf.calibration([0.1, 0.2, 0.3, 0.4], [0.35, 0.45, 0.55, 0.65])
  assert (a, b) == (pytest.approx(0.25), pytest.approx(1.0))


@pytest.mark.parametrize("budget,epochs,round_size,eta", [
    (72, 3, 8, 3), (8, 2, 3, 3), (10, 1, 4, 3), (13, 4, 5, 2), (5, 3, 8, 3)])
def test_round_sizes_fill_the_candidate_epochs_greedily(budget, epochs, round_size, eta):
  cost = lambda n: n + -(-n // eta) * (epochs - 1)
  assert [sh.HalvingConfig.two_rung_cost(n, epochs, eta) for n in range(1, 10)] == [
      cost(n) for n in range(1, 10)]
  sizes = mf.round_sizes(budget, epochs, round_size, eta)
  assert sum(cost(n) for n in sizes) <= budget
  assert all(1 <= n <= round_size for n in sizes)
  # Full rounds first; the one after the last would not fit at any size.
  assert all(n == round_size for n in sizes[:-1])
  assert cost(1) > budget - sum(cost(n) for n in sizes)


def test_short_group_trainers_round_up_to_a_power_of_two_that_halves_the_group():
  trainer_for = gt.short_group_trainers(lambda n: n, 8)
  assert [trainer_for(n) for n in range(1, 8)] == [1, 2, 4, 4, 8, 8, 8]
  trainer_for = gt.short_group_trainers(lambda n: n, 6)
  assert [trainer_for(n) for n in range(1, 6)] == [1, 2, 6, 6, 6]  # 4 would not halve 6
  trainer_for = gt.short_group_trainers(lambda n: n, 3)
  assert [trainer_for(n) for n in range(1, 3)] == [1, 3]
