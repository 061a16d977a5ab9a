"""Tests of `core/operator/`: the drain CLI (the operator page is tested through `tests/api/`)."""
