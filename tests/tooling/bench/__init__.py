"""Tests of `tooling/bench/`: the benchmark at tiny sizes, its Upstash meter, its memory hook."""
