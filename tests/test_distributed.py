"""Sharded scoring on 8 simulated CPU devices equals single-device scoring.

Runs in a subprocess because the device count is fixed when JAX starts.
"""

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent("""
    import jax, numpy as np
    from jaxnas import distributed, graphs, models, spaces, train
    assert jax.device_count() == 8, jax.devices()
    space = spaces.NB201Space()
    enc = space.enumerate()[::7]  # 2,233 cells: not a multiple of 8 x chunk
    arrays = graphs.encode(space, enc)
    tmpl = graphs.template_for(space)
    cfg = models.ModelConfig(hidden=16, num_layers=2, head_hidden=16)
    gd, _ = models.create_model(cfg, tmpl.vocab_size, jax.random.key(0), template=tmpl)
    params = models.init_params(cfg, tmpl.vocab_size, jax.random.split(jax.random.key(0), 3),
                                template=tmpl)
    single = train.score_arrays(gd, params, tmpl, arrays, chunk=256)
    mesh = distributed.make_mesh()
    sharded = distributed.sharded_score(gd, params, tmpl, arrays, mesh, chunk=64)
    assert sharded.shape == single.shape == (3, len(enc)), (sharded.shape, single.shape)
    print("MAXDIFF", float(np.abs(sharded - single).max()))
""")


def test_sharded_scores_equal_single_device():
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu",
             XLA_FLAGS="--xla_force_host_platform_device_count=8")
  out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]
  diff = float(out.stdout.split("MAXDIFF")[1])
  assert diff <= 1e-6, diff
