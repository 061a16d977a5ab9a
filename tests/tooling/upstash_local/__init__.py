"""Tests of `tooling/upstash_local/`: the local Upstash under the official SDK, and its snapshot."""
