"""Tests of the chain choice grammar (jaxnas.spaces.layer_spec)."""

import pytest

from jaxnas import errors
from jaxnas.spaces import layer_spec
from jaxnas.spaces.layer_spec import LayerSpec


@pytest.mark.parametrize("name, expected", [
    ("identity", LayerSpec("identity")),
    ("Skip", LayerSpec("identity")),
    ("skip_connect", LayerSpec("identity")),
    ("ID", LayerSpec("identity")),
    ("mb6_k5", LayerSpec("mbconv", kernel=5, expansion=6)),
    ("MB3_K3", LayerSpec("mbconv", kernel=3, expansion=3)),
    ("mb1_k7", LayerSpec("mbconv", kernel=7, expansion=1)),
    ("conv3x3", LayerSpec("conv", kernel=3)),
    ("conv_k5", LayerSpec("conv", kernel=5)),
    ("conv1", LayerSpec("conv", kernel=1)),
    ("64", LayerSpec("width", kernel=3, width=64)),
    ("128", LayerSpec("width", kernel=3, width=128)),
    ("conv3x5", LayerSpec("other")),  # not square: no single kernel size
    ("nor_conv_3x3", LayerSpec("other")),  # NB201's op name is not this grammar's
    ("avg_pool_3x3", LayerSpec("other")),
    ("mb6k5", LayerSpec("other")),
    ("identityx", LayerSpec("other")),
    ("-64", LayerSpec("other")),
    ("6.5", LayerSpec("other")),
])
def test_parse_choice(name, expected):
  assert layer_spec.parse_choice(name) == expected
  assert layer_spec.parse_choice(name).kind in layer_spec.KINDS


@pytest.mark.parametrize("name", ["mb0_k3", "mb3_k0", "conv0", "conv_k0", "0"])
def test_zero_sizes_are_refused(name):
  with pytest.raises(errors.ConfigError, match=repr(name)):
    layer_spec.parse_choice(name)
