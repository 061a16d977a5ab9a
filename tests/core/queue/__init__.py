"""Tests of `core/queue/`: the transitions, Lua scripts, retry policy and read-only views."""
