"""The tests, laid out like the code: `tests/<folder>/...` covers `<folder>/...`
(`tests/core/writes/statements/` covers `core/writes/statements/`); `support.py` and the
conftests hold the per-test database and key prefix. May import the product and `tooling`.
"""
