"""Tests of `core/writes/`: the bank-file parsers in `statements/`; the rest of the write side is
tested through `tests/api/`.
"""
