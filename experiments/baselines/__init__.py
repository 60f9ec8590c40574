"""Reference baselines for benchmarks only (optional `bench` extra; never imported by jaxnas/)."""
