"""Reference baselines in other frameworks (benchmarks only; never imported by jaxnas)."""
