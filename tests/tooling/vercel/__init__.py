"""Tests of `tooling/vercel/`: the routes the build is expected to serve."""
