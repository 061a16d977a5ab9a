"""The reliability scenarios of `tooling/chaos/`, run as tests (`make chaos` runs them bigger)."""
