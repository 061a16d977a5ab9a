"""The reliability scenarios, one module each (`kill`, `faults`, `flush`, `poison`, `concurrent`,
`pg_restart`; `common` holds what they share): each sets up, drives and verifies, and returns a
`ScenarioResult`. May import `tooling.chaos`, `tooling.upstash_local` and the product.
"""
