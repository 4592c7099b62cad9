"""Benchmarks of the platform and the synthetic data they run on (not part of the installed
package; run from the repository root, e.g. `python -m benchmarks.bench`, `python -m
benchmarks.synth`)."""
