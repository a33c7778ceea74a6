"""Test corpora builders shared by integration tests and benchmarks."""
