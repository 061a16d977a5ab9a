"""Framework-free product logic, one package per part of the data flow: `base` (settings,
database, tables, money, auth), `writes` (every change a user makes, with the bank-file parsers in
`writes/statements`), `summary` (the figures and what a user reads), `queue` (Upstash keys, Lua,
retry policy), `drain` (the deadline-aware loop), `notify` (in-app notifications and channels) and
`operator` (health, queue figures, the drain CLI). No FastAPI, no test or benchmark harness; each
package's docstring says what it may import, and tests/test_layout.py holds them to it. This
package itself holds no code and may import nothing.
"""
