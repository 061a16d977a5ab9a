"""Tests of `api/`: the HTTP surface through the FastAPI app, with real Postgres and Redis."""
