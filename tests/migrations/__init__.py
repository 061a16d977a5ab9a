"""Tests of `migrations/`: upgrades, downgrades and an interrupted first start."""
