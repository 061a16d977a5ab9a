"""Tests of `core/summary/`: the figures and merchant names."""
