"""Tests of `core/drain/`: the drain runner and the idle tick."""
