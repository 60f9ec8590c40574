"""Streaming top-k sweeps: exact top-k over several chunks, resume, exhaustive coverage."""

import jax
import numpy as np
import pytest

from jaxnas import errors
from jaxnas import graphs
from jaxnas import models
from jaxnas import spaces
from jaxnas import streaming
from jaxnas import train

SPACE = spaces.NB201Space()
TMPL = graphs.template_for(SPACE)
CFG = models.ModelConfig(hidden=8, num_layers=2, head_hidden=8)
GRAPHDEF, _ = models.create_model(CFG, TMPL.vocab_size, jax.random.key(0), template=TMPL)
PARAMS = models.init_params(CFG, TMPL.vocab_size, jax.random.split(jax.random.key(1), 2),
                            template=TMPL)
CHUNK = 4096  # 15,625 cells -> 4 chunks, the last one partial


def _brute_force():
  enc = SPACE.enumerate()
  raw = train.score_arrays(GRAPHDEF, PARAMS, TMPL, graphs.encode(SPACE, enc), chunk=512)
  return enc, raw.mean(axis=0)


def test_exhaustive_chunks_cover_the_space_once():
  seen = np.concatenate([e for _, e in streaming.exhaustive_chunks(SPACE, CHUNK)])
  np.testing.assert_array_equal(seen, SPACE.enumerate())


def test_top_k_equals_brute_force_and_resume_matches(tmp_path):
  enc, mean = _brute_force()
  top = streaming.stream_top_k(SPACE, GRAPHDEF, PARAMS, streaming.exhaustive_chunks(SPACE, CHUNK),
                               chunk_size=CHUNK, top_k=20, sub_chunk=512)
  assert top.num_scored == 15625 and top.next_chunk == 4
  order = np.argsort(-mean, kind="stable")[:20]
  np.testing.assert_allclose(top.scores, mean[order], rtol=1e-5, atol=1e-5)
  assert {SPACE.format(e) for e in top.encodings[:10]} == {SPACE.format(e) for e in enc[order[:10]]}
  # Kill after two chunks (state saved every chunk), then resume from the file.
  path = str(tmp_path / "state.npz")
  first_two = (c for c in streaming.exhaustive_chunks(SPACE, CHUNK) if c[0] < 2)
  streaming.stream_top_k(SPACE, GRAPHDEF, PARAMS, first_two, chunk_size=CHUNK, top_k=20,
                         state_path=path, save_every=1, sub_chunk=512)
  state = streaming.load_top_k(path)
  assert state.next_chunk == 2 and state.num_scored == 2 * CHUNK
  resumed = streaming.stream_top_k(
      SPACE, GRAPHDEF, PARAMS, streaming.exhaustive_chunks(SPACE, CHUNK, start_chunk=2),
      chunk_size=CHUNK, top_k=20, resume=state, sub_chunk=512)
  np.testing.assert_array_equal(resumed.encodings, top.encodings)
  np.testing.assert_allclose(resumed.scores, top.scores, rtol=1e-6)


def test_sampled_chunks_are_seeded_and_sized():
  a = list(streaming.sampled_chunks(SPACE, 1000, 2500, seed=3))
  b = list(streaming.sampled_chunks(SPACE, 1000, 2500, seed=3))
  assert [c for c, _ in a] == [0, 1, 2] and [e.shape[0] for _, e in a] == [1000, 1000, 500]
  for (_, x), (_, y) in zip(a, b):
    np.testing.assert_array_equal(x, y)
  resumed = list(streaming.sampled_chunks(SPACE, 1000, 2500, seed=3, start_chunk=2))
  np.testing.assert_array_equal(resumed[0][1], a[2][1])


def test_corrupt_state_is_a_clear_error(tmp_path):
  path = tmp_path / "state.npz"
  path.write_bytes(b"not an npz")
  with pytest.raises(errors.CheckpointError, match="cannot read streaming state"):
    streaming.load_top_k(str(path))


def test_state_of_another_scoring_run_is_refused(tmp_path):
  """Issue 19 case 6: a state was continued with another ranker, chunking or k."""
  path = str(tmp_path / "state.npz")
  first_two = (c for c in streaming.exhaustive_chunks(SPACE, CHUNK) if c[0] < 2)
  streaming.stream_top_k(SPACE, GRAPHDEF, PARAMS, first_two, chunk_size=CHUNK, top_k=5,
                         state_path=path, save_every=1, sub_chunk=512, fingerprint="run-a")
  assert streaming.load_top_k(path, fingerprint="run-a").next_chunk == 2
  with pytest.raises(errors.CheckpointError, match="another scoring run"):
    streaming.load_top_k(path, fingerprint="run-b")
  # A state with more slots than the new k cannot be continued (it used to crash).
  state = streaming.load_top_k(path)
  with pytest.raises(errors.ConfigError, match="top_k=3"):
    streaming.stream_top_k(SPACE, GRAPHDEF, PARAMS, iter(()), chunk_size=CHUNK, top_k=3,
                           resume=state)
