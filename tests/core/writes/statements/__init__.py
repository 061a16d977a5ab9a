"""Tests of `core/writes/statements/`: the bank-file parsers, against a corpus of real-shaped
files.
"""
