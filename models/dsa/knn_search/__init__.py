"""Nearest-neighbour search: brute force, a ball tree and out-of-core search, custom metrics."""
