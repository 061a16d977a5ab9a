"""Tests of `scripts/`: the command-line entry points as a user runs them."""
