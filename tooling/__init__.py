"""Tooling that is not product and never ships in a function: the benchmark (`bench/`,
`make bench`), the reliability scenarios (`chaos/`, `make chaos`) and the local Upstash-compatible
REST server (`upstash_local/`, for `make dev` and the tests), and the real Vercel build with the
function it builds (`vercel/`, `make vercel-build`), with the `make dev` stack (`devserver`,
`devstate`) and the scripts' venv guard (`venv`). May import the product (`api`, `core`,
`functions`) and other tooling, never `tests`; nothing in `api/`, `core/` or `functions/` imports
it (tests/test_layout.py checks).
"""
