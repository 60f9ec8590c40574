"""Ranking losses: closed forms, rax as oracle, masking, vmap, NaN-free gradients."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rax  # the oracle; in the `test` extra, so a missing rax fails rather than skips

from jaxnas import errors
from jaxnas import losses

RNG = np.random.default_rng(0)
SCORES = jnp.asarray(RNG.normal(size=(3, 7)), jnp.float32)
LABELS = jnp.asarray(RNG.integers(0, 4, size=(3, 7)), jnp.float32)  # with ties
WHERE = jnp.asarray(RNG.random((3, 7)) > 0.2)


def test_pairwise_logistic_closed_form():
  s = jnp.array([2.0, 0.0, 1.0])
  y = jnp.array([3.0, 1.0, 2.0])
  # Pairs (0>1), (0>2), (2>1): softplus(-(2-0)), softplus(-(2-1)), softplus(-(1-0)).
  want = (jax.nn.softplus(-2.0) + 2 * jax.nn.softplus(-1.0)) / 3
  np.testing.assert_allclose(losses.pairwise_logistic_loss(s, y), want, rtol=1e-6)


@pytest.mark.parametrize("ours,theirs", [
    (losses.pairwise_logistic_loss, rax.pairwise_logistic_loss),
    (losses.pairwise_hinge_loss, rax.pairwise_hinge_loss),
])
def test_pairwise_losses_match_rax(ours, theirs):
  for where in (None, WHERE):
    got = ours(SCORES, LABELS, where=where)
    want = theirs(SCORES, LABELS, where=where)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_pairwise_weights_match_rax():
  w = jnp.asarray(RNG.random((3, 7)), jnp.float32)
  np.testing.assert_allclose(losses.pairwise_logistic_loss(SCORES, LABELS, weights=w),
                             rax.pairwise_logistic_loss(SCORES, LABELS, weights=w), rtol=1e-5)


def test_lambdarank_matches_rax_dcg_lambdaweight():
  rel = losses.rank_relevance(LABELS, where=WHERE)
  want = rax.pairwise_logistic_loss(
      SCORES, rel, where=WHERE,
      lambdaweight_fn=functools.partial(rax.dcg_lambdaweight, normalize=True))
  got = losses.lambdarank_loss(SCORES, LABELS, where=WHERE)
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_rank_relevance_is_scale_free_and_bounded():
  y = jnp.array([90.0, 10.0, 50.0, 50.0])
  rel = losses.rank_relevance(y, max_relevance=4.0)
  np.testing.assert_allclose(rel, [4.0, 0.0, 4.0 / 3, 4.0 / 3])
  np.testing.assert_allclose(losses.rank_relevance(y / 100.0), rel)


def test_softmax_loss_closed_form():
  s = jnp.array([1.0, 0.0])
  y = jnp.array([1.0, -1.0])  # z-scores are +-1
  target = jax.nn.softmax(jnp.array([1.0, -1.0]))
  want = -jnp.sum(target * jax.nn.log_softmax(s))
  np.testing.assert_allclose(losses.softmax_loss(s, y), want, rtol=1e-6)


def test_tier_cross_entropy_and_quantile_tiers():
  y = jnp.arange(10.0)
  tiers = losses.quantile_tiers(y, 5)
  np.testing.assert_array_equal(tiers, [4, 4, 3, 3, 2, 2, 1, 1, 0, 0])  # 5 equal bins
  logits = jnp.zeros((10, 5))
  np.testing.assert_allclose(losses.tier_cross_entropy(logits, tiers), np.log(5.0), rtol=1e-6)


def test_mse():
  np.testing.assert_allclose(losses.mse_loss(jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0])), 2.5)


ALL = [losses.pairwise_logistic_loss, losses.pairwise_hinge_loss, losses.lambdarank_loss,
       losses.softmax_loss, losses.mse_loss]


@pytest.mark.parametrize("loss", ALL)
def test_no_nan_gradients_when_everything_masked_or_tied(loss):
  s = jnp.asarray(RNG.normal(size=(2, 5)), jnp.float32)
  for y, where in ((jnp.ones((2, 5)), None), (jnp.arange(10.0).reshape(2, 5), jnp.zeros((2, 5), bool))):
    value, grad = jax.value_and_grad(lambda x: loss(x, y, where=where))(s)
    assert np.isfinite(value)
    assert np.all(np.isfinite(grad))
  # All masked: exactly zero loss and gradient.
  value, grad = jax.value_and_grad(lambda x: loss(x, jnp.arange(10.0).reshape(2, 5),
                                                  where=jnp.zeros((2, 5), bool)))(s)
  assert value == 0.0 and np.all(grad == 0.0)


@pytest.mark.parametrize("loss", ALL)
def test_vmap_and_leading_dims(loss):
  # vmap over lists equals calling list by list; a batch of equal-size lists
  # with no masking gives the mean of the per-list losses for pairwise losses.
  per_list = jax.vmap(lambda s, y: loss(s, y))(SCORES, LABELS)
  for i in range(3):
    np.testing.assert_allclose(per_list[i], loss(SCORES[i], LABELS[i]), rtol=1e-5)
  extra = loss(SCORES[None], LABELS[None])
  np.testing.assert_allclose(extra, loss(SCORES, LABELS), rtol=1e-5)
  jitted = jax.jit(lambda s, y: loss(s, y, where=WHERE))
  np.testing.assert_allclose(jitted(SCORES, LABELS), loss(SCORES, LABELS, where=WHERE), rtol=1e-5)


def test_ranking_losses_decrease_when_order_improves():
  y = jnp.arange(6.0)
  good, bad = y * 2.0, -y * 2.0
  for loss in ALL[:4]:
    assert loss(good, y) < loss(bad, y)


def test_get_loss_unknown_name():
  with pytest.raises(errors.ConfigError, match="unknown loss 'nope'"):
    losses.get_loss("nope")
