"""Synthetic B2B environments in the data contract's format (`python -m benchmarks.synth`).

See `generate.generate` for the entry point and `plant.py` for the planted seed-segment cases.
"""

from .generate import DEFAULT_AS_OF, generate, parse_as_of

__all__ = ["DEFAULT_AS_OF", "generate", "parse_as_of"]
