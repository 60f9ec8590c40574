"""Two CPU processes on localhost run the multi-host scoring path for real.

Each process initialises ``jax.distributed`` (CPU collectives: gloo), scores
only its own block of candidates with ``distributed.sharded_score(...,
process_local=True)`` over a mesh spanning both processes (two devices each),
and must get back every process's scores, equal to a single-process score of
all candidates. See BUILD.md, "Multi-host scoring", for the launch.
"""

import os
import socket
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKER = textwrap.dedent("""
    import sys
    import jax
    import numpy as np
    from jaxnas import distributed, graphs, models, spaces, train
    pid = int(sys.argv[1])
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    distributed.initialize_multihost()  # the launch of BUILD.md: settings from $JAX_*
    assert jax.process_count() == 2 and jax.device_count() == 4, jax.devices()
    space = spaces.NB201Space()
    enc = space.enumerate()[::50][:300]  # 150 per process: not a multiple of 2 x chunk
    tmpl = graphs.template_for(space)
    cfg = models.ModelConfig(hidden=8, num_layers=1, head_hidden=8)
    gd, _ = models.create_model(cfg, tmpl.vocab_size, jax.random.key(0), template=tmpl)
    params = models.init_params(cfg, tmpl.vocab_size, jax.random.split(jax.random.key(0), 2),
                                template=tmpl)
    block = enc[pid * 150:(pid + 1) * 150]
    gathered = distributed.sharded_score(gd, params, tmpl, graphs.encode(space, block),
                                         chunk=32, process_local=True)
    # Reference: this process alone scores every candidate on one device.
    single = train.score_arrays(gd, params, tmpl, graphs.encode(space, enc), chunk=64)
    assert gathered.shape == single.shape == (2, 300), (gathered.shape, single.shape)
    print("MAXDIFF", float(np.abs(gathered - single).max()), flush=True)
    jax.distributed.shutdown()
""")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_two_processes_score_their_blocks_and_gather_the_single_process_scores():
  port = _free_port()
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu",
             XLA_FLAGS="--xla_force_host_platform_device_count=2",
             JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2")
  procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(pid)], cwd=ROOT,
                            env=dict(env, JAX_PROCESS_ID=str(pid)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
           for pid in (0, 1)]
  outs = []
  try:
    for p in procs:
      out, err = p.communicate(timeout=240)
      outs.append((p.returncode, out, err))
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  for rc, out, err in outs:
    assert rc == 0, err[-3000:]
    diff = float(out.split("MAXDIFF")[1])
    assert diff <= 1e-5, diff
