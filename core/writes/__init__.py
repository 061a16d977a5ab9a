"""The write side: every change a user makes to their money, and what must happen with it.

`transactions` (create, list, update, delete), `uploads` (statement import), `statements/` (the
bank-file parsers: CSV variants and OFX/QFX), `ledger` (the dirty marker, the data version bump
and the enqueue after commit), `accounts` (the named accounts rows are filed under),
`idempotency` (the `Idempotency-Key` contract of the creating requests) and `users`. May import
`core.base`, `core.queue`, `core.summary` (the ledger refreshes the summary's rollup cells in the
write's own transaction) and `core.writes.statements`. It never imports the drain or the operator
surface.
"""
