"""Tests of `tooling/upstash_local/`: the server under the real SDK, its fidelity, its snapshot."""
