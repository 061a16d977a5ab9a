"""The reliability scenarios: each sets up, drives and verifies, and returns a ScenarioResult."""
