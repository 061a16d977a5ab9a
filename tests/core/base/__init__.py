"""Tests of `core/base/`: settings, database engine and pool."""
