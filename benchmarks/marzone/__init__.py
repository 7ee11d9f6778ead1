"""Marxan with Zones as a peer: the generator, the peer build and run, the comparison and the linearization measurement (``python -m benchmarks.marzone --help``)."""
