"""Tests of `tooling/`: the benchmark and the local Upstash; `chaos/` runs the reliability
scenarios.
"""
