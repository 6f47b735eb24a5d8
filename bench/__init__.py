"""Benchmarks that print figures (`make bench`); never part of `make test`."""
