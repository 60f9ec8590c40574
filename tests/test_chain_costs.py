"""Chain params/FLOPs against real PyTorch modules built from the layer specs.

The reference builds each layer as the chain module docstring describes it
(bias-free convs, BatchNorm after each, padding k // 2), counts parameters with
``numel`` and multiply-adds with forward hooks on a real input tensor.
"""

import numpy as np
import pytest

from jaxnas import errors
from jaxnas import spaces

torch = pytest.importorskip("torch")
nn = torch.nn


def _conv(c_in, c_out, k, stride=1, groups=1):
  return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False),
                       nn.BatchNorm2d(c_out))


def _layer(spec, c_in, c_out, stride):
  if spec.kind in ("conv", "width"):
    return _conv(c_in, c_out, spec.kernel, stride)
  if spec.kind == "mbconv":
    h = spec.expansion * c_in
    parts = [] if spec.expansion == 1 else [_conv(c_in, h, 1)]
    parts += [_conv(h, h, spec.kernel, stride, groups=h), _conv(h, c_out, 1)]
    return nn.Sequential(*parts)
  assert spec.kind == "identity"
  return nn.Identity() if stride == 1 and c_in == c_out else _conv(c_in, c_out, 1, stride)


def _reference(space, enc):
  layers, c = [], space.in_channels
  for p, k in enumerate(enc):
    spec = space.layer_specs[p][k]
    c_out = spec.width or space.base_widths[p] or c
    layers.append(_layer(spec, c, c_out, space.strides[p]))
    c = c_out
  net = nn.Sequential(*layers)
  macs = []

  def hook(mod, inp, out):
    macs.append(mod.weight[0].numel() * out.numel())  # (k*k*c_in/groups) per output value

  for m in net.modules():
    if isinstance(m, nn.Conv2d):
      m.register_forward_hook(hook)
  with torch.no_grad():
    net(torch.zeros(1, space.in_channels, space.resolution, space.resolution))
  return sum(p.numel() for p in net.parameters()), sum(macs)


@pytest.mark.parametrize("spec", [
    "chain:6:identity,mb3_k3,mb6_k5@strides=1,2,1,1,2,1@widths=16,24,-,32,64,-@resolution=17",
    "chain:5:16,32,64,128@strides=1,2,1,2,1@channels=3",
    "chain:identity,conv3x3,mb1_k5/skip,32,conv_k1/mb6_k7,id,48@strides=2,1,2@widths=-,-,40",
])
def test_params_and_flops_match_pytorch(spec):
  space = spaces.get_space(spec)
  rng = np.random.default_rng(0)
  enc = rng.integers(0, space.cardinalities, size=(12, space.num_positions))
  params, flops = space.params(enc), space.flops(enc)
  for i, e in enumerate(enc):
    ref_params, ref_flops = _reference(space, e)
    assert params[i] == ref_params, space.format(e)
    assert flops[i] == ref_flops, space.format(e)


def test_no_cost_for_unknown_choices():
  space = spaces.get_space("chain:3:mb3_k3,foo")
  assert not space.cost_known
  with pytest.raises(errors.ConfigError, match="'foo'"):
    space.params(np.zeros((1, 3), np.int32))
